"""Stored rows -> frozen records (:mod:`orchestrator.analysis.records`), shared by both read paths (the
SQLite fast path and the MLflow client), so they cannot disagree on what a tag means."""

from __future__ import annotations

import json
from operator import itemgetter
from types import MappingProxyType
from typing import Iterable

from orchestrator.protocol import Tag, TrialStatus
from orchestrator.analysis.records import SweepRecord, TrialResult
from orchestrator.tracking.store import from_mlflow_name

__all__ = ["dedupe_history", "sweep_record", "trial_result", "order_trials"]

_STEP_STAMP = itemgetter(0, 1)


def dedupe_history(points: Iterable[tuple[int, int, float]]) -> tuple[tuple[int, float], ...]:
    """(step, timestamp, value) -> one (step, value) per step, the latest logged; a resumed
    trial logs its steps again into the same run."""
    ordered = sorted(points, key=_STEP_STAMP)  # stable: of equal stamps, the one read last wins
    return tuple({step: value for step, _, value in ordered}.items())


def sweep_record(tags: dict[str, str], run_id: str, experiment_id: str, status: str,
                 start_time: int, run_name: str, artifact_uri: str,
                 trials: tuple[TrialResult, ...] = (), metrics: dict[str, float] | None = None,
                 plan: list[dict] | None = None) -> SweepRecord:
    return SweepRecord(
        name=tags.get(Tag.SWEEP, run_name), run_id=run_id, experiment_id=str(experiment_id),
        status=status, start_time=start_time, trainer=tags.get(Tag.TRAINER, ""),
        metric=tags.get(Tag.METRIC, ""), mode=tags.get(Tag.MODE, "max"),
        axes=tuple(json.loads(tags.get(Tag.AXES, "[]"))), planned=int(tags.get(Tag.TRIALS, "0")),
        trials=trials, artifact_uri=artifact_uri, abbrev=json.loads(tags.get(Tag.ABBREV, "{}")),
        tags=MappingProxyType(dict(tags)),
        metrics=MappingProxyType({from_mlflow_name(k): v for k, v in (metrics or {}).items()}),
        plan=tuple(MappingProxyType({k: t.get(k) for k in ("name", "key", "seed", "axes")}) for t in plan or ()),
        objectives=tuple(tuple(o) for o in json.loads(tags.get(Tag.OBJECTIVES, "null") or "null")
                         or [[tags.get(Tag.METRIC, ""), tags.get(Tag.MODE, "max")]]))


def trial_result(run_id: str, run_name: str, tags: dict[str, str], params: dict[str, str],
                 latest: dict[str, float], history: dict[str, tuple]) -> TrialResult:
    return TrialResult(
        run_id=run_id, name=tags.get(Tag.TRIAL_NAME, run_name),
        setting=tags.get(Tag.SETTING, run_name), key=tags.get(Tag.KEY, ""),
        seed=int(tags.get(Tag.SEED, "0")), status=TrialStatus.parse(tags.get(Tag.STATUS)),
        axes=MappingProxyType(json.loads(tags.get(Tag.AXES, "{}"))),
        params=MappingProxyType(params),
        metrics=MappingProxyType(_orch_names(latest)),
        history=MappingProxyType(_orch_names(dict(sorted(history.items())))),  # one order, either path
        tags=MappingProxyType(tags), message=tags.get(Tag.MESSAGE, ""))


def _orch_names(stored: dict) -> dict:
    """Keys as MLflow stores them -> orch's (:func:`from_mlflow_name`); the dict itself when no key
    needs it (nearly always: this runs for every trial of a sweep)."""
    if "_at_" not in "\n".join(stored):
        return stored
    return {from_mlflow_name(k): v for k, v in stored.items()}


def order_trials(trials: list[TrialResult], planned: list[dict]) -> tuple[TrialResult, ...]:
    """The sweep file's order (``trials.json``), unknown names last."""
    order = {t["name"]: i for i, t in enumerate(planned)}
    return tuple(sorted(trials, key=lambda t: (order.get(t.name, len(order)), t.name)))
