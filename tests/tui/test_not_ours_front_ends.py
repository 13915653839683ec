"""The user's link, directory or read-only file in place of a file a front end writes: `train` and
`export` say so in one line and exit 2; the dashboard's `e` says so in an alert. Nothing of the
user's is written through or replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import RunConfig
from tests.tui.helpers import notifications, wait_until
from tui.cli.main import main
from tui.dashboard.app import DashboardApp

SIZE = (120, 40)
TINY = ["--series-length", "300", "--look-back", "5"]


def users_link(path: Path) -> Path:
    target = path.parent.parent / f"users-{path.name}"
    target.write_text("the user's\n")
    path.symlink_to(target)
    return target


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.splitlines()


def test_train_over_a_link_in_place_of_the_log_is_one_line_and_exit_2(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    target = users_link(run_dir / "events.jsonl")
    code, err = run_main(["train", *TINY, "--epochs", "2", "--run-dir", str(run_dir)], capsys)
    assert code == 2
    assert err == [f"lstm-tui train: error: {run_dir / 'events.jsonl'} is a symbolic link: not written "
                   "(move it away, or make it writable)"]
    assert target.read_text() == "the user's\n" and (run_dir / "events.jsonl").is_symlink()


def test_export_over_a_read_only_metrics_csv_is_one_line_and_exit_2(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run_dir)]) == 0
    metrics = run_dir / "metrics.csv"
    metrics.write_text("the user's\n")
    metrics.chmod(0o444)
    capsys.readouterr()
    code, err = run_main(["export", str(run_dir)], capsys)
    assert code == 2
    assert err[-1] == f"lstm-tui export: error: {metrics} is read-only: not written (move it away, or make it writable)"
    assert metrics.read_text() == "the user's\n"


async def test_e_over_a_directory_in_place_of_screen_svg_is_an_error_alert(tmp_path) -> None:
    (tmp_path / "screen.svg").mkdir()
    app = DashboardApp(RunConfig(series_length=300, look_back=5, epochs=2, device="cpu"), run_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.state.run_state == "finished", what="the run's end")
        await pilot.press("e")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in notifications(app)), what="the alert")
        [toast] = [n for n in notifications(app) if n.severity == "error"]
        assert toast.message == f"{tmp_path / 'screen.svg'} is a directory: not written (move it away, or make it writable)"
    assert (tmp_path / "screen.svg").is_dir() and not (tmp_path / "metrics.csv").exists()
