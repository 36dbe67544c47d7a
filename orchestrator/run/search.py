"""``search: {method: optuna}`` on Ray Tune: OptunaSearch suggests each point, orch turns it into a
trial with a stable key and a child run, exactly once.

Resuming: the points the store holds are given back to the searcher before it suggests anything
(finished and stopped ones with their value, diverged ones as failures: Optuna learns from both),
failed and killed ones are suggested again first (so they reuse their runs), and only what is left
of ``num_samples`` is asked for. A suggestion equal to a point already run is another sample of it:
it gets a key of its own (a repeat number), never the earlier trial's run.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Iterable

from ray.tune.search.optuna import OptunaSearch

from orchestrator.protocol import DONE_STATUSES, TrialStatus
from orchestrator.analysis.records import TrialResult
from orchestrator.sweepfile.model import SweepSpec, TrialSpec
from orchestrator.sweepfile.naming import trial_key
from orchestrator.sweepfile.search import SearchSpec, optuna_distributions, raw_point

__all__ = ["SampledTrials", "make_searcher", "Resumed", "resumed_points"]

_REPEAT = "__repeat"  # in a key's material only: the n-th sample of the same point


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Searcher(OptunaSearch):
    """OptunaSearch fed orch's events: a report without the metric (a retry, a train-only step)
    is not a result, and a non-finite final value (of any objective) is a failed point, not a score."""

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if isinstance(self.metric, str) and _finite(result.get(self.metric)):
            super().on_trial_result(trial_id, result)

    def __getstate__(self) -> dict:
        # Tune pickles its searcher into tuner.pkl for Tuner.restore, which orch never uses (a
        # search resumes from the store); the study and its sampler stay out of that pickle, as
        # some samplers cannot be pickled (optuna 5.1's NSGA-II holds a thread lock)
        return {k: v for k, v in self.__dict__.items() if k not in ("_sampler", "_ot_study")}

    def save(self, checkpoint_path: str) -> None:
        # Tune checkpoints its searcher now and then; orch resumes a search from the store instead
        raise NotImplementedError

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        metrics = [self.metric] if isinstance(self.metric, str) else list(self.metric)
        if not all(_finite((result or {}).get(m)) for m in metrics):
            result, error = None, True
        super().on_trial_complete(trial_id, result, error)


def _sampler(search: SearchSpec, stored: int = 0):
    """The sampler; a resumed one is seeded on from where the stored points leave off, else its
    random start-up points would be the first run's again."""
    import warnings

    import optuna

    seed = search.seed + stored
    samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
                "cmaes": optuna.samplers.CmaEsSampler, "gp": optuna.samplers.GPSampler,
                "nsga2": optuna.samplers.NSGAIISampler, "qmc": optuna.samplers.QMCSampler}
    with warnings.catch_warnings():  # QMC is "experimental" to Optuna; a sweep that names it chose it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return samplers[search.sampler](seed=seed)


class Resumed:
    """What the store holds of a search: the points to give back and those to run again."""

    def __init__(self) -> None:
        self.evaluated: list[tuple[dict, Any]] = []  # (raw point, value(s), or None for a failure)
        self.rerun: list[dict] = []  # raw points of failed or killed trials
        self.done_keys: set[str] = set()  # trials that count towards num_samples
        self.names: dict[str, str] = {}  # key -> trial name, of every stored trial

    @property
    def done(self) -> int:
        return len(self.done_keys)


def _stored_point(search: SearchSpec, trial: TrialResult) -> dict | None:
    """A stored trial's raw point: from its params, or, where a kill came between creating its run
    and logging them, from its axes tag (written with the run, in the same write)."""
    from orchestrator.protocol import param_text

    raw = raw_point(search.space, trial.params)
    if raw is None:
        raw = raw_point(search.space, {k: param_text(v) for k, v in trial.axes.items()})
    return raw


def resumed_points(search: SearchSpec, objectives: tuple[tuple[str, str], ...],
                   trials: Iterable[TrialResult]) -> Resumed:
    out = Resumed()
    for trial in trials:
        out.names[trial.key] = trial.name
        raw = _stored_point(search, trial)
        if trial.status in DONE_STATUSES:
            out.done_keys.add(trial.key)
            values = [trial.metrics.get(m) for m, _ in objectives]
            finite = all(_finite(v) for v in values) and trial.status != TrialStatus.DIVERGED
            if raw is not None:
                out.evaluated.append((raw, (values[0] if len(values) == 1 else values) if finite else None))
        elif raw is not None:
            out.rerun.append(raw)
    return out


STUDY = "orch"


def make_searcher(spec: SweepSpec, resumed: Resumed) -> tuple[OptunaSearch, str]:
    """The searcher, told what the store holds, and a line saying what it was told (counted in
    the Optuna study itself)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = spec.search
    storage = optuna.storages.InMemoryStorage()
    metric = [m for m, _ in spec.objectives] if spec.multi else spec.metric
    mode = [m for _, m in spec.objectives] if spec.multi else spec.mode
    searcher = _Searcher(space=optuna_distributions(search.space), metric=metric, mode=mode,
                         points_to_evaluate=resumed.rerun or None, sampler=_sampler(search, len(resumed.names)),
                         storage=storage, study_name=STUDY)
    study = optuna.load_study(study_name=STUDY, storage=storage)  # the study the searcher asks
    distributions = optuna_distributions(search.space)
    for raw, value in resumed.evaluated:  # Optuna's own API: one or several objective values, or a failure
        state = optuna.trial.TrialState.FAIL if value is None else optuna.trial.TrialState.COMPLETE
        values = None if value is None else (list(value) if spec.multi else [value])
        study.add_trial(optuna.trial.create_trial(state=state, values=values, params=raw,
                                                  distributions=distributions))
    states = [t.state for t in study.trials]
    told = sum(s != optuna.trial.TrialState.WAITING for s in states)
    line = (f"search: optuna ({search.sampler}) resumed with {told} earlier point(s) from the store "
            f"({sum(s == optuna.trial.TrialState.COMPLETE for s in states)} scored, "
            f"{sum(s == optuna.trial.TrialState.FAIL for s in states)} diverged), "
            f"{len(resumed.rerun)} to run again" if told or resumed.rerun else
            f"search: optuna ({search.sampler}), {search.num_samples} points to ask for")
    return searcher, line


def _unkeyed(trainer: str) -> dict[str, Any]:
    from orchestrator.registry import get_trainer
    from orchestrator.sweepfile.schema import Schema

    return Schema(get_trainer(trainer).config).unkeyed_defaults()


class SampledTrials:
    """Tune configs (a sampler's raw points) -> orch trials, named p000, p001, ... in the order
    they start; a point already in the store keeps its key and name."""

    def __init__(self, spec: SweepSpec, resumed: Resumed):
        self.search: SearchSpec = spec.search
        self.base: TrialSpec = self.search.base
        self.known = dict(resumed.names)
        self.done_keys = set(resumed.done_keys)
        self.by_id: dict[str, TrialSpec] = {}
        self.count = len(resumed.names)

    def for_trial(self, trial_id: str, raw: dict[str, Any]) -> TrialSpec:
        if trial_id in self.by_id:
            return self.by_id[trial_id]
        config = self.search.point_config(self.base.config, raw)
        values = {d.key: config[d.key] for d in self.search.space}
        budget = self.search.extra.get("budget", {})
        unkeyed = _unkeyed(self.base.trainer)
        key = trial_key(self.base.trainer, config, self.base.seed, budget, unkeyed)
        repeat = 0
        taken = {t.key for t in self.by_id.values()} | self.done_keys
        while key in taken:  # a point run before: another sample of it, with its own run
            repeat += 1
            key = trial_key(self.base.trainer, {**config, _REPEAT: repeat}, self.base.seed, budget, unkeyed)
        name = self.known.get(key)
        if name is None:
            name = f"p{self.count:03d}"
            self.count += 1
        spec = TrialSpec(name, name, key, self.base.trainer, self.base.seed,
                         MappingProxyType(values), MappingProxyType(config))
        self.by_id[trial_id] = spec
        return spec
