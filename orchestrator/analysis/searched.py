"""What a search found, read from the store: parameter importances (Optuna's fANOVA over the
stored points), the optimisation history and the metric against each searched parameter.
Optuna and matplotlib are imported only when asked; no ray, no mlflow."""

from __future__ import annotations

import io
import math
from typing import Any

from orchestrator.protocol import TrialStatus
from orchestrator.analysis.records import SweepRecord, TrialResult
from orchestrator.sweepfile.search import Distribution, raw_point
from orchestrator.tables.build import trial_score

__all__ = ["space_of", "importances", "importance_line", "history", "history_png", "params_png"]

MIN_POINTS = 4  # fANOVA on fewer points says nothing


def space_of(record: SweepRecord) -> tuple[Distribution, ...]:
    search = record.search or {}
    return tuple(Distribution.from_dict(d) for d in search.get("space") or ())


def _scored(record: SweepRecord, metric: str) -> list[tuple[TrialResult, float]]:
    out = []
    for trial in record.trials:
        value = trial.metrics.get(metric)
        if trial.status in (TrialStatus.FINISHED, TrialStatus.STOPPED) and value is not None and math.isfinite(value):
            out.append((trial, value))
    return out


def importances(record: SweepRecord, metric: str | None = None) -> list[tuple[str, float]]:
    """Each searched parameter's share of the metric's variance (fANOVA, fixed seed), largest
    first; empty for a sweep without `search:`, with one parameter or too few scored points."""
    space = space_of(record)
    metric = metric or record.metric
    scored = _scored(record, metric)
    if len(space) < 2 or len(scored) < MIN_POINTS:
        return []
    import optuna

    from orchestrator.sweepfile.search import optuna_distributions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mode = dict(record.objectives).get(metric, record.mode)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    distributions = optuna_distributions(space)
    for trial, value in scored:
        raw = raw_point(space, trial.params)
        if raw is not None:
            study.add_trial(optuna.trial.create_trial(value=value, params=raw, distributions=distributions))
    if len(study.trials) < MIN_POINTS:
        return []
    found = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return [(k, float(v)) for k, v in found.items()]


def importance_line(record: SweepRecord) -> str:
    found = importances(record)
    if not found:
        return ""
    shown = ", ".join(f"{k} {v:.2f}" for k, v in found)
    return (f"Parameter importance for {record.metric} (fANOVA over {len(_scored(record, record.metric))} scored "
            f"points, Optuna): {shown}.")


def history(record: SweepRecord, metric: str) -> list[tuple[int, float | None, float | None]]:
    """(trial number, its value or None, best so far) in the order the trials were numbered."""
    mode = dict(record.objectives).get(metric, record.mode)
    order = sorted(record.trials, key=lambda t: (t.axes.get("sample", 0), t.name))
    best: float | None = None
    out = []
    for i, trial in enumerate(order):
        value = trial_score(trial, metric, record)
        if value is not None:
            best = value if best is None else (max if mode == "max" else min)(best, value)
        else:
            value = None
        out.append((i, value, best))
    return out


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_png(record: SweepRecord, metric: str) -> bytes:
    """The optimisation history: each trial's value in order, and the best so far."""
    plt = _pyplot()
    points = history(record, metric)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    xs = [i for i, v, _ in points if v is not None]
    ax.scatter(xs, [v for _, v, _ in points if v is not None], s=18, label="trial")
    failed = [i for i, v, _ in points if v is None]
    if failed:
        low = min((v for _, v, _ in points if v is not None), default=0.0)
        ax.scatter(failed, [low] * len(failed), marker="x", color="red", label="diverged / failed")
    ax.step([i for i, _, b in points if b is not None], [b for _, _, b in points if b is not None],
            where="post", color="black", label="best so far")
    ax.set_title(f"{record.name}: {metric} by trial")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def params_png(record: SweepRecord, metric: str) -> bytes:
    """The metric against each searched parameter, one panel each (log scale where it was searched so)."""
    from orchestrator.protocol import typed_param

    plt = _pyplot()
    space = space_of(record) or tuple(Distribution(a, "uniform") for a in record.axes)
    fig, axes = plt.subplots(1, max(1, len(space)), figsize=(4 * max(1, len(space)), 3.6), dpi=110, squeeze=False)
    for ax, d in zip(axes[0], space):
        xs, ys = [], []
        for trial in record.trials:
            value = trial_score(trial, metric, record)
            x: Any = typed_param(trial.params.get(d.key))
            if value is None or x is None:
                continue
            xs.append(str(x) if d.kind == "choice" else x)
            ys.append(value)
        ax.scatter(xs, ys, s=18)
        if d.log:
            ax.set_xscale("log")
        ax.set_xlabel(d.key)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{record.name}: {metric} against each searched parameter")
    return _png(fig)
