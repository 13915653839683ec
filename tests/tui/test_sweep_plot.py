"""The summary chart (tui/sweep/plot.py): what it draws for the sweep's rates."""

from __future__ import annotations

import plotext

from engine.sweep.grid import Grid
from engine.sweep.summary import SummaryRow, wilson_interval
from tui.sweep.plot import draw_summary


def _row(lag: str, model: str, successes: int, trials: int) -> SummaryRow:
    low, high = wilson_interval(successes, trials)
    return SummaryRow(point=(("lag", lag),), model=model, planned=trials, trials=trials, failed=0,
                      successes=successes, success_rate=successes / trials, rate_low=low, rate_high=high,
                      success_loss=0.7, median_epochs_to_success=None, median_best_val_loss=None,
                      median_final_val_loss=None, final_train_loss=None, final_train_low=None,
                      final_train_high=None, final_val_loss=None, final_val_low=None, final_val_high=None,
                      volatility=None, volatility_low=None, volatility_high=None)


def test_the_legend_sits_above_the_rates_so_a_rate_of_one_stays_visible() -> None:
    grid = Grid.from_flags({"task": "echo", "lag": "10,30"}, seeds="4", models="lstm,gru,rnn")
    rows = [_row(lag, model, 4 if lag == "10" else 1, 4) for lag in ("10", "30") for model in ("lstm", "gru", "rnn")]
    plt = plotext
    plt.clear_figure()
    plt.plotsize(80, 30)
    plt.theme("clear")
    draw_summary(plt, grid, rows)
    lines = plt.build().splitlines()
    plt.clear_figure()
    top_tick = next(i for i, line in enumerate(lines) if line.lstrip().startswith("1.00"))
    legend = [i for i, line in enumerate(lines) if "LSTM" in line or "GRU" in line or "RNN" in line]
    assert len(legend) == 3 and max(legend) < top_tick  # every legend row above the rate of 1
    assert not any(line.lstrip().startswith(("1.25", "1.5")) for line in lines)  # no tick beyond a rate
