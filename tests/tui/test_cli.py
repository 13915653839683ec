"""The command line: every option listed with its default, bad input one line and exit 2."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import RunConfig
from tui.cli.main import COMMANDS, build_parser, config_from_args, main

TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2"]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits by itself for syntax errors and --help
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", [None, "train", "bench"])
def test_help_lists_every_run_option_with_its_default(command: str | None) -> None:
    text = build_parser(command).format_help()
    for flag in ("--preset", "--task", "--series-length", "--look-back", "--lag", "--echo-p", "--hidden",
                 "--layers", "--models", "--epochs", "--lr", "--batch-size", "--val-fraction", "--seed", "--device",
                 "--memory-budget", "--probe-every", "--probe-seconds", "--probe-steps"):
        assert flag in text
    assert text.count("(default:") >= 13


# -- hostile input: a bad value is one line naming its option, exit 2, and nothing starts -----------------

HUGE_WHOLE = "1" + "0" * 30  # parses as an int, beyond every range
HUGE_REAL = "1e300"

# Every numeric option: (whole numbers only, 0 allowed, the first value below its range)
RUN_NUMBERS = {
    "--series-length": (True, False, "-1"),
    "--look-back": (True, False, "-1"),
    "--lag": (True, False, "-1"),
    "--echo-p": (False, True, "-0.1"),
    "--hidden": (True, False, "-1"),
    "--layers": (True, False, "-1"),
    "--forget-bias": (False, True, "-11"),  # -10 is allowed
    "--epochs": (True, False, "-1"),
    "--lr": (False, False, "-1"),
    "--batch-size": (True, False, "-1"),
    "--val-fraction": (False, True, "-0.1"),
    "--seed": (True, True, "-1"),
    "--memory-budget": (True, False, "-1"),
    "--probe-every": (True, True, "-1"),
    "--probe-seconds": (False, True, "-1"),
    "--probe-steps": (True, False, "-1"),
    "--checkpoint-every": (True, True, "-1"),
    "--checkpoint-seconds": (False, True, "-1"),
}
DASHBOARD_NUMBERS = {"--refresh-hz": (False, False, "-1")}
BENCH_NUMBERS = {"--rounds": (True, False, "-1"), "--bench-epochs": (True, False, "-1"),
                 "--scale-epochs": (True, True, "-1"), "--pairs": (True, False, "1"),
                 "--window-seconds": (False, False, "-1"), "--budget-seconds": (False, False, "9"),
                 "--process-sets": (True, False, "1")}

def bad_values(whole: bool, zero_ok: bool, below: str) -> dict[str, str]:
    """A value of each hostile kind for one option: below its range, 0 (where refused), far above
    it, NaN, infinity and words."""
    values = {"negative": below, "huge": HUGE_WHOLE if whole else HUGE_REAL, "nan": "nan", "inf": "inf",
              "text": "lots"}
    if not zero_ok:
        values["zero"] = "0"
    return values


KNOWN_BUGS: dict[tuple[str, str, str], str] = {}  # (command, flag, kind) -> why it still fails


def numeric_rows(command: str, prefix: list[str], options: dict) -> list:
    rows = []
    for flag, spec in options.items():
        for kind, value in bad_values(*spec).items():
            bug = KNOWN_BUGS.get((command, flag, kind))
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            rows.append(pytest.param([*prefix, flag, value], flag[2:], id=f"{command} {flag} {kind}", marks=marks))
    return rows


# (argv, what the one-line error names)
OTHER_BAD_INVOCATIONS = [
    (["train", "--epochs", "1e99"], "--epochs"),  # a whole number in scientific notation
    (["train", "--probe-steps", "1.5"], "--probe-steps"),
    (["train", "--series-length", "5"], "series-length"),  # below its 20
    (["train", "--look-back", "20000"], "look-back"),  # longer than the 10,000-day series
    (["train", "--series-length", "300", "--look-back", "300"], "look-back"),
    (["train", "--series-length", "30", "--look-back", "10"], "val-fraction"),  # no validation window
    (["train", "--val-fraction", "0.9"], "val-fraction"),
    (["train", "--echo-p", "1.5"], "echo-p"),
    (["train", "--task", "echo", "--lag", "50", "--look-back", "35"], "lag"),  # longer than the look-back
    (["train", "--task", "weather"], "--task"),
    (["train", "--task", ""], "--task"),
    (["train", "--preset", "seed-1m"], "--preset"),
    (["train", "--preset", "ECHO"], "--preset"),
    (["train", "--device", "tpu"], "device"),
    (["train", "--device", "cuda:x"], "device"),
    (["train", "--device", ""], "device"),
    (["train", "--device", "CPU"], "device"),
    (["train", *TINY, "--device", "cuda:99"], "cuda:99"),  # no such GPU here, nor on a one-GPU box
    (["train", *TINY, "--device", "mps"], "mps"),  # Apple only
    (["train", "--batch-size", "half"], "--batch-size"),
    (["train", "--forget-bias", "strong"], "--forget-bias"),
    (["train", "--memory-budget", "1K"], "memory-budget"),  # below 1 MiB
    (["train", "--memory-budget", "lots"], "--memory-budget"),
    (["train", "--memory-budget", "2X"], "--memory-budget"),
    (["train", "--no-such-flag"], "--no-such-flag"),
    (["bench", "--lr", "nan"], "lr"),
    (["train", "--models", "lstm,lstm"], "models"),  # each model once
    (["train", "--models", "lstm,foo"], "models"),
    (["train", "--models", ""], "models"),
    (["train", "--models", "lstm,,rnn"], "models"),
    (["--models", "gru,GRU"], "models"),  # the dashboard's
    (["bench", "--models", "transformer"], "models"),
    (["train", "--resume", "runs/x", "--models", "gru"], "--models"),  # a run keeps its models
    (["no-such-command"], "no-such-command"),
    pytest.param(["train", *TINY, "--run-dir", ""], "run-dir", id="train --run-dir ''"),
]

BAD_INVOCATIONS = [
    *OTHER_BAD_INVOCATIONS,
    *numeric_rows("train", ["train", *TINY], RUN_NUMBERS),
    *numeric_rows("dashboard", TINY, DASHBOARD_NUMBERS),
    *numeric_rows("watch", ["watch"], DASHBOARD_NUMBERS),
    *numeric_rows("bench", ["bench"], BENCH_NUMBERS),
]


def _invocation_id(row) -> str | None:
    return None if hasattr(row, "id") else " ".join(row[0])


@pytest.fixture
def nothing_may_start(monkeypatch, tmp_path) -> Path:
    """A run, the dashboard or a bench that starts fails the test (and runs nothing); the working
    directory is an empty folder, so a default run directory would show up there."""
    import tui.bench.run
    import tui.cli.train
    import tui.dashboard.app
    import tui.dashboard.run

    def started(*args, **kwargs):
        raise AssertionError("a bad invocation started something")

    monkeypatch.setattr(tui.cli.train, "run_headless", started)
    monkeypatch.setattr(tui.dashboard.run, "run_dashboard", started)
    monkeypatch.setattr(tui.dashboard.app.DashboardApp, "run", started)
    monkeypatch.setattr(tui.bench.run, "run_bench", started)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("argv", "named"), BAD_INVOCATIONS, ids=[_invocation_id(r) for r in BAD_INVOCATIONS])
def test_a_bad_value_is_one_line_naming_its_option_exit_2_and_nothing_starts(argv, named, capsys,
                                                                            nothing_may_start) -> None:
    code, err = run_main(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "Traceback" not in err
    assert list(nothing_may_start.iterdir()) == []  # no run directory was made


def test_every_numeric_option_of_every_command_is_in_the_hostile_tables() -> None:
    numeric = {"N", "P", "X", "F", "K", "S", "HZ", "SIZE", "N|full", "X|default"}
    covered = {*RUN_NUMBERS, *DASHBOARD_NUMBERS, *BENCH_NUMBERS}
    for command in (None, *COMMANDS):
        for action in build_parser(command)._actions:
            if action.metavar in numeric:
                assert set(action.option_strings) & covered, f"{action.option_strings} has no hostile rows"


def test_there_are_at_least_40_hostile_invocations_and_run_directories() -> None:
    assert len(BAD_INVOCATIONS) + len(BAD_RUN_DIRS) >= 40


def test_missing_cuda_is_a_one_line_error(capsys, monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = run_main(["train", "--device", "cuda", *TINY], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "cuda" in err


def test_flags_override_the_preset() -> None:
    args = build_parser("train").parse_args(["--preset", "seed-50k", "--epochs", "7", "--batch-size", "full"])
    config = config_from_args(args)
    assert (config.series_length, config.epochs, config.batch_size, config.preset) == (50_000, 7, None, "seed-50k")


def test_probe_flags_set_the_probe_cadence() -> None:
    args = build_parser("train").parse_args(["--probe-every", "5", "--probe-seconds", "2.5", "--probe-steps", "16"])
    config = config_from_args(args)
    assert (config.probe_every, config.probe_seconds, config.probe_steps) == (5, 2.5, 16)


def test_probe_every_0_turns_probes_off() -> None:
    assert config_from_args(build_parser(None).parse_args(["--probe-every", "0"])).probe_every == 0


def test_no_flags_give_the_default_config() -> None:
    assert config_from_args(build_parser("train").parse_args([])) == RunConfig()


def test_train_writes_config_and_a_complete_log(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli.main", "train", *TINY, "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "100"},
    )
    assert result.returncode == 0, result.stderr
    assert "LSTM" in result.stdout and "RNN" in result.stdout
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == 2
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "run_started"
    assert names.count("epoch_end") == 4  # 2 epochs x 2 models
    assert names[-1] == "state" and events[-1]["state"] == "finished"


def test_ctrl_c_stops_training_cleanly_with_the_log_intact(tmp_path: Path) -> None:
    import signal
    import time

    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "train", "--series-length", "300", "--look-back", "5",
         "--epochs", "100000", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    log = run_dir / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and '"epoch_end"' in log.read_text()):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = log.read_text().splitlines()
    assert all(line.endswith("}") for line in lines)
    last = json.loads(lines[-1])
    assert (last["event"], last["state"]) == ("state", "stopped")


# -- run directories: --run-dir, --resume, and files that are missing, broken or busy -------------------


def test_help_lists_the_run_directory_options() -> None:
    for command in (None, "train"):
        text = build_parser(command).format_help()
        for flag in ("--run-dir", "--resume", "--checkpoint-every", "--checkpoint-seconds"):
            assert flag in text


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run directory; tests work on copies of it."""
    from engine.rundir.directory import RunDirectory
    from engine.session import Session

    run_dir = tmp_path_factory.mktemp("finished") / "run"
    config = config_from_args(build_parser("train").parse_args(TINY))
    done = __import__("threading").Event()
    session = Session(config, [lambda e: e.name == "state" and e.state == "finished" and done.set()],
                      run=RunDirectory(run_dir).open_writer(config)).start()
    assert done.wait(60)
    session.close()
    return run_dir


def snapshot(path: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``path`` with its bytes and modification time."""
    if not path.is_dir():
        return {}
    return {str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()}


def _corrupt(name: str, data: bytes):
    return lambda d: (d / name).write_bytes(data)


def _truncate(name: str):
    return lambda d: (d / name).write_bytes((d / name).read_bytes()[:500])


def _checkpoint_with(**changes):
    def change(d: Path) -> None:
        import torch

        checkpoint = torch.load(d / "checkpoint.pt", weights_only=True)
        torch.save({**checkpoint, **changes}, d / "checkpoint.pt")

    return change


def _held_by_another_writer(d: Path):
    from engine.rundir.directory import RunDirectory

    return RunDirectory(d).open_writer(RunConfig.from_dict(json.loads((d / "config.json").read_text())), resume=True)


def _config_with(**changes):
    def change(d: Path) -> None:
        data = json.loads((d / "config.json").read_text())
        data.update(changes)
        (d / "config.json").write_text(json.dumps(data))

    return change


def _make_dir(name: str):
    def change(d: Path) -> None:
        (d / name).unlink()
        (d / name).mkdir()

    return change


# config.json as a disk, an editor or a person may leave it
CORRUPT_CONFIGS = {
    "bad-json": _corrupt("config.json", b"{oops"),
    "empty": _corrupt("config.json", b""),
    "not-an-object": _corrupt("config.json", b"[1, 2, 3]"),
    "binary": _corrupt("config.json", bytes(range(256))),
    "wrong-type": _config_with(hidden="10"),
    "null": _config_with(epochs=None),
    "list-for-a-number": _config_with(lr=[0.01]),
    "unknown-key": _config_with(hiden=10),
    "out-of-range": _config_with(hidden=0),
    "nan": _corrupt("config.json", json.dumps({**RunConfig().to_dict(), "lr": math.nan}).encode()),
    "huge": _config_with(seed=10**30),
    "unknown-preset": _config_with(preset="seed-1m"),
}
READS_CONFIG = {  # commands that open a run directory through its config.json
    "resume": ["train", "--resume", "DIR"],
    "dashboard-resume": ["--resume", "DIR"],
    "watch": ["watch", "DIR"],
    "export": ["export", "DIR"],
}

# (id, argv with DIR for the run directory, how to break it, what the one-line error names)
BAD_RUN_DIRS = [
    ("resume-missing-dir", ["train", "--resume", "DIR/nowhere"], None, "does not exist"),
    ("resume-not-a-run", ["train", "--resume", "DIR"], lambda d: (d / "config.json").unlink(), "not a run directory"),
    ("resume-bad-config", ["train", "--resume", "DIR"], _corrupt("config.json", b"{oops"), "config.json is not a valid config"),
    ("resume-no-checkpoint", ["train", "--resume", "DIR"], lambda d: (d / "checkpoint.pt").unlink(), "no checkpoint.pt"),
    ("resume-checkpoint-is-a-dir", ["train", "--resume", "DIR"], _make_dir("checkpoint.pt"), "checkpoint.pt"),
    ("resume-garbage-checkpoint", ["train", "--resume", "DIR"], _corrupt("checkpoint.pt", b"garbage"), "corrupt"),
    ("resume-empty-checkpoint", ["train", "--resume", "DIR"], _corrupt("checkpoint.pt", b""), "corrupt"),
    ("resume-json-checkpoint", ["train", "--resume", "DIR"], _corrupt("checkpoint.pt", b"{}"), "corrupt"),
    ("resume-truncated-checkpoint", ["train", "--resume", "DIR"], _truncate("checkpoint.pt"), "corrupt"),
    ("resume-future-format", ["train", "--resume", "DIR"], _checkpoint_with(format=99), "format 99"),
    ("resume-other-run", ["train", "--resume", "DIR"],
     _checkpoint_with(config={**RunConfig().to_dict(), "hidden": 4}), "from a different run"),
    ("resume-fewer-epochs", ["train", "--resume", "DIR", "--epochs", "1"], None, "fewer than the 2 epochs"),
    ("resume-live-run", ["train", "--resume", "DIR"], _held_by_another_writer, "being trained by another process"),
    ("resume-unwritable", ["train", "--resume", "DIR"], _make_dir("events.jsonl"), "events.jsonl"),
    ("resume-with-config-flags", ["train", "--resume", "DIR", "--hidden", "4", "--lr", "0.1"], None,
     "only --epochs may change (remove --hidden --lr)"),
    ("resume-with-run-dir", ["train", "--resume", "DIR", "--run-dir", "DIR"], None, "remove --run-dir"),
    ("dashboard-resume-garbage-checkpoint", ["--resume", "DIR"], _corrupt("checkpoint.pt", b"garbage"), "corrupt"),
    ("dashboard-resume-with-config-flags", ["--resume", "DIR", "--preset", "echo"], None, "remove --preset"),
    ("dashboard-resume-events-is-a-dir", ["--resume", "DIR"], _make_dir("events.jsonl"), "events.jsonl"),
    ("export-events-missing", ["export", "DIR"], lambda d: (d / "events.jsonl").unlink(), "events.jsonl"),
    ("export-events-is-a-dir", ["export", "DIR"], _make_dir("events.jsonl"), "events.jsonl"),
    ("export-garbage-log", ["export", "DIR"], _corrupt("events.jsonl", bytes(range(256)) * 4), "events.jsonl"),
    ("watch-json-events-is-a-dir", ["watch", "DIR", "--json"], _make_dir("events.jsonl"), "events.jsonl"),
    ("watch-json-bad-config", ["watch", "DIR", "--json"], _corrupt("config.json", b"{oops"), "config.json"),
    ("watch-missing-dir", ["watch", "DIR/nowhere"], None, "does not exist"),
    ("run-dir-holds-a-run", ["train", *TINY, "--run-dir", "DIR"], None, "already holds a run"),
    ("dashboard-run-dir-holds-a-run", [*TINY, "--run-dir", "DIR"], None, "already holds a run"),
    ("run-dir-is-a-file", ["train", *TINY, "--run-dir", "DIR/config.json"], None, "is a file"),
    ("run-dir-under-a-file", ["train", *TINY, "--run-dir", "DIR/config.json/run"], None, "Not a directory"),
    # Unwritable for root too: nothing can be made under /proc or /sys.
    ("run-dir-unwritable", ["train", *TINY, "--run-dir", "/proc/lstm-tui-test/run"], None, "/proc/lstm-tui-test/run"),
    ("dashboard-run-dir-unwritable", [*TINY, "--run-dir", "/sys/lstm-tui-test"], None, "/sys/lstm-tui-test"),
    *((f"{command}-config-{kind}", argv, setup, "config.json")
      for command, argv in READS_CONFIG.items() for kind, setup in CORRUPT_CONFIGS.items()),
]

KNOWN_RUN_DIR_BUGS: dict[str, str] = {}  # row name -> why it still fails


def _run_dir_param(row) -> object:
    name, argv, setup, named = row
    bug = KNOWN_RUN_DIR_BUGS.get(name)
    return pytest.param(argv, setup, named, id=name,
                        marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [])


def at_a_terminal(monkeypatch) -> None:
    """The dashboard's commands go on as at a terminal (tests run without one), to the checks
    after that one."""
    import tui.dashboard.run

    monkeypatch.setattr(tui.dashboard.run, "require_terminal", lambda *args: None)


@pytest.fixture
def no_dashboard(monkeypatch) -> None:
    """Opening the dashboard on the terminal fails the test; export's headless screenshot still works."""
    from tui.dashboard.app import DashboardApp

    at_a_terminal(monkeypatch)
    original = DashboardApp.run_async

    async def guarded(self, *args, headless: bool = False, **kwargs):
        if not headless:
            raise AssertionError("a bad run directory opened the dashboard")
        return await original(self, *args, headless=headless, **kwargs)

    monkeypatch.setattr(DashboardApp, "run_async", guarded)


@pytest.mark.parametrize(("argv", "setup", "named"), [_run_dir_param(row) for row in BAD_RUN_DIRS])
def test_a_bad_run_directory_is_one_line_exit_2_and_nothing_is_overwritten(
    argv, setup, named, finished_run, tmp_path, capsys, no_dashboard, monkeypatch
) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    monkeypatch.chdir(tmp_path)
    held = setup(run_dir) if setup else None
    before = snapshot(run_dir)
    code, err = run_main([a.replace("DIR", str(run_dir)) for a in argv], capsys)
    after = snapshot(run_dir)
    if held is not None and hasattr(held, "close"):
        held.close()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "Traceback" not in err
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no run directory made beside it


def test_a_dashboard_resume_without_a_log_goes_on_as_train_resume_does(finished_run, tmp_path, monkeypatch,
                                                                       capsys) -> None:
    import shutil

    from tui.dashboard.app import DashboardApp

    async def no_terminal(self, *args, **kwargs) -> int:
        return 0

    monkeypatch.setattr(DashboardApp, "run_async", no_terminal)
    at_a_terminal(monkeypatch)
    for name, argv in (("train", ["train", "--resume", "DIR"]), ("dashboard", ["--resume", "DIR"])):
        run_dir = tmp_path / name
        shutil.copytree(finished_run, run_dir)
        (run_dir / "events.jsonl").unlink()
        code, err = run_main([a.replace("DIR", str(run_dir)) for a in argv], capsys)
        assert (code, err) == (0, "")


def test_a_runs_folder_that_cannot_be_made_is_one_line_exit_2(tmp_path, monkeypatch, capsys, no_dashboard) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    for argv in (["train", *TINY], TINY):
        code, err = run_main(argv, capsys)
        assert code == 2
        assert err.strip().splitlines() == [f"{build_parser('train' if argv[0] == 'train' else None).prog}: "
                                            "error: cannot create a run directory in runs: File exists"]


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1  # linux/prctl.h, linux/capability.h


def _bound_by_file_modes() -> None:
    """A child's preexec_fn: as root, give up CAP_DAC_OVERRIDE (what lets root write through any
    file mode) from the bounding set, so the exec cannot give it back. CI runs as root."""
    if os.geteuid() == 0:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def run_bound_by_file_modes(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` in a child that file modes bind, whoever runs the tests."""
    try:
        return subprocess.run([sys.executable, "-c", code, *args], preexec_fn=_bound_by_file_modes,
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    except subprocess.SubprocessError as exc:  # the preexec_fn failed: no CAP_SETPCAP here
        pytest.skip(f"cannot start a child that file modes bind on this machine: {exc}")


def test_an_unwritable_run_directory_is_one_line_exit_2(finished_run, tmp_path) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    run_dir.chmod(0o555)
    (run_dir / "events.jsonl").chmod(0o444)
    try:
        probe = run_bound_by_file_modes("import sys; open(sys.argv[1], 'a')", str(run_dir / "events.jsonl"))
        if "PermissionError" not in probe.stderr:
            pytest.skip(f"file modes do not bind a child here (it opened a 0444 file for writing): {probe.stderr}")
        child = run_bound_by_file_modes("import sys; from tui.cli.main import main; sys.exit(main(sys.argv[1:]))",
                                        "train", "--resume", str(run_dir))
    finally:
        run_dir.chmod(0o755)
    assert child.returncode == 2, child.stderr
    assert len(child.stderr.strip().splitlines()) == 1 and str(run_dir) in child.stderr


@pytest.mark.parametrize("command", [None, "train", "bench"])
def test_models_help_names_every_model_and_the_seeds_pair_as_default(command: str | None) -> None:
    text = " ".join(build_parser(command).format_help().split())  # argparse wraps the help
    assert "--models LIST" in text
    assert "lstm, rnn, gru, comma-separated" in text and "(default: lstm,rnn)" in text


def test_models_are_normalised_into_the_runs_config() -> None:
    args = build_parser("train").parse_args(["--models", "GRU, lstm"])
    assert config_from_args(args).model_names == ("gru", "lstm")
