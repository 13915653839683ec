"""The `lstm-tui` command: the dashboard by default, `train` headless, `watch`, `runs` and
`export` for run directories, `bench` for figures, `sweep` for many runs (tui/cli/sweep.py).

Every run (dashboard or `train`) writes a run directory, runs/<UTC time>-<preset or task>/ by
default (engine/rundir/directory.py), and `--resume DIR` continues one from its checkpoint.

Only torch-free engine modules are imported up front, so the dashboard's first frame does not
wait for PyTorch to load (a resume does wait: it checks the checkpoint before anything starts).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, NoReturn

from engine.allocator import keep_freed_memory
from engine.config import (
    MODEL_KINDS,
    NONE_WORDS,
    PRESETS,
    TASKS,
    ConfigError,
    RunConfig,
    data_changed,
    format_size,
    parse_field,
    parse_number,
    parse_whole,
)
from engine.rundir.directory import RUNS_ROOT, CheckpointCadence, RunDirectory
from engine.rundir.files import RunDirError
from tui.cli.ending import hand_over, installed, open_standard_fds, say_error, stdout_problem, write_stdout
from tui.dashboard.run import NoTerminal
from tui.dashboard.tuning import pause_collections, resume_collections

COMMANDS = ("train", "watch", "runs", "export", "bench", "sweep")
BENCH_PARTS = ("costs",)  # what `bench --only` may pick (tui/bench/run.py)
# What these print is a courtesy: their output is a run directory (a failed write to stdout
# changes nothing of it, nor their exit status). The others' output is what they print.
RUN_DIR_OUTPUT = (None, "train", "export")
DEFAULTS = RunConfig()
CADENCE = CheckpointCadence()


class CliError(Exception):
    """A bad invocation: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the message already names the option.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def print_help(self, file: Any = None) -> None:
        # argparse would swallow a failed write: the help is this invocation's output, and a
        # stdout that cannot take it is said and costs the exit status (see main).
        if file is None:
            write_stdout(self.format_help())
        else:
            super().print_help(file)


def _counted(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``, for counts with no RunConfig field to check them."""

    def parse(text: str) -> int:
        value = _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed {low:,}..{high:,})")
        return value

    return parse


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def _argument(parse: Callable[[str], Any], text: str) -> Any:
    """``parse(text)``, its ConfigError as argparse's error (which names the flag itself)."""
    try:
        return parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


def _whole(text: str) -> int:
    return _argument(parse_whole, text)


def _number(text: str) -> float:
    return _argument(parse_number, text)


def _field(name: str) -> Callable[[str], Any]:
    """argparse's type for RunConfig field ``name`` (engine.config.parse_field). A None comes
    back as its word (`full`), so config_from_args tells `--batch-size full` from no flag."""

    def parse(text: str) -> Any:
        value = _argument(lambda t: parse_field(name, t), text)
        return NONE_WORDS[name] if value is None and name in NONE_WORDS else value

    return parse


def _within(low: float, high: float) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high``."""

    def parse(text: str) -> float:
        value = _number(text)
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed {low:g}..{high:g})")
        return value

    return parse


_hz = _within(0.5, 60)


def _window(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and 0 < value <= 600):
        raise argparse.ArgumentTypeError(f"{text} is out of range (allowed above 0, up to 600)")
    return value


def _default(name: str) -> str:
    value = getattr(DEFAULTS, name)
    if name == "batch_size" and value is None:
        return "full"
    if name == "forget_bias" and value is None:
        return "default: PyTorch's init"
    if name == "memory_budget":
        return format_size(value)
    return "none" if value is None else str(value)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every run takes; names match RunConfig fields and config.json keys."""
    g = parser.add_argument_group("run options (a preset's values, then these flags)")
    g.add_argument("--preset", choices=list(PRESETS), help="named settings: " + "; ".join(
        f"{name}: " + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in values.items())
        for name, values in PRESETS.items()))
    g.add_argument("--task", choices=TASKS, help=f"seed: the article's random weather; echo: the day "
                   f"LAG steps back returns with probability ECHO_P; csv: a column of --data FILE "
                   f"(default: {_default('task')})")

    def opt(flag: str, meta: str, text: str) -> None:
        name = flag[2:].replace("-", "_")
        g.add_argument(flag, type=_field(name), metavar=meta, help=f"{text} (default: {_default(name)})")

    opt("--series-length", "N", "days in the weather series")
    opt("--look-back", "N", "window length: days each prediction sees; on the echo task, when not "
        "given: LAG + 5")
    opt("--lag", "N", "echo task: how far back the echoed day lies")
    opt("--echo-p", "P", "echo task: probability that the day LAG back returns")
    opt("--hidden", "N", "hidden units of each model")
    opt("--layers", "N", "stacked recurrent layers")
    opt("--models", "LIST", "models to train side by side, in this order on screen: one or more "
        "of lstm, rnn, gru, comma-separated, each once")
    opt("--forget-bias", "X|default", "LSTM forget-gate bias at start; default keeps "
        "PyTorch's random init, as the seed does")
    opt("--epochs", "N", "epochs to train")
    opt("--lr", "X", "Adam learning rate")
    opt("--batch-size", "N|full", "windows per update; full = the whole training split")
    opt("--val-fraction", "F", "share of the series' tail held out for validation")
    opt("--seed", "N", "random seed for data, initial weights and batch order")
    opt("--device", "DEV", "auto, cpu, cuda, cuda:N or mps")
    opt("--memory-budget", "SIZE", "most memory one forward/backward may use; a bigger "
        "full batch is split into chunks with accumulated gradients")
    opt("--probe-every", "K", "look inside the models (gates, gradient flow) after every "
        "K-th epoch, and after the first and last; 0 turns probes off")
    opt("--probe-seconds", "S", "at most one probe per S seconds of wall time; 0 = no limit")
    opt("--probe-steps", "N", "most time steps a probe shows")
    opt("--data", "FILE", "csv task: the CSV file (its first line names the columns); --series-length "
        "N takes its first N rows")
    opt("--column", "NAME", "csv task: the column to predict; its 2 to 64 distinct values are the classes")
    opt("--order-by", "NAME", "csv task: sort the rows by this column's values as text (ISO dates sort "
        "by time); default: the file's order")


def add_run_dir_options(parser: argparse.ArgumentParser) -> None:
    """Where the run is written, and resuming one."""
    g = parser.add_argument_group("run directory")
    g.add_argument("--run-dir", type=_path, metavar="DIR", help="write config.json, events.jsonl and "
                   f"checkpoint.pt here (default: {RUNS_ROOT}/<UTC time>-<preset or task>/)")
    g.add_argument("--resume", type=_path, metavar="DIR", help="continue the run in DIR from its "
                   "checkpoint, with its config.json; only --epochs may change (to extend it)")
    g.add_argument("--checkpoint-every", type=_whole, default=CADENCE.every, metavar="N",
                   help="write checkpoint.pt after every N-th epoch (0: only at pause, stop, finish "
                   f"and quit, when it is always written) (default: {CADENCE.every})")
    g.add_argument("--checkpoint-seconds", type=_number, default=CADENCE.seconds, metavar="S",
                   help="but at most one per S seconds of wall time; 0 = no limit "
                   f"(default: {CADENCE.seconds:g})")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """A preset's values, then every flag given on the command line (engine.sweep.grid's
    config_from_flags: on the echo task a look-back not given is lag + 5)."""
    from engine.sweep.grid import config_from_flags

    values = {f.name: given for f in fields(RunConfig) if (given := getattr(args, f.name, None)) is not None}
    for name, word in NONE_WORDS.items():
        if values.get(name) == word:
            values[name] = None
    return config_from_flags(values)


def check_device(config: RunConfig) -> None:
    """Fail fast on a device that is not there (imports torch, so only when one is named)."""
    if config.device in ("auto", "cpu"):
        return
    from engine.device import resolve_device

    resolve_device(config.device)


def build_parser(command: str | None) -> argparse.ArgumentParser:
    if command is None:
        parser = _Parser(
            prog="lstm-tui",
            usage="lstm-tui [train|watch|runs|export|bench|sweep] [options]",
            description="Watch the seed article's LSTM and vanilla RNN learn side by side. With no "
            "command, opens the live dashboard. Commands: train (headless, Rich progress), "
            "watch (the dashboard on a run directory), runs (compare run directories), "
            "export (metrics.csv and a screen SVG), "
            "bench (speed figures), sweep (many runs over a grid and seeds, as success rates). "
            "`lstm-tui COMMAND --help` for each.",
        )
        add_run_options(parser)
        add_run_dir_options(parser)
        ui = parser.add_argument_group("dashboard options")
        ui.add_argument("--refresh-hz", type=_hz, default=None, metavar="HZ",
                        help="most screen redraws per second (default: 10, or config.toml's)")
        ui.add_argument("--no-config", action="store_true",
                        help="ignore (and do not write) the preferences in " + _prefs_location())
        ui.add_argument("--ascii", action="store_true",
                        help="draw with ASCII only (chosen by itself when the locale is not UTF-8)")
        return parser
    if command == "train":
        parser = _Parser(prog="lstm-tui train", description="Train the run's models (--models) without "
                         "the dashboard: Rich progress on the terminal, a final table, and a run directory with the "
                         "log (flushed every epoch) and checkpoints. Survives a hang-up (SIGHUP); "
                         "Ctrl+C (exit 130) and SIGTERM (exit 143) stop it cleanly.")
        add_run_options(parser)
        add_run_dir_options(parser)
        return parser
    if command == "watch":
        parser = _Parser(prog="lstm-tui watch", description="Open the dashboard on a run directory: a "
                         "finished run is replayed at once, a live one followed as its log grows. space, "
                         "n, s, [ and ] steer a live run through its command file. Quitting leaves the "
                         "run going.")
        parser.add_argument("dir", nargs="?", type=Path, metavar="DIR",
                            help=f"the run directory (default: the most recently active run under {RUNS_ROOT}/)")
        parser.add_argument("--refresh-hz", type=_hz, default=None, metavar="HZ",
                            help="most screen redraws per second (default: 10, or config.toml's)")
        parser.add_argument("--no-config", action="store_true",
                            help="ignore (and do not write) the preferences in " + _prefs_location())
        parser.add_argument("--ascii", action="store_true",
                            help="draw with ASCII only (chosen by itself when the locale is not UTF-8)")
        parser.add_argument("--json", action="store_true",
                            help="no dashboard: print each event as one JSON line, follow a live run "
                            "until it ends, then exit 0 (for scripts: lstm-tui watch DIR --json | jq)")
        return parser
    if command == "runs":
        parser = _Parser(prog="lstm-tui runs", description="List the run directories under DIR in a table "
                         "(state, epochs, final losses, gradient horizons); / filters, s sorts, space marks, "
                         "enter compares the marked runs' loss curves.")
        parser.add_argument("dir", nargs="?", type=Path, default=RUNS_ROOT, metavar="DIR",
                            help=f"where the runs are (default: {RUNS_ROOT}/)")
        parser.add_argument("--list", action="store_true",
                            help="no table: print the runs as tab-separated lines, newest first, and exit")
        return parser
    if command == "sweep":
        from tui.cli.sweep import add_sweep_options

        parser = _Parser(prog="lstm-tui sweep", description="Run many trials, the product of the run flags' "
                         "comma lists (--lag 10,30,50 --forget-bias default,2) and the seeds (--seeds 10), "
                         "each a run directory under SWEEP_DIR/trials/, and report per grid point and model "
                         "the success rate with its 95% Wilson interval (summary.csv, summary.svg, a table). "
                         "Commas separate items: write 10_000 for ten thousand. Ctrl+C stops every trial with "
                         "a checkpoint; the same command, or --sweep-dir DIR alone, goes on from there.")
        add_run_options(parser)
        add_sweep_options(parser)
        return parser
    if command == "export":
        parser = _Parser(prog="lstm-tui export", description="Write metrics.csv (one row per model and "
                         "epoch, as logged), predictions.csv (each epoch's prediction, a probability column "
                         "per class) and screen.svg (the dashboard showing the run) into a run directory.")
        parser.add_argument("dir", type=Path, metavar="DIR", help="the run directory")
        return parser
    from tui.bench.paired import AIM, BUDGET_S, MAX_ROUNDS_FACTOR, PAIRS, ROUNDS, WINDOW_S
    parser = _Parser(prog="lstm-tui bench", description="Time the engine against a bare training loop "
                     "written like the seed's, and the dashboard against the engine, in short windows that take "
                     "turns, and print each ratio with its 95 % interval (on seed-10k and on the echo preset "
                     "unless run options pick a setting); then each model's parameters and training epoch "
                     "against the RNN's (the cost table: --models, or there by default all of "
                     + ",".join(MODEL_KINDS) + "), and a sweep's parallel efficiency.")
    add_run_options(parser)
    parser.add_argument("--pairs", type=_counted(2, 10_000), default=PAIRS, metavar="N",
                        help="triples of windows (bare, engine, dashboard, then the other way about) in each set "
                        f"of fresh processes (default: {PAIRS})")
    parser.add_argument("--process-sets", type=_counted(2, 1_000), default=ROUNDS, metavar="N",
                        help="sets of fresh processes, each set one sample of each ratio's interval, at least; "
                        f"more, up to {MAX_ROUNDS_FACTOR}N, while one is wider than +-{AIM:g} and "
                        f"--budget-seconds allow (default: {ROUNDS})")
    parser.add_argument("--window-seconds", type=_window, default=WINDOW_S, metavar="S",
                        help=f"about how long each window trains, in whole epochs (default: {WINDOW_S:g})")
    parser.add_argument("--budget-seconds", type=_within(10, 86_400), default=BUDGET_S, metavar="S",
                        help="the most each setting's process sets may take, once N are done "
                        f"(default: {BUDGET_S:g})")
    parser.add_argument("--rounds", type=_counted(1, 1_000), default=3, metavar="N",
                        help="rounds of the cost table, its models alternating; the median is reported "
                        "(default: 3)")
    parser.add_argument("--bench-epochs", type=_counted(1, 1_000_000), default=30, metavar="N",
                        help="epochs of each model timed per round of the cost table (default: 30)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", choices=BENCH_PARTS, help="run only this part: costs (each model's "
                        "parameters and one training epoch against the RNN's, the models alternating every "
                        "epoch: --rounds x --bench-epochs timed epochs of each, after warm-up ones)")
    parser.add_argument("--no-scale", dest="scale", action="store_false",
                        help="skip the memory figures at the seed's 500k series, look-back 1,000 "
                        "(about a minute on a 2-core CPU)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false",
                        help="skip the sweep's parallel efficiency (2 x cores short echo trials, about a minute)")
    parser.add_argument("--scale-epochs", type=_counted(0, 1_000), default=0, metavar="N",
                        help="train N whole epochs at that setting instead of its first chunks "
                        "(one takes about 14 minutes on a 2-core CPU) (default: 0)")
    return parser


def resume_from(args: argparse.Namespace) -> tuple[RunConfig, dict[str, Any]]:
    """The config and checkpoint of ``--resume DIR``; only --epochs may come with it."""
    given = [f"--{f.name.replace('_', '-')}" for f in fields(RunConfig)
             if f.name != "epochs" and getattr(args, f.name, None) is not None]
    if args.run_dir is not None:
        given.append("--run-dir")
    if given:
        raise CliError(f"--resume takes the run's settings from {args.resume}/config.json; only --epochs "
                       f"may change (remove {' '.join(given)})")
    # Imports torch: the checkpoint is checked before anything starts.
    return RunDirectory(args.resume).load_resume(epochs=args.epochs)


def main(argv: Sequence[str] | None = None) -> int:
    open_standard_fds()  # first, before anything opens a file (see tui/cli/ending.py)
    keep_freed_memory()  # before any other thread exists (see engine.allocator)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    # From here on a hang-up or SIGTERM ends the process within seconds, with 128 + the signal,
    # whatever it is doing (tui/cli/ending.py); `train` takes its signals over.
    with installed():
        try:
            code = _command(argv, command)
        except SystemExit as exc:  # argparse: after --help (the help is the output) or a bad flag
            raise SystemExit(_output_checked(exc.code, command, printed_help=True)) from None
        finally:
            resume_collections()  # if a dashboard's start paused them and ended before its first frame
        return _output_checked(code, command)


def _output_checked(code: Any, command: str | None, *, printed_help: bool = False) -> Any:
    """``code``, unless writing stdout failed (not for a reader that went away: `| head` has
    what it wanted): then one line on stderr, and exit status 1 instead of 0 where stdout was
    the output."""
    problem = stdout_problem()
    if problem is None:
        return code
    say_error(f"{_prog(command)}: error: cannot write to standard output: {problem}")
    return 1 if code in (0, None) and (printed_help or command not in RUN_DIR_OUTPUT) else code


def _prog(command: str | None) -> str:
    return f"lstm-tui {command}" if command else "lstm-tui"


def _command(argv: list[str], command: str | None) -> int:
    parser = build_parser(command)
    args = parser.parse_args(argv[1:] if command else argv)
    if command is None or (command == "watch" and not args.json):
        pause_collections()  # a dashboard: none until its first frame (tui/dashboard/tuning.py)
    try:
        if command == "watch":
            run_dir = args.dir or newest_run(RUNS_ROOT)
            if args.json:
                return watch_json(run_dir)
            return watch(run_dir, refresh_hz=args.refresh_hz, no_config=args.no_config,
                         ascii_only=_ascii(args))
        if command == "runs":
            from tui.runs.app import runs_command

            return runs_command(args.dir, listing=args.list)  # NoTerminal for a table without one
        if command == "export":
            from tui.cli.export import export_run

            try:
                written = export_run(args.dir)
            except OSError as exc:
                where = f"{exc.filename}: " if exc.filename else ""
                raise CliError(f"cannot export {args.dir}: {where}{exc.strerror or exc}") from None
            _say("\n".join(f"wrote {path}" for path in written))
            return 0
        if command == "sweep":
            from tui.cli.sweep import sweep_command

            return sweep_command(args)
        if command == "bench":
            from tui.bench.run import run_bench

            config = config_from_args(args)
            # The cost table compares the models: all of them unless --models names some.
            cost_models = config.model_names if args.models is not None else MODEL_KINDS
            return run_bench(config, rounds=args.rounds, epochs=args.bench_epochs, as_json=args.json,
                             scale=args.scale, scale_epochs=args.scale_epochs, only=args.only,
                             cost_models=cost_models, pairs=args.pairs, process_sets=args.process_sets, window_s=args.window_seconds,
                             budget_s=args.budget_seconds,
                             sweep=args.sweep)
        cadence = CheckpointCadence(args.checkpoint_every, args.checkpoint_seconds)
        resume = None
        if args.resume is not None:
            config, resume = resume_from(args)
        else:
            config = config_from_args(args)
            if args.run_dir is not None:
                RunDirectory(args.run_dir).check_new()
        check_device(config)
        if command is None:
            from tui.dashboard.run import require_terminal

            require_terminal("the dashboard", "train headless with `lstm-tui train` and follow the run with "
                             "`lstm-tui watch --json DIR`")
        # Every check has passed: only now is a directory created.
        run_dir = args.resume or args.run_dir or RunDirectory.new(RUNS_ROOT, config).path
        if command == "train":
            from tui.cli.train import run_headless

            hand_over()  # a headless run survives a hang-up: its own handlers, from here
            return run_headless(config, run_dir=run_dir, resume=resume, cadence=cadence)
        from tui.dashboard.run import run_dashboard

        code = run_dashboard(config, refresh_hz=args.refresh_hz, run_dir=run_dir, resume=resume, cadence=cadence,
                             no_config=args.no_config, ascii_only=_ascii(args))
        _say(f"run directory: {run_dir} (continue it with: lstm-tui --resume {run_dir})")
        return code
    except (ConfigError, CliError, RunDirError, NoTerminal) as exc:
        say_error(f"{parser.prog}: error: {exc}")
        return 2


def newest_run(root: Path) -> Path:
    """The run under ``root`` whose log changed last: the one a returning user wants."""
    runs = [run for p in root.glob("*/") if (run := RunDirectory(p)).is_run] if root.is_dir() else []
    if not runs:
        raise CliError(f"no runs under {root}/ (give a run directory: lstm-tui watch DIR)")
    return max(runs, key=RunDirectory.last_change).path


def _prefs_location() -> str:
    from tui.dashboard.prefs import prefs_path

    return str(prefs_path())


def _ascii(args: argparse.Namespace) -> bool:
    from tui.ascii import locale_is_utf8

    return bool(args.ascii) or not locale_is_utf8()


def watch(run_dir: Path, *, refresh_hz: float | None, no_config: bool = False, ascii_only: bool = False) -> int:
    from tui.dashboard.run import require_terminal

    config = RunDirectory(run_dir).load_config()  # one line for a missing directory or one that is not a run
    if (changed := data_changed(config)) is not None:  # a csv run whose file has changed: refused, as a resume is
        raise CliError(changed)
    require_terminal("the dashboard", f"follow the run with `lstm-tui watch --json {run_dir}`")
    from tui.dashboard.app import DashboardApp
    from tui.dashboard.prefs import display_options
    from tui.dashboard.run import run_app

    app = DashboardApp(config, watch=run_dir, ascii_only=ascii_only, **display_options(refresh_hz, no_config))
    return run_app(app)


def watch_json(run_dir: Path, poll: float = 0.25) -> int:
    """Each event of the run as one JSON line on stdout, as the run log has it; a live run is
    followed until no process trains it any more. Skipped lines are noted on stderr."""
    from engine.rundir.follow import follow
    from engine.rundir.log import event_to_json

    run = RunDirectory(run_dir)
    run.load_config()  # as `watch DIR` does: a run with a broken config.json is refused

    def skipped(line: int, why: str) -> None:
        say_error(f"lstm-tui watch: {run.log_path} line {line} skipped: {why}")

    try:
        for update in follow(run, on_skip=skipped, until_ended=True, poll_s=poll):
            if not write_stdout("".join(event_to_json(event) + "\n" for event in update.events)):
                break  # its reader went away, or it cannot be written: main says which
        return 0
    except KeyboardInterrupt:
        return 130


def _say(line: str) -> None:
    """Print, unless stdout cannot take it (after a hang-up the run's files are its output)."""
    write_stdout(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
