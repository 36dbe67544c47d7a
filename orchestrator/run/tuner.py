"""Build and run the Tune experiment for a sweep: resources, scheduler, the trial names, resume
by trial key (trials already finished in the store are not run again)."""

from __future__ import annotations

import contextlib
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
from orchestrator.run.environment import (ResourcesUnavailable, check_resources, configure_environment,
                                          trial_actors_plain, worker_modules)
from orchestrator.run.interrupt import Interrupts
from orchestrator.run.usage import Usage
from orchestrator.sweepfile.model import Resources, SweepSpec
from orchestrator.tracking.provenance import code_changes

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
    interrupted: bool = False  # Ctrl-C or SIGTERM ended it early
    spooled: int = 0  # writes the store did not take before the end, kept in ``spool``
    budget: str = ""  # set when a budget stopped new trials: what was spent
    spool: Any = None
    disk_full: bool = False  # what kept the store from taking the writes was a full disk
    lost: list[str] = field(default_factory=list)  # trials whose writes neither store nor spool took
    halted: str = ""  # the trial's message that stopped the sweep: its trainer found the disk full

    @property
    def ok(self) -> bool:
        return not self.counts.get(TrialStatus.FAILED) and not self.tracking_errors and not self.spooled \
            and not self.lost


def _scheduler(spec: SweepSpec):
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule

    options = dict(spec.scheduler.options)
    if spec.scheduler.name == "asha":
        return ASHAScheduler(time_attr=STEP_KEY, **options)
    if spec.scheduler.name == "median":
        return MedianStoppingRule(time_attr=STEP_KEY, **options)
    return None


def _resources(r: Resources) -> dict[str, float]:
    """What one trial needs in all (every worker of a data-parallel one)."""
    out: dict[str, float] = {"cpu": r.total_cpu, "gpu": r.gpu, **{k: v * r.workers for k, v in r.custom.items()}}
    if r.memory:
        out["memory"] = r.memory * r.workers
    return out


def _request(r: Resources) -> dict[str, float]:
    """What Tune reserves for a trial: all of it, or for a data-parallel trial only its head (its
    Train workers reserve their own, run.distributed)."""
    if r.workers > 1:
        from orchestrator.run.distributed import trial_head

        return trial_head()
    return _resources(r)


class _PerTrial:
    """Each trial's own request, where an axis varies the resources (picklable, for Tune)."""

    def __init__(self, requests: list[dict[str, float]]):
        self.requests = requests

    def __call__(self, config: dict[str, Any]):
        from ray.tune.execution.placement_groups import resource_dict_to_pg_factory

        return resource_dict_to_pg_factory(self.requests[config["index"]])


def _trial_request(spec: SweepSpec):
    if spec.varied_resources:
        return _PerTrial([_request(spec.resources_of(t)) for t in spec.trials])
    return _request(spec.resources)


def _concurrency(spec: SweepSpec) -> int | None:
    """``max_concurrent``, and for data-parallel trials no more at once than the cluster can give
    the widest trial's workers: Tune does not count the workers, which Ray Train places itself."""
    widest = spec.widest()
    if widest.workers <= 1:
        return spec.max_concurrent
    from orchestrator.run.environment import trials_that_fit

    fit = trials_that_fit(_resources(widest))
    return min(spec.max_concurrent or fit, fit)


def _usage(spec: SweepSpec) -> Usage:
    """What each trial reserves, for its compute figures (every worker counted)."""
    r = spec.resources
    own = {t.key: (spec.resources_of(t).total_cpu, spec.resources_of(t).gpu) for t in spec.trials if t.resources}
    return Usage(r.total_cpu, r.gpu, per_key=own)


class _TrialNames:
    """Tune shows orch's trial names (picklable, unlike a lambda over the spec)."""

    def __init__(self, names: list[str]):
        self.names = names

    def __call__(self, trial: Any) -> str:
        return self.names[trial.config["index"]] if "index" in trial.config else trial.trial_id


def _trial_dirname(trial: Any) -> str:
    return f"{trial.config['index']:05d}" if "index" in trial.config else trial.trial_id


def run_sweep(spec: SweepSpec, *, address: str | None = None, tracking_uri: str | None = None,
              new: bool = False, quiet: bool = False, console: Console | None = None,
              rerun: tuple[str, ...] = ()) -> SweepOutcome:
    """Run every trial of ``spec`` not already finished; return the counts by status.
    Ctrl-C / SIGTERM: the running trials are stopped and recorded as killed, the parent run as
    KILLED, and ``outcome.interrupted`` says so (a second Ctrl-C raises KeyboardInterrupt)."""
    configure_environment(embedded=not address)
    if console is None:
        from orchestrator.cli.console import console as make_console

        console = make_console(stderr=True)
    relay: list = []  # the progress view, once it exists, hears about tracking outages and interrupts

    def first_interrupt(name: str) -> None:
        text = f"{name}: stopping the running trials and launching no more (again to force the exit)"
        relay[0].note(text) if relay else console.print(text, highlight=False, markup=False)

    interrupts = Interrupts(first_interrupt)
    with interrupts:  # from the very start: a SIGTERM while the store opens is an interrupt too
        return _run(spec, address, tracking_uri, new, quiet, console, rerun, relay, interrupts)


def _run(spec: SweepSpec, address: str | None, tracking_uri: str | None, new: bool, quiet: bool,
         console: Console, rerun: tuple[str, ...], relay: list, interrupts: Interrupts) -> SweepOutcome:
    from orchestrator.run.startup import RayInstance, open_beside_ray

    live = console.is_terminal and not quiet
    ray = RayInstance(address, interrupts, worker_modules())
    phase = f"opening the store · {f'connecting to Ray at {address}' if address else 'starting Ray'} ..."
    with console.status(phase, spinner="dots") if live else contextlib.nullcontext():
        tracker = open_beside_ray(spec, tracking_uri, new, lambda outage: relay and relay[0].tracking(outage), ray)
    try:
        return _planned(spec, tracker, ray, quiet, console, rerun, relay, interrupts, live)
    finally:
        ray.stop()  # nothing to run, or the run ended: the Ray started above goes


def _planned(spec: SweepSpec, tracker, ray, quiet: bool, console: Console, rerun: tuple[str, ...],
             relay: list, interrupts: Interrupts, live: bool) -> SweepOutcome:
    from orchestrator.run.progress import SweepProgress

    parent = tracker.parent_id
    for line in code_changes(tracker.previous_tags, tracker.git):
        console.print(f"note: {line}", highlight=False, markup=False, soft_wrap=True)
    todo, skipped, resumed = _plan(spec, tracker, rerun)
    outcome = SweepOutcome(spec.name, parent, tracker.experiment_id, tracker.uri, skipped=skipped)
    usage = _usage(spec)
    gate = _gate(spec, tracker, usage, skipped)
    progress = SweepProgress(spec.name, spec.metric, spec.mode, len(todo), outcome.skipped,
                             spec.max_concurrent or len(todo) or 1, console, live=live)
    relay.append(progress)
    status = "FINISHED"
    try:
        if todo and not interrupts.interrupted and not (gate and gate.over()):
            outcome.counts = _fit(spec, todo, tracker, progress, ray, interrupts, resumed, usage, gate)
    except KeyboardInterrupt:
        interrupts.count = max(interrupts.count, 1)
        raise
    except ResourcesUnavailable:
        status = "KILLED"
        tracker.discard_parent()  # nothing ran: a parent made just now goes again
        raise
    finally:
        if interrupts.interrupted:
            status, outcome.interrupted = "KILLED", True
        elif interrupts.halted:
            status, outcome.halted = "FAILED", interrupts.halted
        summary = {**outcome.counts, "skipped": outcome.skipped, **(gate.spent() if gate else {})}
        if gate and gate.spent_on:
            outcome.budget = f"budget spent ({gate.spent_on}): {gate.describe()}"
        outcome.tracking_errors = tracker.close(status, summary)
        outcome.spooled, outcome.spool = tracker.spooled
        outcome.disk_full = bool(tracker.outage and tracker.outage.disk_full)
        names = {t.key: t.name for t in spec.trials}
        outcome.lost = sorted({names.get(k, k) for k in tracker.lost_keys if k})
    if not quiet or not console.is_terminal:
        console.print(progress.summary(), highlight=False, soft_wrap=True)
        if outcome.budget:
            left = max(0, len(todo) - sum(outcome.counts.values()))
            console.print(f"{outcome.budget}; {left} trial(s) not started: raise the budget in the sweep file and "
                          "run it again to go on", highlight=False, soft_wrap=True)
        if not outcome.interrupted and not outcome.spooled and not outcome.lost and not outcome.halted:
            name = spec.name if " " not in spec.name else repr(spec.name)
            console.print(f"next: orch table {name} · orch status {name} · orch report {name} · orch ui {name}",
                          highlight=False, soft_wrap=True, style="dim")
    return outcome


def _plan(spec: SweepSpec, tracker, rerun: tuple[str, ...]) -> tuple[list[int], int, Any]:
    """(what to run: trial indices, or one slot per point left to ask for; how many are done
    before; for an optuna search, what the store holds of it)."""
    done = tracker.done_keys(rerun)
    todo = [i for i, t in enumerate(spec.trials) if t.key not in done]
    if spec.search is None or not spec.search.adaptive:
        return todo, len(spec.trials) - len(todo), None
    from orchestrator.run.search import resumed_points
    from orchestrator.tracking import read_sweep

    stored = read_sweep(spec.name, tracker.uri, metrics=[]).trials if tracker.resumed else ()
    resumed = resumed_points(spec.search, spec.objectives, stored)
    return list(range(max(0, spec.search.num_samples - resumed.done))), resumed.done, resumed


def _gate(spec: SweepSpec, tracker, usage: Usage, done_before: int):
    """The budget's gate, counting what earlier launches spent (the parent's sweep/budget_*)."""
    if spec.budget is None:
        return None
    from orchestrator.run.budget import BudgetGate, gpu_hours_so_far

    wall_before = float(tracker.previous_metrics.get("sweep/budget_wall_s", 0.0))
    return BudgetGate(spec.budget, done_before, wall_before, gpu_hours_so_far(tracker, usage))


def _payload(spec: SweepSpec, process_dir: str, board=None) -> dict[str, Any]:
    return {
        "board": board,  # where trials put their progress inside an epoch (run.board)
        "trials": [{"trainer": t.trainer, "config": dict(t.config), "name": t.name,
                    **({"workers": t.resources.workers, "resources": t.resources.to_dict()} if t.resources else {})}
                   for t in spec.trials],
        "secrets": list(spec.secrets),  # keys whose values the worker scrubs from logs and messages
        "retries": spec.retries, "on_nan": spec.stop.on_nan, "on_oom": spec.on_oom,
        "max_epochs": spec.stop.max_epochs, "timeout_s": spec.stop.timeout_s, "metric": spec.metric,
        "workers": spec.resources.workers, "resources": spec.resources.to_dict(), "stall_s": spec.stop.stall_s,
        # a trial of one worker is watched only when the file says stop.stall (run.stall)
        "stall_one_s": spec.stop.stall_s if spec.stop.stall_set else None,
        # relative paths in configs (data.root, out_dir) mean what they mean where orch was run
        "cwd": os.getcwd(),
        "process_dir": process_dir,  # trials register the process groups they start here
        **(_search_payload(spec) if spec.search is not None and spec.search.adaptive else {}),
    }


def _search_payload(spec: SweepSpec) -> dict[str, Any]:
    """Where every suggested point starts, and how a raw point becomes config values."""
    import dataclasses

    base = spec.search.base
    return {"search_base": {"trainer": base.trainer, "config": dict(base.config)},
            "search": dataclasses.replace(spec.search, base=None, extra={}, points=(),
                                          templates=dict(spec.search.templates))}


def _tuner(spec: SweepSpec, todo: list[int], callback, stopper, storage: str, process_dir: str,
           searcher=None, board=None):
    from ray import tune

    from orchestrator.run.trainable import run_trial

    payload = _payload(spec, process_dir, board)
    trainable = tune.with_resources(tune.with_parameters(run_trial, payload=payload), _trial_request(spec))
    scheduler = _scheduler(spec)
    ranked = scheduler is not None or searcher is not None  # both read the metric from Tune's results
    return tune.Tuner(
        trainable,
        param_space={} if searcher is not None else {"index": tune.grid_search(todo)},
        tune_config=tune.TuneConfig(
            reuse_actors=True, max_concurrent_trials=_concurrency(spec), scheduler=scheduler,
            search_alg=searcher, num_samples=len(todo) if searcher is not None else 1,
            metric=spec.metric if ranked else None, mode=spec.mode if ranked else None,
            trial_name_creator=_TrialNames([t.name for t in spec.trials]),
            trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(name=spec.name, storage_path=storage, verbose=0, callbacks=[callback],
                                  stop=stopper,
                                  # a trial's worker that died (its node lost, the OOM killer) runs again
                                  # as `retries` allow; a trainer's own errors are retried in the trial
                                  failure_config=tune.FailureConfig(max_failures=spec.retries)),
    )


def _searcher(spec: SweepSpec, todo: list[int], resumed, gate, progress):
    """Tune's search algorithm: Optuna for a search (told what the store holds), behind the
    budget's gate when there is one; None for a plain grid."""
    searcher = None
    if resumed is not None:
        from orchestrator.run.search import make_searcher

        searcher, line = make_searcher(spec, resumed)
        progress.note(line)
    if gate is not None:
        from orchestrator.run.budget import Budgeted, GridQueue

        searcher = Budgeted(searcher or GridQueue(todo), gate)
    return searcher


def _fit(spec: SweepSpec, todo: list[int], tracker, progress, ray, interrupts, resumed=None,
         usage: Usage | None = None, gate=None) -> dict[str, int]:
    """Run the Tune experiment on the started ``ray`` (a RayInstance); returns the count of trials
    by final status. The live view is up from the start, saying so until the first trial runs."""
    progress.phase = "launching trials"
    with progress:
        return _fit_in_view(spec, todo, tracker, progress, ray, interrupts, resumed, usage, gate)


def _fit_in_view(spec: SweepSpec, todo: list[int], tracker, progress, ray, interrupts, resumed=None,
                 usage: Usage | None = None, gate=None) -> dict[str, int]:
    from orchestrator.util.processes import stop_groups
    from orchestrator.run.callback import HALTED, TrackingCallback
    from orchestrator.run.stopper import StopOnInterrupt

    if not interrupts.interrupted:  # a refusal ends the run; its Ray stops with it (_run)
        widest = spec.widest()  # the sweep's own resources when every trial has them
        named = next((t.name for t in spec.trials if spec.resources_of(t) == widest), "p000")
        check_resources(_resources(widest), named, every=not spec.varied_resources)
    storage = tempfile.mkdtemp(prefix="orch-tune-")
    process_dir = tempfile.mkdtemp(prefix="orch-procs-")
    budgets = [b for b in (spec.stop.max_epochs, spec.scheduler.options.get("max_t")) if b]
    sampled = None
    if resumed is not None:
        from orchestrator.run.search import SampledTrials

        sampled = SampledTrials(spec, resumed)
    from orchestrator.run.board import BoardReader, start_board

    board = start_board() if progress.live else None  # positions are shown only in the live view
    callback = TrackingCallback(spec.trials, tracker, progress, min(budgets) if budgets else None,
                                usage or _usage(spec), sampled,
                                BoardReader(board))
    from orchestrator.util.checkpoints import SpaceWatch

    callback.space = SpaceWatch.of(spec.trials, {spec.trials[i].key for i in todo} if resumed is None else ())
    progress.note(callback.space.before_launch())  # the free-space check, from an earlier start's checkpoint
    # a SIGTERM may take Ray down with orch (Slurm signals the job's every process): what ran is
    # recorded killed at once, not once Ray has stopped the trials
    interrupts.on_sigterm(lambda: callback.end_unfinished(TrialStatus.KILLED, "interrupted by SIGTERM"))
    try:
        if not interrupts.interrupted:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
                searcher = _searcher(spec, todo, resumed, gate, progress)
                with trial_actors_plain():
                    _tuner(spec, todo, callback, StopOnInterrupt(), storage, process_dir, searcher, board).fit()
    finally:
        interrupts.cleaning = True
        # trial scripts still running (Ctrl-C): SIGTERM, their grace (none when forced), SIGKILL
        stop_groups(process_dir, force=interrupts.forced)
        if interrupts.interrupted:
            callback.end_unfinished(TrialStatus.KILLED, f"interrupted by {interrupts.signal_name or 'SIGINT'}")
        elif interrupts.halted:
            callback.end_unfinished(TrialStatus.KILLED, HALTED)
        ray.stop()
        shutil.rmtree(storage, ignore_errors=True)
        shutil.rmtree(process_dir, ignore_errors=True)
    counts = Counter(callback.outcomes.values())
    missing = len(todo) - len(callback.outcomes)
    if missing and not interrupts.interrupted and not interrupts.halted and not (gate and gate.spent_on):  # ended by Tune, not a word
        counts[TrialStatus.STOPPED] += missing
    return {k: n for k, n in counts.items() if n}
