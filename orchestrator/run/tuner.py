"""Build and run the Tune experiment for a sweep: resources, scheduler, the trial names, resume
by trial key (trials already finished in the store are not run again)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from orchestrator.protocol import STEP_KEY, TrialStatus
from orchestrator.run.environment import configure_environment, start_ray
from orchestrator.sweepfile.model import SweepSpec

__all__ = ["SweepOutcome", "run_sweep"]


@dataclass
class SweepOutcome:
    sweep: str
    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    counts: dict[str, int] = field(default_factory=dict)  # status -> trials, this run
    skipped: int = 0  # finished before this run
    tracking_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.counts.get(TrialStatus.FAILED) and not self.tracking_errors


def _scheduler(spec: SweepSpec):
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule

    options = dict(spec.scheduler.options)
    if spec.scheduler.name == "asha":
        return ASHAScheduler(time_attr=STEP_KEY, **options)
    if spec.scheduler.name == "median":
        return MedianStoppingRule(time_attr=STEP_KEY, **options)
    return None


def _resources(spec: SweepSpec) -> dict[str, float]:
    r = spec.resources
    out: dict[str, float] = {"cpu": r.cpu, "gpu": r.gpu, **r.custom}
    if r.memory:
        out["memory"] = r.memory
    return out


class _TrialNames:
    """Tune shows orch's trial names (picklable, unlike a lambda over the spec)."""

    def __init__(self, names: list[str]):
        self.names = names

    def __call__(self, trial: Any) -> str:
        return self.names[trial.config["index"]]


def _trial_dirname(trial: Any) -> str:
    return f"{trial.config['index']:05d}"


def run_sweep(spec: SweepSpec, *, address: str | None = None, tracking_uri: str | None = None,
              new: bool = False, quiet: bool = False, console: Console | None = None) -> SweepOutcome:
    """Run every trial of ``spec`` not already finished; return the counts by status."""
    from orchestrator.run.progress import SweepProgress
    from orchestrator.tracking import SweepTracker

    configure_environment(embedded=not address)
    console = console or Console(stderr=True, highlight=False)
    tracker = SweepTracker(spec, tracking_uri)
    parent = tracker.open_parent(new=new)
    done = tracker.done_keys()
    todo = [i for i, t in enumerate(spec.trials) if t.key not in done]
    outcome = SweepOutcome(spec.name, parent, tracker.experiment_id, tracker.uri, skipped=len(spec.trials) - len(todo))
    progress = SweepProgress(spec.name, spec.metric, spec.mode, len(todo), outcome.skipped,
                             spec.max_concurrent or len(todo) or 1, console,
                             live=console.is_terminal and not quiet)
    status = "FINISHED"
    try:
        if todo:
            callback = _fit(spec, todo, tracker, progress, address)
            counts = Counter(callback.outcomes.values())
            counts[TrialStatus.STOPPED] += len(todo) - len(callback.outcomes)  # never reported back
            outcome.counts = {k: n for k, n in counts.items() if n}
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        summary = {**outcome.counts, "skipped": outcome.skipped}
        outcome.tracking_errors = tracker.close(status, summary)
    if not quiet or not console.is_terminal:
        console.print(progress.summary(), highlight=False, soft_wrap=True)
    return outcome


def _fit(spec: SweepSpec, todo: list[int], tracker, progress, address: str | None):
    started_ray = start_ray(address)
    from ray import tune

    from orchestrator.run.callback import TrackingCallback
    from orchestrator.run.trainable import run_trial

    storage = tempfile.mkdtemp(prefix="orch-tune-")
    payload: dict[str, Any] = {
        "trials": [{"trainer": t.trainer, "config": dict(t.config), "name": t.name} for t in spec.trials],
        "retries": spec.retries, "on_nan": spec.stop.on_nan, "on_oom": spec.on_oom,
        "max_epochs": spec.stop.max_epochs, "timeout_s": spec.stop.timeout_s, "metric": spec.metric,
        # relative paths in configs (data.root, out_dir) mean what they mean where orch was run
        "cwd": os.getcwd(),
    }
    trainable = tune.with_resources(tune.with_parameters(run_trial, payload=payload), _resources(spec))
    scheduler = _scheduler(spec)
    budgets = [b for b in (spec.stop.max_epochs, spec.scheduler.options.get("max_t")) if b]
    callback = TrackingCallback(spec.trials, tracker, progress, min(budgets) if budgets else None)
    tuner = tune.Tuner(
        trainable,
        param_space={"index": tune.grid_search(todo)},
        tune_config=tune.TuneConfig(
            reuse_actors=True, max_concurrent_trials=spec.max_concurrent, scheduler=scheduler,
            metric=spec.metric if scheduler else None, mode=spec.mode if scheduler else None,
            trial_name_creator=_TrialNames([t.name for t in spec.trials]),
            trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name=spec.name, storage_path=storage, verbose=0, callbacks=[callback],
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    try:
        with progress, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
            tuner.fit()
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        if started_ray:
            import ray

            ray.shutdown()
    return callback
