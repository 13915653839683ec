"""Every front end on a crafted log: one line of a finished run's events.jsonl edited to a field
of the wrong type is skipped with a notice, the rest reads as before; a log rewritten by
another tool reads exactly as the original. Never a traceback, never "wrote" after a failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import UnknownEvent, from_dict
from engine.rundir.directory import CHECKPOINT_FILE, EVENTS_FILE, RunDirectory
from tests.engine.test_crafted_logs import JSON_VALUES, LINES
from tests.engine.test_events import EXAMPLES
from tests.tui.helpers import wait_until
from tui.cli import export
from tui.cli.main import main
from tui.dashboard.sources import WatchedSource
from tui.dashboard.state import DashboardState
from tui.metrics import METRICS_FILE
from tui.runs.app import RunsApp
from tui.runs.compare import CompareScreen
from tui.runs.listing import READING, SUMMARY_EVENTS, summarise
from tui.runs.table import RunsTable

TINY = ["--series-length", "300", "--look-back", "5", "--epochs", "2"]
CRAFTED = {  # the five
    "train_loss null": ("epoch_end", "train_loss", None),
    "epoch as text": ("epoch_end", "epoch", "2"),
    "state a number": ("state", "state", 42),
    "predicted past the classes": ("prediction", "predicted", 7),
    "config not an object": ("run_started", "config", "nope"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *TINY, "--run-dir", str(run_dir)]) == 0
    return run_dir


def lines(run_dir: Path) -> list[str]:
    return (run_dir / EVENTS_FILE).read_text(encoding="utf-8").splitlines()


def crafted_copy(finished: Path, tmp_path: Path, name: str, key: str, value) -> tuple[Path, int]:
    """A copy of the finished run with the first ``name`` event's ``key`` set to ``value`` (the
    line kept compact); the edited line's number."""
    run_dir = tmp_path / "crafted"
    shutil.copytree(finished, run_dir)
    log = lines(run_dir)
    index = next(i for i, line in enumerate(log) if json.loads(line)["event"] == name)
    log[index] = json.dumps({**json.loads(log[index]), key: value}, separators=(",", ":"))
    (run_dir / EVENTS_FILE).write_text("\n".join(log) + "\n", encoding="utf-8")
    return run_dir, index + 1


def without_line(finished: Path, tmp_path: Path, number: int) -> Path:
    """The finished run with that line gone: what a reader that skips it should see."""
    run_dir = tmp_path / "reference"
    shutil.copytree(finished, run_dir)
    log = lines(run_dir)
    del log[number - 1]
    (run_dir / EVENTS_FILE).write_text("\n".join(log) + "\n", encoding="utf-8")
    return run_dir


def figures(history) -> dict:
    """What the front ends show of a run's history, comparable between two folds."""
    return {
        "epoch": history.epoch, "state": history.run_state, "label": history.label, "total": history.total_epochs,
        **{f"{name} train": model.train.points() if model.train is not None else model.train_loss
           for name, model in history.models.items()},
        **{f"{name} horizon": model.horizon for name, model in history.models.items()},
        **{f"{name} prediction": model.prediction for name, model in history.models.items()},
    }


@pytest.mark.parametrize(("name", "key", "value"), CRAFTED.values(), ids=CRAFTED)
def test_export_skips_the_line_with_a_notice_and_writes_both_files(name, key, value, finished, tmp_path, capsys):
    run_dir, number = crafted_copy(finished, tmp_path, name, key, value)
    assert main(["export", str(run_dir)]) == 0
    out, err = capsys.readouterr()
    assert f"{run_dir / EVENTS_FILE} line {number} skipped: malformed {name!r} event: {key} is" in err
    assert "Traceback" not in out + err and err.count("\n") == 1
    assert f"wrote {run_dir / METRICS_FILE}" in out
    reference = without_line(finished, tmp_path, number)
    assert main(["export", str(reference)]) == 0
    assert (run_dir / METRICS_FILE).read_text() == (reference / METRICS_FILE).read_text()


def test_export_tells_the_first_few_skipped_lines_then_how_many_more(finished, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    with (run_dir / EVENTS_FILE).open("a") as log:
        log.write('{"event": "epoch_end", "epoch": "2"}\n' * 12)
    assert main(["export", str(run_dir)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == export.SKIP_NOTICES + 1
    assert err[-1] == f"lstm-tui export: {12 - export.SKIP_NOTICES} more lines of {run_dir / EVENTS_FILE} skipped"


def test_an_export_whose_screen_cannot_be_drawn_fails_in_one_line_and_writes_nothing(
        finished, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    monkeypatch.setattr(WatchedSource, "_follow", lambda self: None)  # a dashboard that never replays the log
    monkeypatch.setattr(export.export_run, "__defaults__", ((120, 40), 0.5))
    assert main(["export", str(run_dir)]) == 2
    out, err = capsys.readouterr()
    assert "wrote" not in out and "Traceback" not in err
    assert err.startswith("lstm-tui export: error: could not draw the run") and err.count("\n") == 1
    assert not (run_dir / METRICS_FILE).exists()


@pytest.mark.parametrize(("name", "key", "value"), CRAFTED.values(), ids=CRAFTED)
def test_watch_json_prints_every_other_line_and_a_notice(name, key, value, finished, tmp_path, capsys):
    run_dir, number = crafted_copy(finished, tmp_path, name, key, value)
    assert main(["watch", "--json", str(run_dir)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [line for i, line in enumerate(lines(finished)) if i != number - 1]
    assert err.startswith(f"lstm-tui watch: {run_dir / EVENTS_FILE} line {number} skipped: malformed {name!r}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(("name", "key", "value"), CRAFTED.values(), ids=CRAFTED)
def test_the_runs_listing_counts_the_skipped_line_and_shows_the_rest(name, key, value, finished, tmp_path):
    run_dir, number = crafted_copy(finished, tmp_path, name, key, value)
    summary = summarise(run_dir)
    # The table passes over the lines of events it does not fold (predictions) unread.
    assert (summary.status, summary.reason) == ("finished", "1 log line skipped" if name in SUMMARY_EVENTS else "")
    assert figures(summary.history) == figures(summarise(without_line(finished, tmp_path, number)).history)


@pytest.mark.parametrize(("name", "key", "value"), CRAFTED.values(), ids=CRAFTED)
def test_the_dashboard_state_folds_the_rest_of_the_log(name, key, value, finished, tmp_path):
    run_dir, number = crafted_copy(finished, tmp_path, name, key, value)
    run = RunDirectory(run_dir)
    notices: list[int] = []
    state = DashboardState(run.load_config())
    state.apply_all(run.events(lambda line, why: notices.append(line)))
    reference = DashboardState(run.load_config())
    reference.apply_all(RunDirectory(without_line(finished, tmp_path, number)).events())
    assert notices == [number]
    assert figures(state) == figures(reference)
    assert state.probes.keys() == reference.probes.keys()


@settings(max_examples=200, deadline=None)
@given(index=st.sampled_from(range(len(EXAMPLES))), key=st.sampled_from(
    sorted({k for line in LINES for k in json.loads(line)})), value=JSON_VALUES)
def test_the_dashboard_state_folds_any_event_the_reader_accepts(index, key, value):
    try:
        event = from_dict({**json.loads(LINES[index]), key: value})
    except UnknownEvent:
        return
    state = DashboardState()
    state.apply_all([*EXAMPLES, event])


@pytest.mark.parametrize(("name", "key", "value"), CRAFTED.values(), ids=CRAFTED)
async def test_the_runs_compare_view_shows_a_run_with_a_crafted_line(name, key, value, finished, tmp_path):
    crafted_copy(finished, tmp_path, name, key, value)
    app = RunsApp(tmp_path)  # the crafted copy is the one run there
    async with app.run_test(size=(170, 40)) as pilot:
        await wait_until(pilot, lambda: not app.loading and all(
            r.status != READING for r in app.query_one(RunsTable).runs.values()), what="the run read")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        await wait_until(pilot, lambda: [r.epochs_done for r in app.screen.runs] == [2], what="its log")
        await pilot.pause()
        assert app.return_code is None  # still running: nothing raised


def test_a_run_with_a_crafted_line_resumes_and_its_log_reads_on(finished, tmp_path, capsys):
    run_dir, number = crafted_copy(finished, tmp_path, *CRAFTED["train_loss null"])
    checkpoint = (run_dir / CHECKPOINT_FILE).read_bytes()
    assert main(["train", "--resume", str(run_dir), "--epochs", "3"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (run_dir / CHECKPOINT_FILE).read_bytes() != checkpoint  # epoch 3 trained, then saved
    summary = summarise(run_dir)
    assert (summary.epochs_done, summary.reason) == (3, "1 log line skipped")


# -- a log another tool rewrote -------------------------------------------------------------------


def rewritten_copy(finished: Path, tmp_path: Path) -> Path:
    """The finished run's log as a tool might leave it: keys sorted, spaces after separators,
    every non-ASCII character escaped, whole floats as integers, CRLF line ends, a BOM."""
    def ints(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return [ints(v) for v in value]
        if isinstance(value, dict):
            return {k: ints(v) for k, v in value.items()}
        return value

    run_dir = tmp_path / "rewritten"
    shutil.copytree(finished, run_dir)
    text = "".join(json.dumps(ints(json.loads(line)), sort_keys=True, ensure_ascii=True) + "\r\n"
                   for line in lines(finished))
    (run_dir / EVENTS_FILE).write_bytes(b"\xef\xbb\xbf" + text.encode())
    return run_dir


def test_a_rewritten_log_reads_exactly_as_the_original_in_every_front_end(finished, tmp_path, capsys):
    run_dir = rewritten_copy(finished, tmp_path)
    original = tmp_path / "original"
    shutil.copytree(finished, original)
    assert main(["watch", "--json", str(run_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == lines(finished)
    assert main(["export", str(run_dir)]) == main(["export", str(original)]) == 0
    assert "skipped" not in capsys.readouterr().err
    assert (run_dir / METRICS_FILE).read_text() == (original / METRICS_FILE).read_text()
    assert figures(summarise(run_dir).history) == figures(summarise(original).history)
    assert summarise(run_dir).reason == ""
    assert dashboard_state(run_dir) == dashboard_state(original)


def dashboard_state(run_dir: Path) -> dict:
    run = RunDirectory(run_dir)
    state = DashboardState(run.load_config())
    state.apply_all(run.events())
    probes = {name: (probe.arrays, probe.saturation, probe.window) for name, probe in state.probes.items()}
    return {**figures(state), "config": state.config, "device": state.device, "probes": probes,
            "flows": {name: flow.norms for name, flow in state.flows.items()}}
