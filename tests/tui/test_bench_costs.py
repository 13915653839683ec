"""`lstm-tui bench`'s cost table: each model's parameters and training epoch against the RNN's."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from engine.config import NUM_CLASSES, RunConfig
from engine.events import EpochEnd
from engine.models import MODEL_CLASSES, parameter_count
from engine.trainer import Trainer
from tui.bench.costs import model_costs, print_costs
from tui.cli.main import build_parser, main

HIDDEN = 4
TINY = RunConfig(series_length=120, look_back=4, hidden=HIDDEN, device="cpu")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight blocks per cell: i f g o; r z n; one tanh
COST_KEYS = {"timing", "baseline", "models", "setting", "series_length", "look_back", "hidden", "layers",
             "batch_size", "train_windows", "device", "rounds", "epochs_per_round", "warmup_epochs", "orders",
             "per_model"}
MODEL_KEYS = {"parameters", "parameters_over_rnn", "epoch_ms", "epoch_ms_min", "epoch_ms_max",
              "epoch_ms_each_round", "time_over_rnn", "time_over_rnn_min", "time_over_rnn_max",
              "time_over_rnn_each_round"}


def expected_parameters(kind: str, inputs: int = NUM_CLASSES, hidden: int = HIDDEN) -> int:
    """One layer's weights W_ih, W_hh and both biases, per gate block, plus the linear head."""
    return GATES[kind] * hidden * (inputs + hidden + 2) + hidden * NUM_CLASSES + NUM_CLASSES


def trained_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model of each epoch the Trainer runs, from now on."""
    order: list[str] = []
    original = Trainer.run_epoch

    def recorded(self: Trainer, between_batches, emit) -> None:  # noqa: ANN001
        order.append(self.cfg.models)
        original(self, between_batches, emit)

    monkeypatch.setattr(Trainer, "run_epoch", recorded)
    return order


def fake_clock(monkeypatch: pytest.MonkeyPatch, seconds: dict[str, list[float]]) -> None:
    """Each model's Trainer reports, epoch after epoch, training epochs of these seconds."""
    taken = {name: iter(values) for name, values in seconds.items()}

    def run_epoch(self: Trainer, between_batches, emit) -> None:  # noqa: ANN001
        name = self.cfg.models
        n = len(self.data.train)
        emit(EpochEnd(model=name, epoch=1, train_loss=1.0, val_loss=1.0, val_acc=0.3, grad_norm=1.0, lr=0.01,
                      seconds=1.0, samples_per_s=n / next(taken[name])))

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)


def test_the_cost_table_has_its_keys_for_every_chosen_model_in_order() -> None:
    costs = model_costs(TINY, ("gru", "lstm", "rnn"), rounds=2, epochs=1, warmup=0)
    assert set(costs) == COST_KEYS
    assert costs["models"] == list(costs["per_model"]) == ["gru", "lstm", "rnn"]
    assert costs["baseline"] == "rnn" and costs["rounds"] == 2 and costs["epochs_per_round"] == 1
    assert costs["train_windows"] == costs["batch_size"] == len(Trainer(TINY, torch.device("cpu")).data.train)
    for cost in costs["per_model"].values():
        assert set(cost) == MODEL_KEYS
        assert len(cost["epoch_ms_each_round"]) == len(cost["time_over_rnn_each_round"]) == 2
        assert cost["epoch_ms_min"] <= cost["epoch_ms"] <= cost["epoch_ms_max"]
        assert cost["epoch_ms_min"] > 0


@pytest.mark.parametrize("kind", ["lstm", "rnn", "gru"])
def test_parameter_counts_are_those_of_freshly_built_models(kind: str) -> None:
    fresh = MODEL_CLASSES[kind](NUM_CLASSES, HIDDEN, NUM_CLASSES, 1)
    costs = model_costs(TINY, (kind,), rounds=1, epochs=1, warmup=0)
    assert costs["per_model"][kind]["parameters"] == parameter_count(fresh) == expected_parameters(kind)


def test_parameter_ratios_are_to_the_rnns_count() -> None:
    costs = model_costs(TINY, ("lstm", "rnn", "gru"), rounds=1, epochs=1, warmup=0)["per_model"]
    rnn = expected_parameters("rnn")
    assert costs["lstm"]["parameters_over_rnn"] == pytest.approx(expected_parameters("lstm") / rnn)
    assert costs["gru"]["parameters_over_rnn"] == pytest.approx(expected_parameters("gru") / rnn)
    assert costs["rnn"]["parameters_over_rnn"] == 1.0


def test_an_epochs_time_is_the_trainers_clock_of_its_training_split_and_each_ratio_is_to_the_rnns_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two rounds of two epochs: round 1 then round 2, each model's epochs in turn.
    fake_clock(monkeypatch, {"lstm": [0.3, 0.5, 0.9, 0.9], "rnn": [0.1, 0.1, 0.2, 0.4], "gru": [0.2, 0.2, 0.6, 0.6]})
    costs = model_costs(TINY, ("lstm", "rnn", "gru"), rounds=2, epochs=2, warmup=0)
    per_model = costs["per_model"]
    assert per_model["lstm"]["epoch_ms_each_round"] == pytest.approx([400, 900])
    assert per_model["rnn"]["epoch_ms_each_round"] == pytest.approx([100, 300])
    assert per_model["gru"]["epoch_ms_each_round"] == pytest.approx([200, 600])
    for name, cost in per_model.items():
        rounds = cost["epoch_ms_each_round"]
        ratios = [t / b for t, b in zip(rounds, per_model["rnn"]["epoch_ms_each_round"])]
        assert cost["time_over_rnn_each_round"] == pytest.approx(ratios), name
        assert cost["time_over_rnn"] == pytest.approx(statistics.median(ratios))
        assert (cost["time_over_rnn_min"], cost["time_over_rnn_max"]) == pytest.approx((min(ratios), max(ratios)))
        assert cost["epoch_ms"] == pytest.approx(statistics.median(rounds))
        assert (cost["epoch_ms_min"], cost["epoch_ms_max"]) == pytest.approx((min(rounds), max(rounds)))
    assert per_model["lstm"]["time_over_rnn_each_round"] == pytest.approx([4.0, 3.0])
    assert per_model["rnn"]["time_over_rnn"] == 1.0


def test_the_models_take_turns_every_epoch_the_order_turning_about(monkeypatch: pytest.MonkeyPatch) -> None:
    order = trained_order(monkeypatch)
    costs = model_costs(TINY, ("lstm", "rnn", "gru"), rounds=2, epochs=1, warmup=1)
    assert order == ["lstm", "rnn", "gru",  # warm-up, untimed
                     "gru", "rnn", "lstm",  # round 1
                     "lstm", "rnn", "gru"]  # round 2
    assert costs["orders"] == [["lstm", "rnn", "gru"], ["gru", "rnn", "lstm"]]


def test_without_the_rnn_the_table_has_no_ratios_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    costs = model_costs(TINY, ("gru", "lstm"), rounds=1, epochs=1, warmup=0)
    for cost in costs["per_model"].values():
        assert cost["parameters_over_rnn"] is cost["time_over_rnn"] is cost["time_over_rnn_each_round"] is None
    print_costs(costs)
    out = capsys.readouterr().out
    assert "add rnn to --models" in out and "GRU" in out and "LSTM" in out


def test_the_printed_table_has_a_line_for_each_model_with_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    costs = model_costs(TINY, ("lstm", "rnn", "gru"), rounds=1, epochs=1, warmup=0)
    print_costs(costs)
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.split()[0] in ("LSTM", "RNN", "GRU")}
    assert list(rows) == ["LSTM", "RNN", "GRU"]
    assert rows["LSTM"][1] == str(expected_parameters("lstm"))
    assert rows["LSTM"][2] == f"{expected_parameters('lstm') / expected_parameters('rnn'):.2f}"
    assert rows["RNN"][2] == "1.00"


BENCH_TINY = ["--series-length", "120", "--look-back", "4", "--hidden", "4", "--device", "cpu",
              "--rounds", "1", "--bench-epochs", "1"]


def test_bench_only_costs_prints_just_the_cost_table_of_all_three_models_by_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "costs", "--json", *BENCH_TINY]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["model_costs"]["models"] == ["lstm", "rnn", "gru"]
    assert "engine_over_bare" not in figures and "probe_cost" not in figures and "scale" not in figures


def test_bench_models_picks_the_cost_tables_models_and_their_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "costs", "--json", "--models", "GRU, rnn", *BENCH_TINY]) == 0
    assert json.loads(capsys.readouterr().out)["model_costs"]["models"] == ["gru", "rnn"]


def test_bench_only_costs_takes_mini_batches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "costs", "--json", "--batch-size", "16", "--models", "rnn", *BENCH_TINY]) == 0
    assert json.loads(capsys.readouterr().out)["model_costs"]["batch_size"] == 16


def test_bench_only_takes_costs_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser("bench")
    assert parser.parse_args([]).only is None and parser.parse_args(["--only", "costs"]).only == "costs"
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--only", "speed"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--only" in err
