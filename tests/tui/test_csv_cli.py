"""The csv task on the command line: a bad file, a missing weather extra, or a run whose file has
changed since is one line, exit 2, and nothing is written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.config import build_config
from engine.events import RunStateChanged
from engine.rundir.directory import CHECKPOINT_FILE, RunDirectory
from engine.session import Session
from tests.engine.recorder import Recorder
from tui.cli.main import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


GOOD = "day,sky\n" + "".join(f"{i},{'sun' if i % 3 else 'rain'}\n" for i in range(60))
BAD_FILES = {
    "a missing file": (None, "--column", "sky", "no file"),
    "a missing column": (GOOD, "--column", "weather", "no column 'weather' (its columns: 'day', 'sky')"),
    "a missing order-by column": (GOOD, "--order-by", "date", "no column 'date'"),
    "one class": ("sky\n" + "sun\n" * 60, "--column", "sky", "has one value only"),
    "an empty cell": (GOOD.replace("\n7,sun\n", "\n7,\n"), "--column", "sky", "line 9 of"),
    "not UTF-8": (GOOD.replace("sun", "été").encode("latin-1"), "--column", "sky", "is not UTF-8 text"),
    "not CSV": (GOOD.replace("\n7,sun\n", "\n7,sun,x\n"), "--column", "sky", "is not CSV: line 9 has 3 fields"),
}


@pytest.mark.parametrize(("content", "flag", "value", "says"), BAD_FILES.values(), ids=BAD_FILES)
def test_a_bad_csv_is_one_line_exit_2_before_any_run_directory_is_made(content, flag, value, says, tmp_path,
                                                                        monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.csv"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        data.write_text(content, encoding="utf-8")
    column = ["--column", "sky"] if flag == "--order-by" else []
    code, err = run_main(["train", "--task", "csv", "--data", str(data), *column, flag, value, "--epochs", "1"],
                         capsys)
    assert code == 2 and says in one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["data.csv"] if content is not None else [])


def test_the_seattle_preset_without_its_extra_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vega_datasets" else real(name, *a))
    monkeypatch.chdir(tmp_path)
    code, err = run_main(["train", "--preset", "seattle"], capsys)
    assert code == 2 and one_line(err).endswith("pip install 'lstm-tui[weather]'")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def changed_run(tmp_path) -> Path:
    """A finished csv run whose file has had a row added since."""
    data = tmp_path / "data.csv"
    data.write_text(GOOD, encoding="utf-8")
    cfg = build_config({"task": "csv", "data": str(data), "column": "sky", "look_back": 3, "epochs": 1,
                        "device": "cpu", "probe_every": 0})
    rec = Recorder()
    session = Session(cfg, [rec], run=RunDirectory(tmp_path / "run").open_writer(cfg)).start()
    rec.wait_for(lambda e: isinstance(e, RunStateChanged) and e.state == "finished")
    session.close()
    with data.open("a", encoding="utf-8") as f:
        f.write("60,sun\n")
    return tmp_path / "run"


def test_resuming_a_run_whose_file_has_changed_is_one_line_exit_2_and_keeps_the_checkpoint(changed_run, capsys):
    saved = (changed_run / CHECKPOINT_FILE).read_bytes()
    log = (changed_run / "events.jsonl").read_bytes()
    code, err = run_main(["train", "--resume", str(changed_run), "--epochs", "2"], capsys)
    assert code == 2 and "has changed since the run began" in one_line(err)
    assert (changed_run / CHECKPOINT_FILE).read_bytes() == saved
    assert (changed_run / "events.jsonl").read_bytes() == log


def test_watching_a_run_whose_file_has_changed_is_one_line_exit_2(changed_run, capsys):
    code, err = run_main(["watch", str(changed_run)], capsys)
    assert code == 2 and "has changed since the run began" in one_line(err)
