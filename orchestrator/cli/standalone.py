"""Run one trial in this process, without Ray or MLflow: ``orch train``.

For debugging a trainer, reproducing one trial of a sweep, or a quick run on a workstation.
Reports are printed as they arrive; nothing is tracked.
"""

from __future__ import annotations

import math
import time
from typing import Any

from orchestrator.registry import build_config, get_trainer
from orchestrator.sweepfile import SweepSpec, TrialSpec

__all__ = ["pick_trial", "run_standalone"]


class TrialNotFound(LookupError):
    pass


def pick_trial(spec: SweepSpec, name: str | None) -> TrialSpec:
    if name is None and len(spec.trials) == 1:
        return spec.trials[0]
    names = [t.name for t in spec.trials]
    if name in names:
        return spec.trials[names.index(name)]
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    what = f"no trial named {name!r}" if name else f"{len(names)} trials"
    raise TrialNotFound(f"{spec.path}: {what}; pick one with --trial: {shown}")


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}"


def _described(trial: TrialSpec, trainer) -> str:
    """What this run is: a sweep trial's name and axes, else what differs from the defaults."""
    from rich.markup import escape

    from orchestrator.sweepfile import Schema

    if trial.axes:
        return escape(f"{trial.name}: " + " ".join(f"{k}={v}" for k, v in trial.axes.items()))
    defaults = Schema(trainer.config).defaults()
    changed = [f"{k}={v}" for k, v in trial.config.items() if k != "seed" and defaults.get(k) != v]
    return escape(" ".join(changed)) if changed else "with its defaults"


def run_standalone(trial: TrialSpec, console: Any) -> dict[str, float]:
    """Train ``trial`` here; print each report; return the trainer's final metrics."""
    trainer = get_trainer(trial.trainer)
    config = build_config(trial.trainer, trial.config)
    started = time.monotonic()
    metric = trainer.metric

    def report(metrics: dict[str, float], step: int) -> None:
        shown = "  ".join(f"{k}={_fmt(float(v))}" for k, v in metrics.items())
        head = f"[bold]step {step}[/] ({time.monotonic() - started:.0f}s)"
        if metric in metrics:
            head += f" [green]{metric}={_fmt(float(metrics[metric]))}[/]"
        console.print(f"{head}  {shown}", highlight=False)

    console.print(f"[bold]{trial.trainer}[/] {_described(trial, trainer)}", highlight=False, markup=True)
    return trainer.load_train()(config, report)
