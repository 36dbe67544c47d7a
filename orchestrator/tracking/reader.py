"""Read sweeps back from MLflow as frozen records (:mod:`orchestrator.analysis.records`).

A sweep is read in a handful of queries, never one per run and metric: a local SQLite store
whose schema revision orch knows is read directly (read-only); any other store through the
client, histories fetched in parallel.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from orchestrator.protocol import Tag
from orchestrator.analysis.records import RunSnapshot, SweepRecord
from orchestrator.tracking import _sqlite_reader
from orchestrator.tracking._paging import search_all
from orchestrator.tracking._records import dedupe_history, order_trials, sweep_record, trial_result
from orchestrator.tracking.store import from_mlflow_name, make_client, resolve_uri, sqlite_path, to_mlflow_name

__all__ = ["SweepNotFound", "list_sweeps", "read_sweep", "read_run"]

_noticed: set[str] = set()


class SweepNotFound(Exception):
    pass


# ---- through the MLflow client (servers, any store) ------------------------------------------
def _client_parents(client, name: str | None) -> list:
    ids = [e.experiment_id for e in client.search_experiments()]
    filt = f"tags.`{Tag.KIND}` = '{Tag.SWEEP_KIND}'" + (f" and tags.`{Tag.SWEEP}` = '{name}'" if name else "")
    return search_all(client, ids, filt, ["attributes.start_time DESC"])


def _client_planned(client, run_id: str) -> list[dict]:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return json.loads(Path(client.download_artifacts(run_id, "trials.json", tmp)).read_text())
    except Exception:  # noqa: BLE001 - the order is a nicety; an unreadable artifact is not fatal
        return []


def _client_read(uri: str, name: str | None, metrics: list[str] | None) -> SweepRecord:
    client = make_client(uri, create=False)
    parents = _client_parents(client, name)
    if not parents:
        raise _not_found(name, uri, [r.data.tags.get(Tag.SWEEP, "") for r in _client_parents(client, None)])
    parent = parents[0]
    runs = search_all(client, [parent.info.experiment_id], f"tags.`{Tag.PARENT}` = '{parent.info.run_id}'",
                      page_size=5000)
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
    planned = _client_planned(client, p.run_id)
    return sweep_record(dict(parent.data.tags), p.run_id, p.experiment_id, p.status, p.start_time,
                        p.run_name, p.artifact_uri, order_trials(trials, planned), dict(parent.data.metrics), planned)


def _not_found(name: str | None, uri: str, known: list[str]) -> SweepNotFound:
    what = f"no sweep named {name!r}" if name else "no sweeps"
    return SweepNotFound(f"{what} in {uri}; known sweeps: {', '.join(sorted(set(known))) or 'none'}")


def _require(path: Path) -> None:
    if not path.exists():  # reading never creates a store
        raise SweepNotFound(f"no MLflow store at {path}: run `orch sweep` here first, or point "
                            "--tracking-uri / MLFLOW_TRACKING_URI at the store")


def _notice(message: str) -> None:
    if message not in _noticed:  # once per process and store
        _noticed.add(message)
        print(f"notice: {message}", file=sys.stderr, flush=True)


# ---- public --------------------------------------------------------------------------------------
def list_sweeps(uri: str | None = None) -> list[SweepRecord]:
    """Every sweep's parent runs, newest first (tags and latest metrics, no trials)."""
    uri = resolve_uri(uri)
    path = sqlite_path(uri)
    if path is not None and not path.exists():  # reading never creates a store
        return []
    if path is not None:
        try:
            return _sqlite_reader.list_sqlite(uri) or []
        except _sqlite_reader.UnknownSchema as exc:
            _notice(f"{exc}; reading it through the MLflow client instead (slower)")
    client = make_client(uri, create=False)
    return [sweep_record(dict(r.data.tags), r.info.run_id, r.info.experiment_id, r.info.status,
                         r.info.start_time, r.info.run_name, r.info.artifact_uri, metrics=dict(r.data.metrics))
            for r in _client_parents(client, None)]


def read_sweep(name: str | None = None, uri: str | None = None,
               metrics: list[str] | None = None) -> SweepRecord:
    """The latest run of sweep ``name`` (default: the most recent sweep) with its trials and the
    step histories of ``metrics`` (all metrics when None)."""
    uri = resolve_uri(uri)
    path = sqlite_path(uri)
    if path is not None:
        _require(path)
        try:
            record = _sqlite_reader.read_sqlite(uri, name, metrics)
        except _sqlite_reader.UnknownSchema as exc:
            _notice(f"{exc}; reading it through the MLflow client instead (slower)")
        else:
            if record is None:
                raise _not_found(name, uri, [s.name for s in list_sweeps(uri)])
            return record
    return _client_read(uri, name, metrics)


def read_run(ref: str, uri: str | None = None) -> RunSnapshot:
    """A run by id, or the latest run whose trial name is ``ref``, with what `orch diff` needs."""
    uri = resolve_uri(uri)
    path = sqlite_path(uri)
    by_id = re.fullmatch(r"[0-9a-f]{32}", ref) is not None
    if path is not None:
        _require(path)
        try:
            snapshot = _sqlite_reader.run_sqlite(uri, ref, by_id) or (
                _sqlite_reader.run_sqlite(uri, ref, False) if by_id else None)
        except _sqlite_reader.UnknownSchema as exc:
            _notice(f"{exc}; reading it through the MLflow client instead (slower)")
        else:
            if snapshot is None:
                raise SweepNotFound(f"no run with id or trial name {ref!r} in {uri}")
            return snapshot
    client = make_client(uri, create=False)
    run = None
    if by_id:
        try:
            run = client.get_run(ref)
        except Exception:  # noqa: BLE001 - fall through to the name lookup and its error
            run = None
    if run is None:
        ids = [e.experiment_id for e in client.search_experiments()]
        found = client.search_runs(ids, f"tags.`{Tag.TRIAL_NAME}` = '{ref}'",
                                   order_by=["attributes.start_time DESC"], max_results=1) if ids else []
        if not found:
            raise SweepNotFound(f"no run with id or trial name {ref!r} in {uri}")
        run = found[0]
    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("environment.txt", "git_diff.patch"):
            try:
                texts[name] = Path(client.download_artifacts(run.info.run_id, name, tmp)).read_text()
            except Exception:  # noqa: BLE001 - absent artifact: nothing to compare
                texts[name] = ""
    return RunSnapshot(run.info.run_id, run.data.tags.get(Tag.TRIAL_NAME, run.info.run_name),
                       dict(run.data.params), dict(run.data.tags),
                       {from_mlflow_name(k): v for k, v in run.data.metrics.items()},
                       texts["environment.txt"], texts["git_diff.patch"])
