"""The command line: every option listed with its default, bad input one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import RunConfig
from tui.cli import build_parser, config_from_args, main

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
                 "--layers", "--epochs", "--lr", "--batch-size", "--val-fraction", "--seed", "--device",
                 "--memory-budget", "--probe-every", "--probe-seconds", "--probe-steps"):
        assert flag in text
    assert text.count("(default:") >= 13


BAD_INVOCATIONS = [
    (["--epochs", "-1"], "epochs"),
    (["--epochs", "0"], "epochs"),
    (["--epochs", "abc"], "--epochs"),
    (["--epochs", "1e99"], "--epochs"),
    (["--hidden", "0"], "hidden"),
    (["--hidden", "100000"], "hidden"),
    (["--layers", "-3"], "layers"),
    (["--lr", "nan"], "lr"),
    (["--lr", "-0.1"], "lr"),
    (["--lr", "inf"], "lr"),
    (["--lr", "fast"], "--lr"),
    (["--series-length", "5"], "series-length"),
    (["--look-back", "20000"], "look-back"),
    (["--look-back", "0"], "look-back"),
    (["--val-fraction", "0.9"], "val-fraction"),
    (["--val-fraction", "-0.1"], "val-fraction"),
    (["--echo-p", "1.5"], "echo-p"),
    (["--task", "echo", "--lag", "50", "--look-back", "35"], "lag"),
    (["--task", "weather"], "--task"),
    (["--preset", "seed-1m"], "--preset"),
    (["--device", "tpu"], "device"),
    (["--device", "cuda:x"], "device"),
    (["--batch-size", "0"], "batch-size"),
    (["--batch-size", "half"], "--batch-size"),
    (["--memory-budget", "lots"], "--memory-budget"),
    (["--memory-budget", "1K"], "memory-budget"),
    (["--seed", "-1"], "seed"),
    (["--probe-every", "-1"], "probe-every"),
    (["--probe-every", "often"], "--probe-every"),
    (["--probe-seconds", "-1"], "probe-seconds"),
    (["--probe-seconds", "nan"], "probe-seconds"),
    (["--probe-seconds", "soon"], "--probe-seconds"),
    (["--probe-steps", "0"], "probe-steps"),
    (["--probe-steps", "1.5"], "--probe-steps"),
    (["--refresh-hz", "0"], "--refresh-hz"),
    (["--no-such-flag"], "--no-such-flag"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_INVOCATIONS, ids=[" ".join(a) for a, _ in BAD_INVOCATIONS])
def test_bad_option_gets_one_line_naming_it_and_exit_2(argv, named, capsys) -> None:
    code, err = run_main(["train", *argv] if "--refresh-hz" not in argv else argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "Traceback" not in err


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
        [sys.executable, "-m", "tui.cli", "train", *TINY, "--run-dir", str(run_dir)],
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
        [sys.executable, "-m", "tui.cli", "train", "--series-length", "300", "--look-back", "5",
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
    from engine.runlog import RunLog
    from engine.session import Session

    run_dir = tmp_path_factory.mktemp("finished") / "run"
    config = config_from_args(build_parser("train").parse_args(TINY))
    log = RunLog(run_dir, config)
    done = __import__("threading").Event()
    session = Session(config, [log, lambda e: e.name == "state" and e.state == "finished" and done.set()],
                      run_dir=run_dir).start()
    assert done.wait(60)
    session.close()
    log.close()
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
    from engine.runlog import RunLog

    return RunLog(d, RunConfig.from_dict(json.loads((d / "config.json").read_text())), resume=True)


# (id, argv with DIR for the run directory, how to break it, what the one-line error names)
BAD_RUN_DIRS = [
    ("resume-missing-dir", ["train", "--resume", "DIR/nowhere"], None, "does not exist"),
    ("resume-not-a-run", ["train", "--resume", "DIR"], lambda d: (d / "config.json").unlink(), "not a run directory"),
    ("resume-bad-config", ["train", "--resume", "DIR"], _corrupt("config.json", b"{oops"), "config.json is not a valid config"),
    ("resume-no-checkpoint", ["train", "--resume", "DIR"], lambda d: (d / "checkpoint.pt").unlink(), "no checkpoint.pt"),
    ("resume-garbage-checkpoint", ["train", "--resume", "DIR"], _corrupt("checkpoint.pt", b"garbage"), "corrupt"),
    ("resume-truncated-checkpoint", ["train", "--resume", "DIR"], _truncate("checkpoint.pt"), "corrupt"),
    ("resume-future-format", ["train", "--resume", "DIR"], _checkpoint_with(format=99), "format 99"),
    ("resume-other-run", ["train", "--resume", "DIR"],
     _checkpoint_with(config={**RunConfig().to_dict(), "hidden": 4}), "from a different run"),
    ("resume-fewer-epochs", ["train", "--resume", "DIR", "--epochs", "1"], None, "fewer than the 2 epochs"),
    ("resume-live-run", ["train", "--resume", "DIR"], _held_by_another_writer, "being trained by another process"),
    ("resume-unwritable", ["train", "--resume", "DIR"],
     lambda d: ((d / "events.jsonl").unlink(), (d / "events.jsonl").mkdir()), "events.jsonl"),
    ("resume-with-config-flags", ["train", "--resume", "DIR", "--hidden", "4", "--lr", "0.1"], None,
     "only --epochs may change (remove --hidden --lr)"),
    ("resume-with-run-dir", ["train", "--resume", "DIR", "--run-dir", "DIR"], None, "remove --run-dir"),
    ("dashboard-resume-garbage-checkpoint", ["--resume", "DIR"], _corrupt("checkpoint.pt", b"garbage"), "corrupt"),
    ("dashboard-resume-with-config-flags", ["--resume", "DIR", "--preset", "echo"], None, "remove --preset"),
    ("run-dir-holds-a-run", ["train", *TINY, "--run-dir", "DIR"], None, "already holds a run"),
    ("dashboard-run-dir-holds-a-run", [*TINY, "--run-dir", "DIR"], None, "already holds a run"),
    ("run-dir-is-a-file", ["train", *TINY, "--run-dir", "DIR/config.json"], None, "is a file"),
    ("run-dir-under-a-file", ["train", *TINY, "--run-dir", "DIR/config.json/run"], None, "Not a directory"),
]


@pytest.mark.parametrize(("argv", "setup", "named"), [row[1:] for row in BAD_RUN_DIRS],
                         ids=[row[0] for row in BAD_RUN_DIRS])
def test_a_bad_run_directory_is_one_line_exit_2_and_nothing_is_overwritten(
    argv, setup, named, finished_run, tmp_path, capsys
) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_run_directory_is_one_line_exit_2(finished_run, tmp_path, capsys) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    run_dir.chmod(0o555)
    (run_dir / "events.jsonl").chmod(0o444)
    try:
        code, err = run_main(["train", "--resume", str(run_dir)], capsys)
    finally:
        run_dir.chmod(0o755)
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(run_dir) in err


@pytest.mark.parametrize(("argv", "named"), [
    (["--checkpoint-every", "-1"], "checkpoint-every"),
    (["--checkpoint-seconds", "nan"], "checkpoint-seconds"),
    (["--checkpoint-seconds", "soon"], "--checkpoint-seconds"),
])
def test_a_bad_checkpoint_cadence_is_one_line_exit_2(argv, named, capsys) -> None:
    code, err = run_main(["train", *TINY, *argv], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and named in err
