"""A log is data: a line whose fields do not have their types is skipped with the notice a torn
line gets, whatever it holds; a log another tool rewrote reads exactly as the original.

The one validator is engine.events.from_dict, driven by each event's type hints; the one
reader (engine.rundir.log) turns what it refuses into a skipped line.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import EpochEnd, Prediction, UnknownEvent, from_dict
from engine.history import HISTORY_EVENTS, RunHistory
from engine.rundir.log import event_to_json, read_events
from tests.engine.test_events import EXAMPLES

LINES = [event_to_json(event) for event in EXAMPLES]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read(path: Path, only=None) -> tuple[list[str], list[tuple[int, str]]]:
    """The events of a log as the writer's JSON, and the skip notices (line, why)."""
    notices: list[tuple[int, str]] = []
    events = [event_to_json(e) for e in read_events(path, lambda n, why: notices.append((n, why)), only=only)]
    return events, notices


def edited(name: str, key: str, value) -> tuple[list[str], int]:
    """LINES with the first ``name`` event's ``key`` set to ``value``, and that line's number."""
    index = next(i for i, event in enumerate(EXAMPLES) if event.name == name)
    data = json.loads(LINES[index])
    data[key] = value
    return [*LINES[:index], json.dumps(data, separators=(",", ":")), *LINES[index + 1:]], index + 1


# -- one bad field: the line is skipped, with a notice naming the field -----------------------------

CRAFTED = {  # the issue's cases first, then others of the same kind
    "train_loss null": ("epoch_end", "train_loss", None, "train_loss is null, not a number"),
    "epoch as text": ("epoch_end", "epoch", "2", 'epoch is "2", not a whole number'),
    "state a number": ("state", "state", 42, "state is 42, not one of"),
    "predicted past the classes": ("prediction", "predicted", 7, "predicted is class 7, but there are 3 probabilities"),
    "predicted past any run's classes": ("prediction", "predicted", 64, "predicted is 64, not between 0 and 63"),
    "config not an object": ("run_started", "config", "nope", 'config is "nope", not an object'),
    "config with a setting of the wrong type": ("run_started", "config", {"epochs": "3"}, "config.epochs"),
    "a boolean for a whole number": ("epoch_end", "epoch", True, "epoch is true, not a whole number"),
    "a negative epoch": ("epoch_end", "epoch", -1, "epoch is -1, not 1 or more"),
    "a whole number past 64 bits": ("state", "epoch", 2**64, "not a whole number of 64 bits"),
    "a time no clock shows": ("alert", "time", 1e300, "time is 1e+300, not between 0 and"),
    "a number where text goes": ("alert", "message", 3, "message is 3, not text"),
    "probabilities of two classes for a true third": ("prediction", "probabilities", [0.5, 0.5],
                                                      "true is class 2, but there are 2 probabilities"),
    "probabilities of one class": ("prediction", "probabilities", [1.0], "probabilities has 1 items, not 2 to 64"),
    "classes of one name twice": ("run_started", "classes", ["rain", "rain"], "classes names a class twice"),
    "a baseline as text": ("run_started", "baselines", {"markov-1": "low"}, "baselines.markov-1 is \"low\", not a number"),
    "a summary predicting past its probabilities": ("run_finished", "summary", {"lstm": {
        "probabilities": [0.5, 0.5], "predicted": 2}}, "summary.lstm: predicted is class 2, but there are 2"),
    "a list of lists for norms": ("gradient_flow", "norms", [[1.0]], "norms[0] is [1.0], not a number"),
    "cell norms of another length": ("gradient_flow", "cell_norms", [1.0], "cell_norms and norms differ"),
    "a gate of another shape": ("gates", "i", [[0.5]], "is 2 x 2 but i is 1 x 1"),
    "a ragged gate": ("gates", "f", [[0.5], [0.5, 0.5]], "f is not rectangular"),
    "a class outside the window's classes": ("hidden", "window", [0, 1, 64], "window[2] is 64"),
    "a gru gate of another shape": ("gru_gates", "z", [[0.5]], "z is 1 x 1 but r is 2 x 2"),
    "a gru saturation of an lstm gate": ("gru_gates", "saturation", {"f": {"low": [0.5, 0.5], "high": [0.0, 0.0]}},
                                         "saturation of 'f', which is not a gate"),
    "saturation without its high shares": ("gates", "saturation", {"i": {"low": [0.5, 0.5]}}, "has no 'high'"),
    "saturation per unit of another length": ("hidden", "saturation_per_unit", [0.5], "one share per unit"),
    "a nested object in the summary": ("run_finished", "summary", {"lstm": {"val_acc": {"a": 1}}},
                                       "summary.lstm.val_acc is {\"a\": 1}, not a number"),
    "a summary line that is no object": ("run_finished", "summary", {"lstm": 3}, "summary.lstm is 3, not an object"),
    "an unknown field": ("alert", "colour", "green", "unknown field 'colour'"),
}


@pytest.mark.parametrize(("name", "key", "value", "says"), CRAFTED.values(), ids=CRAFTED)
def test_a_line_with_a_field_of_the_wrong_type_is_skipped_with_a_notice_naming_it(name, key, value, says, tmp_path):
    lines, number = edited(name, key, value)
    events, notices = read(write_log(tmp_path / "events.jsonl", lines))
    assert events == [line for i, line in enumerate(LINES) if i != number - 1]
    [(line, why)] = notices
    assert line == number and f"malformed {name!r} event" in why and says in why


def test_a_line_without_a_field_that_has_no_default_is_skipped_naming_it(tmp_path):
    data = json.loads(LINES[1])
    del data["train_loss"]
    _, notices = read(write_log(tmp_path / "events.jsonl", [json.dumps(data)]))
    assert notices == [(1, "malformed 'epoch_end' event: no train_loss")]


@pytest.mark.parametrize("line", ["1" * 5000, "[" * 100_000, '{"event": "alert", "time": ' + "9" * 5000 + "}"],
                         ids=["a number of 5,000 digits", "nesting 100,000 deep", "a 5,000-digit time"])
def test_json_that_python_cannot_read_is_a_skipped_line(line, tmp_path):
    events, notices = read(write_log(tmp_path / "events.jsonl", [line, LINES[0]]))
    assert events == [LINES[0]]
    assert notices == [(1, "not valid JSON")]


@settings(max_examples=300, deadline=None)
@given(index=st.sampled_from(range(len(EXAMPLES))), key=st.text(max_size=3) | st.sampled_from(
    sorted({k for line in LINES for k in json.loads(line)})), value=JSON_VALUES)
def test_any_value_in_any_field_is_an_event_every_fold_takes_or_a_refusal(index, key, value):
    data = {**json.loads(LINES[index]), key: value}
    try:
        event = from_dict(data)
    except UnknownEvent:
        return  # the reader skips the line with this message
    again = from_dict(json.loads(event_to_json(event)))  # what was accepted is well formed
    assert event_to_json(again) == event_to_json(event)
    history = RunHistory(keep_epochs=True)
    history.apply_all([*EXAMPLES, event])


def test_a_whole_float_written_as_an_integer_reads_as_a_float(tmp_path):
    lines, _ = edited("epoch_end", "train_loss", 2)
    [event] = [e for e in read_events(write_log(tmp_path / "events.jsonl", lines)) if isinstance(e, EpochEnd)][:1]
    assert event.train_loss == 2.0 and isinstance(event.train_loss, float)


def test_non_finite_numbers_read_back_in_nested_lists_too(tmp_path):
    line = event_to_json(Prediction(model="lstm", epoch=1, probabilities=[math.nan, math.inf, 0.0], predicted=2,
                                    true=None))
    [event] = read_events(write_log(tmp_path / "events.jsonl", [line]))
    assert math.isnan(event.probabilities[0]) and event.probabilities[1] == math.inf


# -- another tool's rewrite reads as the original ---------------------------------------------------

REWRITES = st.fixed_dictionaries({
    "separators": st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
    "sort_keys": st.booleans(),
    "reverse_keys": st.booleans(),
    "ensure_ascii": st.booleans(),
    "whole_floats_as_ints": st.booleans(),
    "bom": st.booleans(),
    "line_end": st.sampled_from(["\n", "\r\n"]),
})


def rewrite(line: str, how: dict) -> str:
    def ints(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, list):
            return [ints(v) for v in value]
        if isinstance(value, dict):
            return {k: ints(v) for k, v in value.items()}
        return value

    data = json.loads(line)
    if how["reverse_keys"]:
        data = dict(reversed(data.items()))
    if how["whole_floats_as_ints"]:
        data = ints(data)
    return json.dumps(data, separators=how["separators"], sort_keys=how["sort_keys"],
                      ensure_ascii=how["ensure_ascii"])


UNICODE = [*LINES, event_to_json(EXAMPLES[9].__class__(level="warning", message="pluie ☂ — « 雨 »"))]


@settings(max_examples=60, deadline=None)
@given(how=REWRITES)
def test_a_log_rewritten_by_another_tool_reads_exactly_as_the_original(how):
    with tempfile.TemporaryDirectory() as tmp:
        original = write_log(Path(tmp) / "original.jsonl", UNICODE)
        text = how["line_end"].join(rewrite(line, how) for line in UNICODE) + how["line_end"]
        rewritten = Path(tmp) / "rewritten.jsonl"
        rewritten.write_bytes(("\ufeff" if how["bom"] else "").encode() + text.encode("utf-8"))
        assert read(rewritten) == read(original)
        # The runs table's reader passes lines over by their first bytes; a rewrite's are others.
        assert read(rewritten, only=HISTORY_EVENTS) == read(original, only=HISTORY_EVENTS)


# -- a log that is not a file ---------------------------------------------------------------------


def test_a_fifo_in_the_logs_place_is_an_error_at_once_not_a_reader_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "events.jsonl")
    outcome: list[OSError] = []

    def read_it() -> None:
        try:
            list(read_events(tmp_path / "events.jsonl"))
        except OSError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read_it, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "the reader waits on the FIFO"
    assert "not a regular file" in str(outcome[0])
