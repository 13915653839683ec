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
