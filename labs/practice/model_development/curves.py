"""Learning curves, drawn: a compact terminal form (one sparkline per series on a shared scale) and a PNG.
Presentation only; the verdict is diagnose.py's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48


def resample(values: Sequence[float], width: int = WIDTH) -> list[float]:
    """At most ``width`` points: the value at evenly spaced rounds (the first and the last kept)."""
    if len(values) <= width:
        return list(values)
    step = (len(values) - 1) / (width - 1)
    return [values[round(i * step)] for i in range(width)]


def sparkline(values: Sequence[float], low: float, high: float, width: int = WIDTH) -> str:
    span = (high - low) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - low) / span * len(BARS)))] for v in resample(values, width))


def terminal_curves(name: str, train: Sequence[float], valid: Sequence[float], metric: str) -> list[str]:
    """Two lines on one scale: where validation rises while training falls, the model overfits."""
    low, high = min(*train, *valid), max(*train, *valid)
    return [f"  {name} {metric}, {len(train)} rounds, scale {low:.3f}-{high:.3f}:",
            f"    train      {sparkline(train, low, high)} {train[0]:.3f} -> {train[-1]:.3f}",
            f"    validation {sparkline(valid, low, high)} {valid[0]:.3f} -> {valid[-1]:.3f} "
            f"(best {min(valid):.3f} at round {valid.index(min(valid))})"]


def draw_png(path: Path, name: str, rounds: Sequence[int], train: Sequence[float], valid: Sequence[float],
             metric: str, verdict: str) -> Path:
    """The two curves against the round, the best validation round marked; written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4), dpi=100)
    try:
        axes.plot(rounds, train, label=f"train {metric}")
        axes.plot(rounds, valid, label=f"validation {metric}")
        best = valid.index(min(valid))
        axes.axvline(rounds[best], linestyle=":", color="grey", label=f"best validation (round {rounds[best]})")
        axes.set_xlabel("boosting round")
        axes.set_ylabel(metric)
        axes.set_title(f"{name}: {verdict}")
        axes.legend()
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        pyplot.close(figure)
    return path
