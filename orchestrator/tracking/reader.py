"""Read sweeps back from MLflow as frozen records: for `orch runs` and the tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from orchestrator.tracking.store import (KEY_TAG, KIND_TAG, PARENT_TAG, STATUS_TAG, SWEEP_TAG,
                                         from_mlflow_name, make_client, resolve_uri)

__all__ = ["TrialResult", "SweepRecord", "list_sweeps", "read_sweep", "SweepNotFound"]


class SweepNotFound(Exception):
    pass


@dataclass(frozen=True)
class TrialResult:
    run_id: str
    name: str
    setting: str
    key: str
    seed: int
    status: str
    axes: Mapping[str, Any]
    params: Mapping[str, str]
    metrics: Mapping[str, float]  # latest value of each metric
    message: str = ""


@dataclass(frozen=True)
class SweepRecord:
    name: str
    run_id: str
    experiment_id: str
    status: str  # the parent run's MLflow status
    start_time: int
    trainer: str
    metric: str
    mode: str
    axes: tuple[str, ...]
    planned: int  # trials in the sweep file when it last ran
    trials: tuple[TrialResult, ...] = ()


def _parents(client, experiment_ids: list[str], name: str | None) -> list:
    filt = f"tags.`{KIND_TAG}` = 'sweep'" + (f" and tags.`{SWEEP_TAG}` = '{name}'" if name else "")
    return list(client.search_runs(experiment_ids, filter_string=filt,
                                   order_by=["attributes.start_time DESC"], max_results=1000))


def _record(run, trials: tuple[TrialResult, ...] = ()) -> SweepRecord:
    tags = run.data.tags
    return SweepRecord(
        name=tags.get(SWEEP_TAG, run.info.run_name), run_id=run.info.run_id,
        experiment_id=run.info.experiment_id, status=run.info.status, start_time=run.info.start_time,
        trainer=tags.get("orch.trainer", ""), metric=tags.get("orch.metric", ""),
        mode=tags.get("orch.mode", "max"), axes=tuple(json.loads(tags.get("orch.axes", "[]"))),
        planned=int(tags.get("orch.trials", "0")), trials=trials)


def _trial(run) -> TrialResult:
    tags = run.data.tags
    return TrialResult(
        run_id=run.info.run_id, name=tags.get("orch.trial_name", run.info.run_name),
        setting=tags.get("orch.setting", run.info.run_name), key=tags.get(KEY_TAG, ""),
        seed=int(tags.get("orch.seed", "0")), status=tags.get(STATUS_TAG, "running"),
        axes=MappingProxyType(json.loads(tags.get("orch.axes", "{}"))),
        params=MappingProxyType(dict(run.data.params)),
        metrics=MappingProxyType({from_mlflow_name(k): v for k, v in run.data.metrics.items()}),
        message=tags.get("orch.message", ""))


def list_sweeps(uri: str | None = None) -> list[SweepRecord]:
    client = make_client(resolve_uri(uri))
    ids = [e.experiment_id for e in client.search_experiments()]
    return [_record(r) for r in _parents(client, ids, None)] if ids else []


def read_sweep(name: str | None = None, uri: str | None = None) -> SweepRecord:
    """The latest run of sweep ``name`` (default: the most recent sweep) with its trials."""
    client = make_client(resolve_uri(uri))
    ids = [e.experiment_id for e in client.search_experiments()]
    parents = _parents(client, ids, name) if ids else []
    if not parents:
        known = sorted({r.name for r in list_sweeps(uri)})
        what = f"no sweep named {name!r}" if name else "no sweeps"
        raise SweepNotFound(f"{what} in {resolve_uri(uri)}; known sweeps: {', '.join(known) or 'none'}")
    parent = parents[0]
    trials: list[TrialResult] = []
    token = None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
                                  max_results=5000, page_token=token)
        trials.extend(_trial(r) for r in page)
        token = page.token
        if not token:
            break
    order = {n: i for i, n in enumerate(t["name"] for t in _planned(client, parent.info.run_id))}
    trials.sort(key=lambda t: (order.get(t.name, len(order)), t.name))
    return _record(parent, tuple(trials))


def _planned(client, run_id: str) -> list[dict]:
    """The trial list logged with the parent, to show trials in the sweep file's order."""
    import tempfile
    from pathlib import Path

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, "trials.json", tmp)
            return json.loads(Path(path).read_text())
    except Exception:  # noqa: BLE001 - ordering is a nicety; an unreadable artifact is not fatal
        return []
