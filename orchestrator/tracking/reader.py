"""Read sweeps back from MLflow as frozen records (:mod:`orchestrator.results`).

A sweep is read in a handful of queries, never one per run and metric: a local SQLite store
is read directly (read-only); any other store through the client, histories fetched in parallel.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Iterable

from orchestrator.results import SweepRecord, TrialResult
from orchestrator.tracking.store import (KEY_TAG, KIND_TAG, PARENT_TAG, STATUS_TAG, SWEEP_TAG,
                                         from_mlflow_name, make_client, resolve_uri, to_mlflow_name)

__all__ = ["SweepNotFound", "list_sweeps", "read_sweep", "dedupe_history"]


class SweepNotFound(Exception):
    pass


def dedupe_history(points: Iterable[tuple[int, int, float]]) -> tuple[tuple[int, float], ...]:
    """(step, timestamp, value) -> one (step, value) per step, the latest logged; a resumed
    trial logs its steps again into the same run."""
    latest: dict[int, tuple[int, float]] = {}
    for step, stamp, value in points:
        if step not in latest or stamp >= latest[step][0]:
            latest[step] = (stamp, value)
    return tuple((step, latest[step][1]) for step in sorted(latest))


def sweep_record(tags: dict[str, str], run_id: str, experiment_id: str, status: str,
                 start_time: int, run_name: str, artifact_uri: str,
                 trials: tuple[TrialResult, ...] = ()) -> SweepRecord:
    return SweepRecord(
        name=tags.get(SWEEP_TAG, run_name), run_id=run_id, experiment_id=str(experiment_id),
        status=status, start_time=start_time, trainer=tags.get("orch.trainer", ""),
        metric=tags.get("orch.metric", ""), mode=tags.get("orch.mode", "max"),
        axes=tuple(json.loads(tags.get("orch.axes", "[]"))), planned=int(tags.get("orch.trials", "0")),
        trials=trials, artifact_uri=artifact_uri)


def trial_result(run_id: str, run_name: str, tags: dict[str, str], params: dict[str, str],
                 latest: dict[str, float], history: dict[str, tuple]) -> TrialResult:
    return TrialResult(
        run_id=run_id, name=tags.get("orch.trial_name", run_name),
        setting=tags.get("orch.setting", run_name), key=tags.get(KEY_TAG, ""),
        seed=int(tags.get("orch.seed", "0")), status=tags.get(STATUS_TAG, "running"),
        axes=MappingProxyType(json.loads(tags.get("orch.axes", "{}"))),
        params=MappingProxyType(params),
        metrics=MappingProxyType({from_mlflow_name(k): v for k, v in latest.items()}),
        history=MappingProxyType({from_mlflow_name(k): v for k, v in history.items()}),
        tags=MappingProxyType(tags), message=tags.get("orch.message", ""))


def order_trials(trials: list[TrialResult], planned: list[dict]) -> tuple[TrialResult, ...]:
    order = {t["name"]: i for i, t in enumerate(planned)}
    return tuple(sorted(trials, key=lambda t: (order.get(t.name, len(order)), t.name)))


# ---- through the MLflow client (servers, any store) ------------------------------------------
def _client_parents(client, name: str | None) -> list:
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return []
    filt = f"tags.`{KIND_TAG}` = 'sweep'" + (f" and tags.`{SWEEP_TAG}` = '{name}'" if name else "")
    return list(client.search_runs(ids, filter_string=filt, order_by=["attributes.start_time DESC"],
                                   max_results=1000))


def _client_planned(client, run_id: str) -> list[dict]:
    import tempfile
    from pathlib import Path

    try:
        with tempfile.TemporaryDirectory() as tmp:
            return json.loads(Path(client.download_artifacts(run_id, "trials.json", tmp)).read_text())
    except Exception:  # noqa: BLE001 - the order is a nicety; an unreadable artifact is not fatal
        return []


def _client_read(uri: str, name: str | None, metrics: list[str] | None) -> SweepRecord:
    client = make_client(uri)
    parents = _client_parents(client, name)
    if not parents:
        raise _not_found(name, uri, [r.data.tags.get(SWEEP_TAG, "") for r in _client_parents(client, None)])
    parent = parents[0]
    runs = []
    token = None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
                                  max_results=5000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    wanted = [to_mlflow_name(m) for m in metrics] if metrics is not None else None

    def histories(run) -> dict[str, tuple]:
        keys = wanted if wanted is not None else list(run.data.metrics)
        return {k: dedupe_history((m.step, m.timestamp, m.value) for m in client.get_metric_history(
            run.info.run_id, k)) for k in keys if k in run.data.metrics}

    with ThreadPoolExecutor(8) as pool:
        all_histories = list(pool.map(histories, runs))
    trials = [trial_result(r.info.run_id, r.info.run_name, dict(r.data.tags), dict(r.data.params),
                           dict(r.data.metrics), h) for r, h in zip(runs, all_histories)]
    p = parent.info
    return sweep_record(dict(parent.data.tags), p.run_id, p.experiment_id, p.status, p.start_time,
                        p.run_name, p.artifact_uri, order_trials(trials, _client_planned(client, p.run_id)))


def _not_found(name: str | None, uri: str, known: list[str]) -> SweepNotFound:
    what = f"no sweep named {name!r}" if name else "no sweeps"
    return SweepNotFound(f"{what} in {uri}; known sweeps: {', '.join(sorted(set(known))) or 'none'}")


# ---- public --------------------------------------------------------------------------------------
def list_sweeps(uri: str | None = None) -> list[SweepRecord]:
    uri = resolve_uri(uri)
    client = make_client(uri)
    return [sweep_record(dict(r.data.tags), r.info.run_id, r.info.experiment_id, r.info.status,
                         r.info.start_time, r.info.run_name, r.info.artifact_uri)
            for r in _client_parents(client, None)]


def read_sweep(name: str | None = None, uri: str | None = None,
               metrics: list[str] | None = None) -> SweepRecord:
    """The latest run of sweep ``name`` (default: the most recent sweep) with its trials and the
    step histories of ``metrics`` (all metrics when None)."""
    uri = resolve_uri(uri)
    if uri.startswith("sqlite:///"):
        from orchestrator.tracking._sqlite_reader import read_sqlite

        record = read_sqlite(uri, name, metrics)
        if record is None:
            raise _not_found(name, uri, [s.name for s in list_sweeps(uri)])
        return record
    return _client_read(uri, name, metrics)


def read_run(ref: str, uri: str | None = None):
    """A run by id, or the latest run whose trial name is ``ref``, with what `orch diff` needs."""
    import re
    import tempfile
    from pathlib import Path

    from orchestrator.diff import RunSnapshot

    client = make_client(resolve_uri(uri))
    run = None
    if re.fullmatch(r"[0-9a-f]{32}", ref):
        try:
            run = client.get_run(ref)
        except Exception:  # noqa: BLE001 - fall through to the name lookup and its error
            run = None
    if run is None:
        ids = [e.experiment_id for e in client.search_experiments()]
        found = client.search_runs(ids, f"tags.`orch.trial_name` = '{ref}'",
                                   order_by=["attributes.start_time DESC"], max_results=1) if ids else []
        if not found:
            raise SweepNotFound(f"no run with id or trial name {ref!r} in {resolve_uri(uri)}")
        run = found[0]
    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("environment.txt", "git_diff.patch"):
            try:
                texts[name] = Path(client.download_artifacts(run.info.run_id, name, tmp)).read_text()
            except Exception:  # noqa: BLE001 - absent artifact: nothing to compare
                texts[name] = ""
    return RunSnapshot(run.info.run_id, run.data.tags.get("orch.trial_name", run.info.run_name),
                       dict(run.data.params), dict(run.data.tags),
                       {from_mlflow_name(k): v for k, v in run.data.metrics.items()},
                       texts["environment.txt"], texts["git_diff.patch"])
