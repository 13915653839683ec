"""Events: plain data that survives JSON; the run log: config.json plus one event per line."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from engine.config import RunConfig
from engine.events import (
    EVENT_TYPES,
    FINAL_STATES,
    Alert,
    Cause,
    CommandApplied,
    EpochEnd,
    Gates,
    GradientFlow,
    GruGates,
    Hidden,
    Prediction,
    RunFailed,
    RunFinished,
    RunStarted,
    RunState,
    RunStateChanged,
    UnknownEvent,
    from_dict,
)
from engine.rundir.directory import CONFIG_FILE, EVENTS_FILE, RunDirectory
from engine.rundir.files import RunDirError
from engine.rundir.log import event_to_json, read_events

EXAMPLES = [
    RunStarted(
        config=RunConfig().to_dict(),
        device="cpu",
        device_name="x86_64, 2 threads of 2 cores",
        parameters={"lstm": 563, "rnn": 173},
        train_windows=7990,
        val_windows=1990,
        data_sha256="ab" * 32,
        chance_loss=math.log(3),
        best_loss=math.log(3),
        batches_per_epoch=1,
        chunks_per_batch=1,
    ),
    EpochEnd(
        model="lstm",
        epoch=3,
        train_loss=1.0985,
        val_loss=1.1002,
        val_acc=0.3341,
        grad_norm=0.0123,
        lr=0.01,
        seconds=0.25,
        samples_per_s=31960.5,
    ),
    EpochEnd(
        model="rnn",
        epoch=1,
        train_loss=1.2,
        val_loss=None,
        val_acc=None,
        grad_norm=1e-9,
        lr=0.005,
        seconds=1e-3,
        samples_per_s=1e6,
    ),
    Prediction(model="rnn", epoch=3, probabilities=[0.2, 0.5, 0.3], predicted=1, true=2),
    Prediction(model="lstm", epoch=1, probabilities=[0.2, 0.5, 0.3], predicted=1, true=None),
    RunStateChanged(state="paused", reason="paused by user", epoch=12),
    RunStateChanged(state="running"),
    CommandApplied(command="scale_lr", detail="app", lr=0.005),
    CommandApplied(command="pause"),
    Alert(level="error", message="LSTM epoch 4: loss nan"),
    RunFailed(message="RuntimeError: boom", traceback="Traceback (most recent call last):\n  ..."),
    RunFinished(
        summary={
            "lstm": {
                "epochs": 3,
                "val_loss": 1.09,
                "val_acc": 0.35,
                "probabilities": [0.3, 0.3, 0.4],
                "predicted": 2,
            }
        }
    ),
    Gates(
        model="lstm",
        epoch=5,
        window_start=9_990,
        window=[0, 2, 1],
        i=[[0.5, 0.95], [0.05, 0.6]],
        f=[[0.88, 0.91], [0.9, 0.12]],
        g=[[-0.3, 0.99], [0.1, -0.95]],
        o=[[0.4, 0.5], [0.6, 0.7]],
        c=[[-0.12, 1.5], [0.3, -2.25]],
        h=[[-0.05, 0.45], [0.17, -0.68]],
        saturation={k: {"low": [0.5, 0.0], "high": [0.0, 0.5]} for k in "ifgo"},
    ),
    GruGates(
        model="gru",
        epoch=5,
        window_start=9_990,
        window=[0, 2, 1],
        r=[[0.5, 0.95], [0.05, 0.6]],
        z=[[0.88, 0.91], [0.9, 0.12]],
        n=[[-0.3, 0.99], [0.1, -0.95]],
        h=[[-0.05, 0.45], [0.17, -0.68]],
        saturation={k: {"low": [0.5, 0.0], "high": [0.0, 0.5]} for k in "rzn"},
    ),
    Hidden(
        model="rnn",
        epoch=5,
        window_start=9_990,
        window=[0, 2, 1],
        h=[[0.99, -0.2], [0.5, -0.97]],
        saturation=0.5,
        saturation_per_unit=[0.5, 0.5],
    ),
    GradientFlow(
        model="lstm", epoch=5, norms=[0.06, 0.008, 1e-5], cell_norms=[0.03, 0.015, 0.009], horizon=1,
        cell_horizon=2,
    ),
    GradientFlow(model="rnn", epoch=5, norms=[0.07, 0.04], cell_norms=None, horizon=1, cell_horizon=None),
]


def test_examples_cover_every_event_type():
    assert {type(e) for e in EXAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.name)
def test_an_event_round_trips_through_json(event):
    again = from_dict(json.loads(json.dumps(event.to_dict())))
    assert type(again) is type(event)
    assert again == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.name)
def test_to_dict_names_the_event_and_holds_only_plain_data(event):
    data = event.to_dict()
    assert data["event"] == event.name
    assert isinstance(data["time"], float)
    json.dumps(data, allow_nan=False)  # nothing that JSON cannot hold


def test_events_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EXAMPLES[1].epoch = 4  # type: ignore[misc]


def test_from_dict_rejects_an_unknown_event_name():
    with pytest.raises(UnknownEvent):
        from_dict({"event": "epoch_started", "time": 1.0})
    with pytest.raises(UnknownEvent):
        from_dict({"time": 1.0})


def test_from_dict_rejects_unknown_fields():
    data = {**RunStateChanged(state="running").to_dict(), "colour": "green"}
    with pytest.raises(UnknownEvent):
        from_dict(data)


# -- the run log ---------------------------------------------------------------------------


def test_the_run_writer_writes_the_config_and_one_json_object_per_event(tmp_path):
    cfg = RunConfig(series_length=300, look_back=5, epochs=3)
    log = RunDirectory(tmp_path / "run").open_writer(cfg)
    for event in EXAMPLES:
        log(event)
    log.close()
    assert RunConfig.from_dict(json.loads((tmp_path / "run" / CONFIG_FILE).read_text())) == cfg
    lines = (tmp_path / "run" / EVENTS_FILE).read_text().splitlines()
    assert len(lines) == len(EXAMPLES)
    for line, event in zip(lines, EXAMPLES, strict=True):
        data = json.loads(line)
        assert isinstance(data, dict)
        assert data["event"] == event.name
    assert list(read_events(tmp_path / "run" / EVENTS_FILE)) == EXAMPLES


def test_the_run_writer_is_readable_before_it_is_closed(tmp_path):
    log = RunDirectory(tmp_path).open_writer(RunConfig())
    log(EXAMPLES[0])
    log(EXAMPLES[1])
    assert [e.name for e in read_events(tmp_path / EVENTS_FILE)] == ["run_started", "epoch_end"]
    log.close()


def test_the_run_writer_appends_to_an_existing_log(tmp_path):
    for event in EXAMPLES[:2]:
        log = RunDirectory(tmp_path).open_writer(RunConfig())
        log(event)
        log.close()
    assert list(read_events(tmp_path / EVENTS_FILE)) == EXAMPLES[:2]


def test_read_events_skips_a_truncated_last_line(tmp_path):
    path = tmp_path / EVENTS_FILE
    whole = [event_to_json(e) + "\n" for e in EXAMPLES[:3]]
    torn = event_to_json(EXAMPLES[3])[:25]
    path.write_text("".join(whole) + torn, encoding="utf-8")
    assert list(read_events(path)) == EXAMPLES[:3]


def test_read_events_skips_blank_and_foreign_lines(tmp_path):
    path = tmp_path / EVENTS_FILE
    path.write_text(
        event_to_json(EXAMPLES[0])
        + "\n\n"
        + '{"event": "from_the_future"}\n'
        + event_to_json(EXAMPLES[1])
        + "\n",
        encoding="utf-8",
    )
    assert list(read_events(path)) == EXAMPLES[:2]


def _copied_json(event) -> str:  # noqa: ANN001 - the log's line as it was first written: to_dict, copied
    from engine.rundir.log import _plain

    return json.dumps(_plain(event.to_dict()), separators=(",", ":"), allow_nan=False)


NON_FINITE_EPOCH = EpochEnd(model="rnn", epoch=2, train_loss=1.1, val_loss=math.inf, val_acc=0.3, grad_norm=math.nan,
                            lr=0.01, seconds=0.1, samples_per_s=10.0)


@pytest.mark.parametrize("event", [*EXAMPLES, NON_FINITE_EPOCH], ids=lambda e: e.name)
def test_the_logs_line_of_an_event_is_its_to_dict_byte_for_byte(event):
    """The log reads the fields without copying them; its line is still exactly to_dict's."""
    assert event_to_json(event) == _copied_json(event)


def test_a_non_finite_number_is_written_as_valid_json_and_read_back_as_a_float(tmp_path):
    event = EpochEnd(
        model="rnn",
        epoch=2,
        train_loss=1.1,
        val_loss=math.inf,
        val_acc=0.3,
        grad_norm=math.nan,
        lr=0.01,
        seconds=0.1,
        samples_per_s=10.0,
    )
    line = event_to_json(event)
    json.loads(line)  # strict JSON: no bare NaN or Infinity
    assert "NaN" not in line and "Infinity" not in line
    path = tmp_path / EVENTS_FILE
    path.write_text(line + "\n", encoding="utf-8")
    (again,) = read_events(path)
    assert isinstance(again.val_loss, float) and math.isinf(again.val_loss)
    assert isinstance(again.grad_norm, float) and math.isnan(again.grad_norm)


def test_an_unwritable_run_directory_is_a_run_dir_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RunDirError):
        RunDirectory(blocker / "run").open_writer(RunConfig())


# -- the run state: a closed set of words, with a cause --------------------------------------------


def test_a_state_event_holds_members_of_the_closed_sets_and_writes_plain_words():
    event = RunStateChanged(state="paused", cause="non_finite", reason="non-finite loss in LSTM")
    assert (event.state, event.cause) == (RunState.PAUSED, Cause.NON_FINITE)
    data = json.loads(event_to_json(event))
    assert (data["event"], data["state"], data["cause"]) == ("state", "paused", "non_finite")
    assert f"{event.state} {event.cause}" == "paused non_finite"


def test_a_state_outside_the_set_is_refused():
    with pytest.raises(ValueError):
        RunStateChanged(state="dancing")
    with pytest.raises(UnknownEvent):
        from_dict({"event": "state", "time": 1.0, "state": "dancing"})


def test_an_old_state_event_has_no_cause_and_a_later_versions_cause_is_dropped():
    old = from_dict({"event": "state", "time": 1.0, "state": "stopped", "reason": "stopped by user", "epoch": 2})
    assert (old.state, old.cause) == (RunState.STOPPED, None)
    later = from_dict({"event": "state", "time": 1.0, "state": "paused", "cause": "cosmic_ray"})
    assert (later.state, later.cause) == (RunState.PAUSED, None)


def test_an_old_command_event_has_no_config():
    assert from_dict({"event": "command", "time": 1.0, "command": "pause", "detail": "app"}).config is None


def test_the_final_states_are_finished_stopped_and_failed():
    assert {"finished", "stopped", "failed"} == FINAL_STATES
