"""`lstm-tui sweep`: a grid of runs over settings and seeds, as success rates with intervals.

Every run flag takes a comma list; the trials are the product of the lists and the seeds
(engine/sweep/grid.py). Each trial is a normal run directory under SWEEP_DIR/trials/, run by an
executor (engine/sweep/executor.py: local worker processes, or Ray tasks on this machine or a
cluster, their files brought back here: engine/sweep/ray_executor.py). This process never
trains: its progress comes from the trials' run directories (engine/sweep/follow.py), as a
watcher's does, so the live sweep screen can take its place and show the same.

Like `train`, a sweep survives a hang-up (it stops writing to the dead terminal); Ctrl+C or
SIGTERM stops every trial with a checkpoint (exit 130 or 143; again, and the workers end at once),
and the same command, or `lstm-tui sweep --sweep-dir DIR` alone, goes on from there: finished
trials are skipped, interrupted ones resume from their checkpoints.
"""

from __future__ import annotations

import argparse
import math
import queue
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.config import MODEL_TITLES, ConfigError, parse_number, parse_whole
from engine.rundir.files import RunDirError
from engine.sweep.executor import (
    EXECUTORS,
    ExecutorOptions,
    ExecutorThread,
    ExecutorUnavailable,
    check_executor,
    make_executor,
)
from engine.sweep.follow import DONE_STATES, SweepFollower, TrialState, TrialView
from engine.sweep.grid import (
    AXES,
    SWEEPS_ROOT,
    Grid,
    GridError,
    SweepDirectory,
    new_sweep_dir,
    seed_label,
)
from engine.sweep.summary import SummaryRow, summary_csv, summary_json_lines
from engine.sweep.trials import TrialJob, TrialOutcome
from tui.cli.ending import hand_over, say_error, write_stdout
from tui.cli.train import QuietStream, RunSignals, StopSignal

PROG = "lstm-tui sweep"
POLL_S = 0.25  # how often the trials' directories are looked at (engine.rundir.follow's pace)
LISTED = (*AXES, "seed")  # the run flags that take a comma list here
BAD_INPUT = (GridError, ExecutorUnavailable, ConfigError, RunDirError)
_ENDED = object()  # on the inbox: the executor's run returned


# -- the command line -------------------------------------------------------------------------------

def _whole_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = parse_whole(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed {low:,}..{high:,})")
        return value

    return parse


def _positive(high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = parse_number(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None
        if not (math.isfinite(value) and 0 < value <= high):
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed (0, {high:g}])")
        return value

    return parse


def _text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"an empty {what}")
        return text.strip()

    return parse


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """The run options (tui.cli.main.add_run_options, already on ``parser``) as comma lists, and
    the sweep's own options."""
    for action in parser._actions:  # argparse keeps its actions here; nothing public reaches them
        if action.dest in LISTED:
            # The raw text: each item is parsed by engine.sweep.grid (engine.config.parse_field).
            action.metavar = f"{action.metavar or action.dest.upper()},..."
            action.type, action.choices = None, None
        elif action.dest == "models":
            action.help = (action.help or "") + "; not a grid axis: every trial trains all of them in lockstep"
    g = parser.add_argument_group("sweep options")
    g.add_argument("--seeds", metavar="SEEDS", help="run seeds 0..SEEDS-1 (or list them: --seed 3,7)")
    g.add_argument("--sweep-dir", type=_text("path"), metavar="DIR",
                   help=f"the sweep's directory (default: {SWEEPS_ROOT}/<UTC time>-<preset or task>/); "
                   "alone, continues the sweep in it")
    g.add_argument("--success-loss", type=_positive(100.0), metavar="NATS",
                   help="a trial learned when its best validation loss is below this (default: halfway "
                   "between chance and the best achievable loss; none on the seed task)")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where trials run: local worker processes, or Ray tasks (default: local)")
    g.add_argument("--workers", type=_whole_in(1, 1024), metavar="WORKERS",
                   help="local worker processes (default: one per core on the CPU, each "
                   "single-threaded; 1/GPUS_PER_TRIAL per GPU on CUDA); with --executor ray, the trials "
                   "running at once at most (default: as many as the cluster's resources hold)")
    g.add_argument("--cpus-per-trial", type=_whole_in(1, 1024), default=1, metavar="CPUS",
                   help="threads (cores) each trial trains with, a Ray task's num_cpus (default: 1)")
    g.add_argument("--gpus-per-trial", type=_positive(64.0), metavar="GPUS",
                   help="the share of a GPU each trial takes, e.g. 0.25, a Ray task's num_gpus (default: "
                   "0.25 where there are GPUs and the trials' device is auto or cuda)")
    g.add_argument("--ray-address", type=_text("address"), metavar="ADDR",
                   help="--executor ray: join the running cluster at ADDR (HOST:6379, started with `ray "
                   "start --head` there and `ray start --address HEAD:6379` on the other nodes; lstm-tui "
                   "installed on every node); default: a local Ray instance, started and stopped by the sweep")
    g.add_argument("--headless", action="store_true",
                   help="Rich progress on stdout instead of the live screen (so without a terminal too)")
    g.add_argument("--json", action="store_true",
                   help="no progress: print the summary as JSON lines, one per grid point and model")


# -- checking an invocation: nothing is written until all of it holds ---------------------------------

@dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: its grid, its directory (None: a new one), its executor's options."""

    grid: Grid
    sweep: SweepDirectory | None
    options: ExecutorOptions
    success_loss: float | None


def plan_sweep(args: argparse.Namespace) -> SweepPlan:
    """Every check of the invocation, in order; one of BAD_INPUT naming the first problem."""
    lists = {name: getattr(args, name) for name in AXES if getattr(args, name, None) is not None}
    grid_given = bool(lists) or any(getattr(args, name, None) is not None for name in ("seeds", "seed", "models"))
    sweep = SweepDirectory(args.sweep_dir) if args.sweep_dir else None
    if not grid_given:
        if sweep is None:
            raise GridError("no grid: list a run flag's values (e.g. --lag 10,30 --seeds 10), or give "
                            "--sweep-dir DIR alone to continue a sweep")
        grid = sweep.load_grid()
    else:
        grid = Grid.from_flags(lists, seeds=args.seeds, seed=args.seed, models=args.models)
        if sweep is not None:
            sweep.check_for(grid)
    options = ExecutorOptions(args.executor, args.workers, args.cpus_per_trial, args.gpus_per_trial,
                              args.ray_address)
    if args.ray_address is not None and args.executor != "ray":
        raise ExecutorUnavailable("ray-address: only with --executor ray")
    check_executor(args.executor, options)
    remote = args.executor == "ray" and args.ray_address is not None  # the nodes have the devices, not this one
    for device in sorted({trial.config.device for trial in grid.trials}):
        if device not in ("auto", "cpu") and not remote:
            from engine.device import resolve_device  # torch: only for a device named

            resolve_device(device)
    return SweepPlan(grid, sweep, options, args.success_loss)


def sweep_command(args: argparse.Namespace) -> int:
    """`lstm-tui sweep`: the exit status (2 for a bad invocation, said in one line)."""
    try:
        plan = plan_sweep(args)
        sweep = plan.sweep or new_sweep_dir(SWEEPS_ROOT, plan.grid)
        if sweep.live:  # another lstm-tui sweep runs it: follow that one, as `watch` follows a run
            return HeadlessSweep(plan, sweep, as_json=args.json).follow()
        with sweep.held():
            sweep.create(plan.grid)
            # The live sweep screen (issue 18, point 4) takes over here in a terminal without
            # --headless or --json: it runs the same plan with the same ExecutorThread and
            # follows the same SweepFollower (tui/sweep/live.py), then reports as headless does.
            if not (args.headless or args.json) and on_terminal():
                return run_live(plan, sweep)
            return run_headless(plan, sweep, as_json=args.json)
    except BAD_INPUT as exc:
        say_error(f"{PROG}: error: {exc}")
        return 2


# -- running it headless ---------------------------------------------------------------------------

def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _models_line(view: TrialView) -> str:
    """'LSTM 0.291 learned at 5 · RNN 1.098' for an ended trial."""
    result = view.result
    if result is None:
        return ""
    parts = []
    for name, model in result.models.items():
        learned = result.learned(name)
        note = f" learned at {model.success_epoch}" if learned else ""
        parts.append(f"{MODEL_TITLES.get(name, name.upper())} {_fmt(model.best_val_loss)}{note}")
    return " · ".join(parts)


class HeadlessSweep:
    """The sweep's progress on the terminal: a bar for the trials, a line per running trial, a
    line as each ends; then the summary table (or JSON lines)."""

    def __init__(self, plan: SweepPlan, sweep: SweepDirectory, *, as_json: bool = False,
                 console: Console | None = None) -> None:
        self.plan = plan
        self.sweep = sweep
        self.as_json = as_json
        self.out = QuietStream(sys.stdout)
        self.console = console or Console(file=self.out, quiet=as_json)  # type: ignore[arg-type]
        self.follower = SweepFollower(sweep, plan.grid, plan.success_loss)
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.outcomes: dict[str, TrialOutcome] = {}
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=16), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=self.console, transient=False)
        self._rows: dict[str, TaskID] = {}
        self._wait = POLL_S

    def run(self) -> int:
        grid, follower = self.plan.grid, self.follower
        follower.poll()
        todo = follower.to_run()
        counts = follower.counts()
        done = sum(counts[s] for s in DONE_STATES)
        self.console.print(f"sweep {self.sweep.path}: {grid.size:,} trials ({len(grid.points):,} grid points x "
                           f"{len(grid.seeds)} seeds {seed_label(grid.seeds)}); {done:,} done, "
                           f"{len(todo):,} to run", soft_wrap=True)
        code = 0
        if todo:
            code = self._run(todo)
        follower.poll()
        return self._report(code)

    def _run(self, todo: list) -> int:
        grid = self.plan.grid
        executor = make_executor(self.plan.options, {t.config.device for t in grid.trials}, self.sweep.workers_log)
        jobs = [TrialJob.of(self.sweep, trial) for trial in todo]
        runner = ExecutorThread(executor, jobs, self.inbox.put, lambda: self.inbox.put(_ENDED))
        code, signals = 0, 0
        hand_over()  # this command handles its own signals from here, as `train` does
        with RunSignals(self.inbox, [self.out]):
            runner.start()
            with self.progress:
                bar = self.progress.add_task("trials", total=grid.size, note="", completed=self._done())
                while True:
                    try:
                        item = self.inbox.get(timeout=self._wait)
                    except queue.Empty:
                        item = None
                    if item is _ENDED:
                        break
                    if isinstance(item, StopSignal):
                        signals += 1
                        code = code or item.exit_code
                        self._stop(executor, item, signals)
                    elif isinstance(item, TrialOutcome):
                        self._outcome(item)
                    self._follow(bar)
                self._follow(bar)
        runner.join()
        if runner.error is not None:
            say_error(f"{PROG}: error: the executor failed: {type(runner.error).__name__}: {runner.error}")
            return code or 1
        return code

    def _stop(self, executor: Any, stop: StopSignal, count: int) -> None:
        name = signal.Signals(stop.signum).name
        if count == 1:
            executor.stop(stop.signum)
            self.progress.console.print(f"[yellow]{name}: stopping every trial with a checkpoint… "
                                        "(again to end the workers at once)[/]")
        else:
            executor.kill()
            self.progress.console.print(f"[yellow]{name}: ending the workers now; their trials resume from "
                                        "their last checkpoints[/]")

    def _outcome(self, outcome: TrialOutcome) -> None:
        self.outcomes[outcome.name] = outcome
        if outcome.state == TrialState.FAILED:
            self.progress.console.print(f"[red]{outcome.name} failed:[/] {escape(outcome.message)}", soft_wrap=True)

    def _done(self) -> int:
        return sum(view.state in DONE_STATES for view in self.follower.views.values())

    def follow(self) -> int:
        """Follow the sweep another process runs until it ends (or a signal), then the table."""
        pid = self.sweep.runner_pid()
        self.console.print(f"sweep {self.sweep.path} is being run by process {pid or '?'}: following it "
                           "(Ctrl+C stops following; the sweep goes on)", soft_wrap=True, highlight=False)
        self.follower.poll()
        code = 0
        hand_over()
        with RunSignals(self.inbox, [self.out]), self.progress:
            bar = self.progress.add_task("trials", total=self.plan.grid.size, note="", completed=self._done())
            while self.sweep.live:
                try:
                    item = self.inbox.get(timeout=self._wait)
                except queue.Empty:
                    item = None
                if isinstance(item, StopSignal):
                    code = item.exit_code
                    break
                self._follow(bar)
            self._follow(bar)
        return self._report(code, write=False)

    def _follow(self, bar: TaskID) -> None:
        """Bring the trials up to date from their files: the bar, the running rows, ended lines."""
        started = time.perf_counter()
        for view in self.follower.poll():
            name = view.trial.name
            if view.state == TrialState.RUNNING:
                if name not in self._rows:
                    self._rows[name] = self.progress.add_task(f"  {name}", total=view.total_epochs, note="")
                self.progress.update(self._rows[name], completed=view.epoch)
                continue
            if name in self._rows:
                self.progress.remove_task(self._rows.pop(name))
            if view.state in DONE_STATES:
                self.progress.console.print(f"{name}: {view.state} after {view.epoch} epochs: "
                                            f"{_models_line(view)}", soft_wrap=True, highlight=False)
        counts = self.follower.counts()
        note = ", ".join(f"{counts[s]} {s}" for s in (TrialState.RUNNING, TrialState.INTERRUPTED, TrialState.FAILED)
                         if counts[s])
        self.progress.update(bar, completed=self._done(), note=note)
        # Looking costs a stat per trial and a read per running one: with many trials, look less
        # often, so this process never takes more than a tenth of a core from the workers.
        self._wait = max(POLL_S, 10 * (time.perf_counter() - started))

    # -- the report ------------------------------------------------------------------------------

    def _report(self, code: int, *, write: bool = True) -> int:
        """summary.csv and summary.svg (``write``: the process running the sweep writes them),
        then the table or the JSON lines; the exit status (1 when a trial failed)."""
        grid, follower = self.plan.grid, self.follower
        rows = follower.summary()
        title = f"lstm-tui sweep {self.sweep.path}"
        if write:
            self._write("summary.csv", lambda: summary_csv(grid, rows))
            self._write("summary.svg", lambda: _svg(grid, rows, title))
        if self.as_json:
            write_stdout(summary_json_lines(rows))
        else:
            table = summary_table(grid, rows, title)
            if not self.console.is_terminal:  # a file or pipe gets the table whole, a row a line
                wide = self.console.options.update_width(10_000)
                self.console.width = max(self.console.width, self.console.measure(table, options=wide).maximum)
            self.console.print(table)
            self.console.print(f"sweep directory: {self.sweep.path} (continue it with: lstm-tui sweep "
                               f"--sweep-dir {self.sweep.path}; trials: lstm-tui runs {self.sweep.trials_path})",
                               soft_wrap=True, highlight=False)
        counts = follower.counts()
        if code == 0 and counts[TrialState.FAILED]:
            return 1
        return code

    def _write(self, name: str, text: Callable[[], str]) -> None:
        try:
            self.sweep.write_text(name, text())
        except (OSError, RunDirError) as exc:
            where = getattr(exc, "filename", None) or self.sweep.path / name
            say_error(f"{PROG}: cannot write {where}: {getattr(exc, 'strerror', None) or exc}")


def _svg(grid: Grid, rows: list[SummaryRow], title: str) -> str:
    from tui.sweep.plot import summary_svg  # plotext: loaded for the report only

    return summary_svg(grid, rows, title)


def _interval(value: float | None, low: float | None, high: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f},{high:.{digits}f}]"


def summary_table(grid: Grid, rows: list[SummaryRow], title: str) -> Table:
    """The summary as a Rich table: a row per grid point and model."""
    table = Table(title=title, title_justify="left")
    rated = any(row.successes is not None for row in rows)
    volatile = any(row.volatility is not None for row in rows)
    for axis in grid.axes:
        table.add_column(axis.replace("_", "-"), justify="right")
    table.add_column("model")
    table.add_column("trials", justify="right")
    if rated:
        table.add_column("learned", justify="right")
        table.add_column("rate [95% CI]", justify="right")
        table.add_column("epochs to learn", justify="right")
    table.add_column("best val", justify="right")
    table.add_column("final val", justify="right")
    if volatile:
        table.add_column("volatility [95% CI]", justify="right")
    for row in rows:
        cells = [text for _, text in row.point]
        trials = f"{row.trials}/{row.planned}" + (f" ({row.failed} failed)" if row.failed else "")
        cells += [MODEL_TITLES.get(row.model, row.model), trials]
        if rated:
            cells += ["-" if row.successes is None else str(row.successes),
                      _interval(row.success_rate, row.rate_low, row.rate_high),
                      _fmt(row.median_epochs_to_success, 1)]
        cells += [_fmt(row.median_best_val_loss), _fmt(row.median_final_val_loss)]
        if volatile:
            cells.append(_interval(row.volatility, row.volatility_low, row.volatility_high, 4))
        table.add_row(*cells)
    losses = sorted({row.success_loss for row in rows if row.success_loss is not None})
    notes = ["losses: validation cross-entropy in nats, medians over trials",
             "volatility: sd of epoch-to-epoch train-loss changes, mean over seeds, t interval"]
    if losses:
        notes.insert(0, "learned: best val loss below " + ", ".join(f"{x:.3f}" for x in losses)
                     + "; rate: Wilson interval")
    table.caption = "; ".join(notes)
    return table


def run_headless(plan: SweepPlan, sweep: SweepDirectory, *, as_json: bool = False) -> int:
    return HeadlessSweep(plan, sweep, as_json=as_json).run()


# -- the live screen (tui/sweep/): in a terminal, instead of the headless progress ---------------------

def on_terminal() -> bool:
    """Whether stdin, stdout and stderr are all a terminal (the live screen needs one)."""
    from tui.dashboard.run import NoTerminal, require_terminal

    try:
        require_terminal("the live sweep screen", "the headless progress")
    except NoTerminal:
        return False
    return True


def run_live(plan: SweepPlan, sweep: SweepDirectory) -> int:
    """The live sweep screen until it quits (its trials stopped) or a signal, then the report
    (summary.csv, summary.svg, the table) as the headless progress ends with it; then, after a
    signal, the wait for the trials to stop."""
    from tui.sweep.live import LiveSweep
    from tui.sweep.run import run_screen

    reporter = HeadlessSweep(plan, sweep)
    live = LiveSweep(sweep, plan.grid, options=plan.options, success_loss=plan.success_loss,
                     follower=reporter.follower)
    try:
        code = run_screen(live)
        if live.error is not None:
            say_error(f"{PROG}: error: the executor failed: {type(live.error).__name__}: {live.error}")
            code = code or 1
        reporter.follower.poll()
        return reporter._report(code)
    finally:
        live.finish()  # after a signal the trials are still stopping: the report went first
