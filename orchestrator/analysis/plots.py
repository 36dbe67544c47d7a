"""Learning curves of a sweep: the metric against step for each setting, seeds as mean ± std."""

from __future__ import annotations

import io
import math
import statistics

from orchestrator.protocol import TrialStatus
from orchestrator.analysis.records import SweepRecord

__all__ = ["curves", "plot_png"]


def curves(record: SweepRecord, metric: str) -> dict[str, list[tuple[int, float, float, int]]]:
    """setting -> [(step, mean, std, n)] over the seeds with a finite value at that step."""
    by_setting: dict[str, dict[int, list[float]]] = {}
    for trial in record.trials:
        steps = by_setting.setdefault(trial.setting, {})
        for step, value in trial.history.get(metric, ()):
            if math.isfinite(value):
                steps.setdefault(step, []).append(value)
    return {setting: [(s, statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v))
                      for s, v in sorted(steps.items())] for setting, steps in by_setting.items()}


def plot_png(record: SweepRecord, metric: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    data = curves(record, metric)
    statuses: dict[str, set[str]] = {}
    for trial in record.trials:
        statuses.setdefault(trial.setting, set()).add(trial.status)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for setting, points in data.items():
        bad = statuses.get(setting, set()) & {TrialStatus.DIVERGED, TrialStatus.FAILED}
        label = setting + (f" ({', '.join(sorted(bad))})" if bad else "")
        if not points:
            ax.plot([], [], linestyle=":", label=label)
            continue
        steps = [p[0] for p in points]
        means = [p[1] for p in points]
        line, = ax.plot(steps, means, marker="o", markersize=3, label=label,
                        linestyle="--" if bad else "-")
        if any(p[3] > 1 for p in points):
            ax.fill_between(steps, [m - p[2] for m, p in zip(means, points)],
                            [m + p[2] for m, p in zip(means, points)], alpha=0.2, color=line.get_color())
    seeds = max((len({t.seed for t in record.trials if t.setting == s}) for s in data), default=1)
    ax.set_title(f"{record.name}: {metric}" + (f" (mean ± std over {seeds} seeds)" if seeds > 1 else ""))
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(data) > 8 else 1, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
