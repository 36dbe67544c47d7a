"""Read a sweep straight from a local MLflow SQLite store: five queries for any number of runs.

Read-only (``mode=ro``), so it never competes with a running sweep for the write lock. Uses the
tables MLflow's own SQLAlchemy store defines (runs, tags, params, metrics, latest_metrics), which
are MLflow's private business: the store's schema revision (alembic's ``alembic_version``) must
be one these queries were checked against, or (a newer MLflow's) one whose tables still have every
column the queries use; else :class:`UnknownSchema` sends the caller to the client.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections import defaultdict
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from orchestrator.util.bulk import paused_gc
from orchestrator.protocol import Tag
from orchestrator.analysis.records import RunSnapshot, SweepRecord
from orchestrator.tracking._records import dedupe_history, order_trials, sweep_record, trial_result
from orchestrator.tracking.store import from_mlflow_name, local_artifact_dir, to_mlflow_name

__all__ = ["KNOWN_REVISIONS", "UnknownSchema", "read_sqlite", "list_sqlite", "run_sqlite", "children_sqlite",
           "schema_revision"]

# MLflow schema revisions whose runs/tags/params/metrics/latest_metrics tables these queries
# were checked against (mlflow 3.17: dc11669786a5; 3.18 adds e7d1f4b2a9c6, 8b6ad64cb8f5 and
# f4a9b2c7d1e6, none of which touches those tables). Add one after checking a new MLflow's tables.
KNOWN_REVISIONS = frozenset({"dc11669786a5", "e7d1f4b2a9c6", "8b6ad64cb8f5", "f4a9b2c7d1e6"})
# What the queries read: a store of a revision not checked yet is read when all of these are there
# (MLflow's migrations since 1.x have added tables and columns, not renamed these).
COLUMNS = {
    "runs": ("run_uuid", "experiment_id", "status", "start_time", "name", "artifact_uri", "lifecycle_stage"),
    "tags": ("run_uuid", "key", "value"),
    "params": ("run_uuid", "key", "value"),
    "metrics": ("run_uuid", "key", "value", "step", "timestamp", "is_nan"),
    "latest_metrics": ("run_uuid", "key", "value", "is_nan"),
}

_KEY_VALUE = itemgetter(1, 2)
_NAN = math.nan


VIA_CLIENT = "ORCH_READ_VIA_CLIENT"  # set (to anything) to read local stores through the MLflow client


class UnknownSchema(Exception):
    pass


def schema_revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _missing_columns(db: sqlite3.Connection) -> list[str]:
    """The table.column names the queries use that this store lacks."""
    missing = []
    for table, needed in COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        missing += [f"{table}.{column}" for column in needed if column not in have]
    return missing


def _connect(uri: str) -> sqlite3.Connection | None:
    path = Path(uri[len("sqlite:///"):])
    if not path.exists():
        return None
    if os.environ.get(VIA_CLIENT):
        raise UnknownSchema(f"{VIA_CLIENT} is set")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    revision = schema_revision(db)
    missing = [] if revision in KNOWN_REVISIONS else _missing_columns(db)
    if revision is None or missing:
        db.close()
        raise UnknownSchema(f"{path} has MLflow schema revision {revision or '(none)'}, which orch's "
                            f"direct SQLite reader does not know"
                            + (f" (it lacks {', '.join(missing[:3])})" if revision else ""))
    db.execute("BEGIN")  # one snapshot for all of a read's queries; `with db:` ends it
    return db


def _artifact_text(artifact_uri: str, name: str) -> str | None:
    """A run's artifact read from its local folder; None when absent or not local."""
    folder = local_artifact_dir(artifact_uri)
    path = folder / name if folder else None
    try:
        return path.read_text() if path and path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _planned(artifact_uri: str) -> list[dict]:
    try:
        return json.loads(_artifact_text(artifact_uri, "trials.json") or "[]")
    except ValueError:
        return []


def _with_nan(pairs) -> tuple:
    """(key, value) pairs read with ``iif(is_nan, NULL, value)``: MLflow stores NaN as is_nan and
    a placeholder value; the query gives NULL for it, and this NaN."""
    return tuple((key, _NAN if value is None else value) for key, value in pairs)


def _by_run(rows) -> dict[str, dict]:
    """(run_uuid, key, value) rows in run order -> run -> {key: value}; {} for a run without rows."""
    return defaultdict(dict, {run: dict(map(_KEY_VALUE, series)) for run, series in groupby(rows, itemgetter(0))})


def _latest(db: sqlite3.Connection, where: str, args: tuple) -> dict[str, dict[str, float]]:
    out = _by_run(db.execute(f"SELECT run_uuid, key, iif(is_nan, NULL, value) FROM latest_metrics "
                             f"WHERE run_uuid IN ({where}) ORDER BY run_uuid", args))
    for run, metrics in out.items():
        if None in metrics.values():
            out[run] = dict(_with_nan(metrics.items()))
    return out


def _pairs(db: sqlite3.Connection, table: str, where: str, args: tuple) -> dict[str, dict[str, str]]:
    return _by_run(db.execute(f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({where}) "
                              f"ORDER BY run_uuid", args))


def _histories(db: sqlite3.Connection, where: str, args: tuple) -> dict[str, dict[str, tuple]]:
    """run -> key -> ((step, value), ...), one value per step (:func:`dedupe_history`).

    Two queries in the (run_uuid, key, step) index's order, rowid last, so SQLite sorts nothing:
    the series and their lengths, then every (step, value) point, which fills the histories by
    slicing (a sweep has 100,000s of points, and a run id and a key per point would be most of
    the read). A series with a step logged again (a resumed trial) is read once more with its
    timestamps and deduped as the client path does. The caller holds one read transaction."""
    out: dict[str, dict[str, tuple]] = defaultdict(dict)
    series = db.execute(f"SELECT run_uuid, key, count(*) FROM metrics WHERE {where} GROUP BY run_uuid, key "
                        f"ORDER BY run_uuid, key", args).fetchall()
    points = db.execute(f"SELECT step, iif(is_nan, NULL, value) FROM metrics WHERE {where} "
                        f"ORDER BY run_uuid, key, step, rowid", args).fetchall()
    start = 0
    for run, key, count in series:
        history = points[start:start + count]
        start += count
        steps = dict(history)
        if len(steps) < count:
            out[run][key] = _reread(db, run, key)
        elif None in steps.values():
            out[run][key] = _with_nan(history)
        else:
            out[run][key] = tuple(history)
    return out


def _reread(db: sqlite3.Connection, run: str, key: str) -> tuple[tuple[int, float], ...]:
    return dedupe_history((step, stamp, _NAN if value is None else value) for step, stamp, value in db.execute(
        "SELECT step, timestamp, iif(is_nan, NULL, value) FROM metrics WHERE run_uuid = ? AND key = ? "
        "ORDER BY step, rowid", (run, key)))


def list_sqlite(uri: str) -> list[SweepRecord] | None:
    """Every sweep's parent runs, newest first, with their tags and latest metrics (no trials)."""
    db = _connect(uri)
    if db is None:
        return None
    parents = "SELECT run_uuid FROM tags WHERE key = ? AND value = ?"
    args = (Tag.KIND, Tag.SWEEP_KIND)
    with db:
        rows = db.execute(f"SELECT run_uuid, experiment_id, status, start_time, name, artifact_uri FROM runs "
                          f"WHERE lifecycle_stage = 'active' AND run_uuid IN ({parents}) "
                          f"ORDER BY start_time DESC", args).fetchall()
        tags, latest = _pairs(db, "tags", parents, args), _latest(db, parents, args)
    return [sweep_record(tags[run], run, exp, status, start, name, artifact_uri, metrics=latest[run])
            for run, exp, status, start, name, artifact_uri in rows]


def children_sqlite(uri: str, experiment_id: str, parent_id: str) -> list[tuple] | None:
    """The active child runs of ``parent_id`` as ``search_runs`` orders them (newest first, then
    by id): (run id, tags, param names, latest metrics, artifact URI) each, for a sweep that
    resumes. The MLflow client takes about 1.3 ms a run for this (2.6 s for 2,000 trials)."""
    db = _connect(uri)
    if db is None:
        return None
    children = ("SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = ? AND "
                "t.value = ? WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'")
    args = (Tag.PARENT, parent_id, int(experiment_id))
    with db:
        rows = db.execute(f"SELECT run_uuid, artifact_uri FROM runs WHERE run_uuid IN ({children}) "
                          f"ORDER BY start_time DESC, run_uuid", args).fetchall()
        tags, params = _pairs(db, "tags", children, args), _pairs(db, "params", children, args)
        latest = _latest(db, children, args)
    return [(run, tags[run], frozenset(params[run]), latest[run], artifact_uri) for run, artifact_uri in rows]


def run_sqlite(uri: str, ref: str, by_id: bool) -> RunSnapshot | None:
    """A run by id (``by_id``) or the latest run whose trial name is ``ref``, for `orch diff`."""
    db = _connect(uri)
    if db is None:
        return None
    with db:
        if by_id:
            row = db.execute("SELECT run_uuid, name, artifact_uri FROM runs WHERE run_uuid = ? AND "
                             "lifecycle_stage = 'active'", (ref,)).fetchone()
        else:
            row = db.execute("SELECT r.run_uuid, r.name, r.artifact_uri FROM runs r JOIN tags t ON "
                             "t.run_uuid = r.run_uuid AND t.key = ? AND t.value = ? WHERE r.lifecycle_stage "
                             "= 'active' ORDER BY r.start_time DESC LIMIT 1", (Tag.TRIAL_NAME, ref)).fetchone()
        if row is None:
            return None
        run, name, artifact_uri = row
        tags, params = _pairs(db, "tags", "?", (run,))[run], _pairs(db, "params", "?", (run,))[run]
        metrics = _latest(db, "?", (run,))[run]
    return RunSnapshot(run, tags.get(Tag.TRIAL_NAME, name), params, tags,
                       {from_mlflow_name(k): v for k, v in metrics.items()},
                       _artifact_text(artifact_uri, "environment.txt") or "",
                       _artifact_text(artifact_uri, "git_diff.patch") or "")


@paused_gc()  # 100,000s of history points in a big sweep
def read_sqlite(uri: str, name: str | None, metrics: list[str] | None) -> SweepRecord | None:
    db = _connect(uri)
    if db is None:
        return None
    with db:
        query = (f"SELECT r.run_uuid, r.experiment_id, r.status, r.start_time, r.name, r.artifact_uri "
                 f"FROM runs r JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = ? AND k.value = ? "
                 f"{'JOIN tags s ON s.run_uuid = r.run_uuid AND s.key = ? AND s.value = ?' if name else ''} "
                 f"WHERE r.lifecycle_stage = 'active' ORDER BY r.start_time DESC LIMIT 1")
        args = (Tag.KIND, Tag.SWEEP_KIND, Tag.SWEEP, name) if name else (Tag.KIND, Tag.SWEEP_KIND)
        row = db.execute(query, args).fetchone()
        if row is None:
            return None
        parent_id, experiment_id, status, start_time, run_name, artifact_uri = row
        parent_tags = _pairs(db, "tags", "?", (parent_id,))[parent_id]
        parent_metrics = _latest(db, "?", (parent_id,))[parent_id]
        children = "SELECT run_uuid FROM tags WHERE key = ? AND value = ?"
        runs = dict(db.execute(f"SELECT run_uuid, name FROM runs WHERE lifecycle_stage = 'active' "
                               f"AND run_uuid IN ({children})", (Tag.PARENT, parent_id)))
        tags = _pairs(db, "tags", children, (Tag.PARENT, parent_id))
        params = _pairs(db, "params", children, (Tag.PARENT, parent_id))
        latest = _latest(db, children, (Tag.PARENT, parent_id))
        key_filter, key_args = "", ()
        if metrics is not None:
            names = [to_mlflow_name(m) for m in metrics]
            key_filter = f"AND key IN ({','.join('?' * len(names))})" if names else "AND 0"
            key_args = tuple(names)
        history = _histories(db, f"run_uuid IN ({children}) {key_filter}", (Tag.PARENT, parent_id, *key_args))
    trials = [trial_result(run, runs[run], tags[run], params[run], latest[run], history[run])
              for run in runs]
    return sweep_record(parent_tags, parent_id, experiment_id, status, start_time, run_name,
                        artifact_uri, order_trials(trials, planned := _planned(artifact_uri)), parent_metrics, planned)
