"""`python -m tui.devtools.soak [--minutes 10]`: the real dashboard on a tiny, endless run, and its memory.

A benchmark, not a test: the dashboard (headless, 120x40 by default) trains a run whose epochs
take milliseconds, with a probe after every epoch, for the given minutes. The process's resident
memory is read after the first minute and at the end; the target is an end within 10 % of the
first-minute figure, however many events went by (charts and histories are bounded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.allocator import keep_freed_memory
from engine.config import RunConfig

TARGET = 1.10  # end / first minute
BASELINE_S = 60.0  # "after the first minute"


def rss_bytes() -> int:
    """This process's resident memory: psutil where installed, else /proc/self/status."""
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no psutil and no VmRSS in /proc/self/status") from None
    return int(psutil.Process().memory_info().rss)


def state_sizes(app: Any) -> dict[str, int]:
    """What the dashboard keeps: the largest curve (buckets) and gradient-history (rows)."""
    from tui.dashboard.state import MinMaxSeries

    buckets = 0
    for model in app.state.models.values():
        for value in vars(model).values():
            series = [value] if isinstance(value, MinMaxSeries) else list(getattr(value, "curves", {}).values())
            buckets = max([buckets, *(len(s) for s in series if isinstance(s, MinMaxSeries))])
    rows = max(len(flow.history.rows) for flow in app.state.flows.values())
    return {"largest_curve_buckets": buckets, "largest_flow_history_rows": rows}


async def soak(config: RunConfig, *, seconds: float, size: tuple[int, int], refresh_hz: float,
               run_dir: Path | None, report_every: float = 30.0) -> dict[str, Any]:
    from tui.dashboard.app import DashboardApp

    received = [0]

    def count(event: object) -> None:  # on a delivery thread of its own, as any extra sink
        received[0] += 1

    app = DashboardApp(config, refresh_hz=refresh_hz, run_dir=run_dir, extra_sinks=[count])
    baseline_at = min(BASELINE_S, seconds / 2)
    samples: list[dict[str, float]] = []
    async with app.run_test(headless=True, size=size):
        # Plain sleeps: the Pilot's pause() repaints the screen, work a real terminal never asks for.
        while app.state.run_state not in ("running", "failed"):
            await asyncio.sleep(0.25)
        if app.state.run_state == "failed":
            raise RuntimeError(f"the run failed: {app.state.reason}")
        started = time.monotonic()
        baseline: dict[str, float] | None = None
        next_report = report_every
        while time.monotonic() - started < seconds:
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
            is_baseline = baseline is None and elapsed >= baseline_at
            if not (is_baseline or elapsed >= next_report):
                continue
            sample = {"seconds": elapsed, "rss": rss_bytes(), "epochs": app.state.epoch, "events": received[0]}
            samples.append(sample)
            if is_baseline:
                baseline = sample
            if elapsed >= next_report:
                next_report += report_every
            print(f"  {elapsed:6.0f} s  rss {sample['rss'] / 2**20:7.1f} MiB  epoch {sample['epochs']:,}  "
                  f"events {sample['events']:,}{'  (baseline)' if is_baseline else ''}", flush=True)
        end = {"seconds": time.monotonic() - started, "rss": rss_bytes(), "epochs": app.state.epoch,
               "events": received[0]}
        sizes = state_sizes(app)
        if app.session is not None:
            app.session.stop()
    app.wait_for_worker(timeout=30)
    assert baseline is not None
    return {
        "minutes": seconds / 60,
        "size": f"{size[0]}x{size[1]}",
        "config": config.to_dict(),
        "baseline": baseline,
        "end": end,
        "ratio": end["rss"] / baseline["rss"],
        "epochs_per_s": (end["epochs"] - baseline["epochs"]) / max(end["seconds"] - baseline["seconds"], 1e-9),
        "samples": samples,
        **sizes,
    }


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 120x40)") from None
    if not (20 <= width <= 1000 and 6 <= height <= 500):
        raise argparse.ArgumentTypeError(f"{text} is out of range (20x6..1000x500)")
    return width, height


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.1 <= value <= 24 * 60:
        raise argparse.ArgumentTypeError(f"{text} is out of range (0.1..1440)")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()  # as lstm-tui does: the memory measured is that of its allocator settings
    parser = argparse.ArgumentParser(prog="python -m tui.devtools.soak", description=__doc__.split("\n\n")[1])
    parser.add_argument("--minutes", type=_minutes, default=10.0, help="how long to train (default: 10)")
    parser.add_argument("--size", type=_size, default=(120, 40), help="terminal size (default: 120x40)")
    parser.add_argument("--refresh-hz", type=float, default=10.0, help="most redraws per second (default: 10)")
    parser.add_argument("--probe-seconds", type=float, default=0.0,
                        help="at most one probe per S seconds; 0 = after every epoch (default: 0)")
    parser.add_argument("--run-dir", type=Path, help="also write the run log and checkpoints here "
                        "(default: none; a probe per epoch logs tens of KB an epoch)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    config = RunConfig(series_length=300, look_back=5, epochs=10_000_000, device="cpu",
                       probe_seconds=args.probe_seconds)
    print(f"soak: the dashboard ({args.size[0]}x{args.size[1]}, headless) trains a tiny run for "
          f"{args.minutes:g} min; rss after {min(BASELINE_S, args.minutes * 30):.0f} s vs at the end", flush=True)
    figures = asyncio.run(soak(config, seconds=args.minutes * 60, size=args.size, refresh_hz=args.refresh_hz,
                               run_dir=args.run_dir))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        base, end = figures["baseline"], figures["end"]
        print(f"  after {base['seconds']:.0f} s   rss {base['rss'] / 2**20:8.1f} MiB   epoch {base['epochs']:,}   "
              f"events {base['events']:,}")
        print(f"  at the end {end['seconds']:.0f} s   rss {end['rss'] / 2**20:8.1f} MiB   epoch {end['epochs']:,}   "
              f"events {end['events']:,}")
        print(f"  end / first minute {figures['ratio']:.3f}   (target <= {TARGET:.2f})   "
              f"{figures['epochs_per_s']:.1f} epochs/s   largest curve {figures['largest_curve_buckets']} buckets, "
              f"gradient history {figures['largest_flow_history_rows']} rows")
    return 0 if figures["ratio"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
