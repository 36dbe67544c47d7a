"""A local SQLite store that survives a kill at any moment.

MLflow creates its tables and then runs some thirty migrations in place; a process killed in
between leaves a file that every later open rejects (``table datasets already exists``). orch
builds a new store aside (``.mlflow.db.creating-PID``), under a lock, and renames it into place
once complete, so the store is either absent or whole. A half-made store (no or an unfinished
schema revision) that holds no runs is moved aside and rebuilt; one that holds runs is
explained in one line, never a traceback.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StoreError", "prepare_sqlite_store", "latest_revision"]


class StoreError(Exception):
    pass


def latest_revision() -> str | None:
    """The schema revision the installed MLflow creates (None when it cannot say)."""
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision

        return _get_latest_schema_revision()
    except Exception:  # noqa: BLE001 - a private helper of MLflow's: do without it
        return None


def _state(path: Path) -> tuple[str | None, int]:
    """(schema revision or None, runs in the store) of an existing file."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"{path} cannot be opened as an SQLite database ({exc})") from None
    with db:
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not an MLflow store (not an SQLite database: {exc}); move it "
                             "away or point --tracking-uri elsewhere") from None
        revision = None
        if "alembic_version" in tables:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] if "runs" in tables else 0
    return revision, runs


@contextmanager
def _locked(path: Path):
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the OS if this process dies
        yield


def _build(path: Path) -> None:
    """Create the full schema in a file beside ``path`` and rename it into place."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    for stale in path.parent.glob(f".{path.name}.creating-*"):  # left by a killed creator
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    os.replace(tmp, path)


def _half_made(path: Path, revision: str | None, runs: int) -> None:
    if runs:
        raise StoreError(f"{path} is an MLflow store with {runs} runs whose schema is at revision "
                         f"{revision or '(none)'}, not {latest_revision()} as this MLflow expects: back it "
                         f"up, then run `mlflow db upgrade sqlite:///{path}`")
    aside = path.with_name(f"{path.name}.half-made-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    print(f"notice: {path} was a half-made MLflow store with no runs (an interrupted creation); "
          f"moved it to {aside.name} and made a new one", file=sys.stderr, flush=True)


def prepare_sqlite_store(path: Path, create: bool = True) -> bool:
    """Make sure ``path`` is a whole MLflow store: create it when absent (if ``create``), rebuild
    a half-made empty one, refuse a broken one with :class:`StoreError`. False when absent and
    not created."""
    latest = latest_revision()
    if path.exists():
        revision, runs = _state(path)
        if latest is None or revision == latest:
            return True
    elif not create:
        return False
    with _locked(path):
        if path.exists():  # checked again: another process may have finished it meanwhile
            revision, runs = _state(path)
            if revision == latest:
                return True
            if not create:
                raise StoreError(f"{path} is a half-made MLflow store (schema revision {revision or '(none)'}); "
                                 "run `orch sweep` here once to rebuild it, or move it away")
            _half_made(path, revision, runs)
        try:
            _build(path)
        except ImportError:  # MLflow's private helper moved: let the client create it in place
            return True
    return True
