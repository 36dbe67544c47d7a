"""A local SQLite store that survives a kill at any moment.

MLflow creates its tables and then runs some thirty migrations in place; a process killed in
between leaves a file that every later open rejects (``table datasets already exists``). orch
builds a new store aside (``.mlflow.db.creating-PID``), under a lock, and renames it into place
once complete, so the store is either absent or whole. A half-made store (no or an unfinished
schema revision) that holds no runs is moved aside and rebuilt; one that holds runs is
explained in one line, never a traceback.

Building the schema (alembic, thirty-odd migrations) takes a second or more; the first store an
MLflow version makes is kept as a template under ``$ORCH_CACHE/mlflow-schema/`` and later new
stores are copies of it, as is the schema revision (reading it means loading every migration).
"""

from __future__ import annotations

import logging

import fcntl
import hashlib
import os
import shutil
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StoreError", "prepare_sqlite_store", "latest_revision"]


class StoreError(Exception):
    pass


def quiet_mlflow() -> None:
    """MLflow's and alembic's INFO lines off: noise to a user of orch."""
    for name in ("alembic", "mlflow.tracking", "mlflow.store"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # it logs every failed write with SQLAlchemy's traceback (a full disk: dozens); orch retries
    # them and says what is wrong in one line (tracking.queue, tracking.trouble)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def _schema_cache() -> Path | None:
    """``$ORCH_CACHE/mlflow-schema/<key>``: the key names this MLflow's version and its set of
    migrations (a source checkout with a new migration gets a key of its own). None when MLflow's
    migrations cannot be found."""
    import importlib.util

    from orchestrator.util.cache import cache_root

    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    versions = Path(list(spec.submodule_search_locations)[0]) / "store" / "db_migrations" / "versions"
    try:
        names = sorted(n for n in os.listdir(versions) if n.endswith(".py"))
    except OSError:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("mlflow")
    except PackageNotFoundError:
        installed = "unknown"
    digest = hashlib.sha256("\n".join([installed, *names]).encode()).hexdigest()[:16]
    return cache_root() / "mlflow-schema" / digest


def _cache_write(target: Path, data: str | bytes) -> None:
    """Put a file into the cache; a cache that cannot be written is done without."""
    from orchestrator.util.files import write_atomic

    try:
        write_atomic(target, data)
    except OSError:
        pass


def latest_revision() -> str | None:
    """The schema revision the installed MLflow creates (None when it cannot say)."""
    cache = _schema_cache()
    known = cache.with_suffix(".revision") if cache else None
    if known is not None and known.exists():
        return known.read_text().strip() or None
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision

        revision = _get_latest_schema_revision()
    except Exception:  # noqa: BLE001 - a private helper of MLflow's: do without it
        return None
    if known is not None and revision:
        _cache_write(known, revision)
    return revision


def _state(path: Path) -> tuple[str | None, int]:
    """(schema revision or None, runs in the store) of an existing file."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"{path} cannot be opened as an SQLite database ({exc})") from None
    with db:
        # a damaged or foreign file raises sqlite3.DatabaseError: orchestrator.tracking.trouble says it
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
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
    """Create the full schema in a file beside ``path`` (a copy of the cached template where there
    is a whole one) and rename it into place."""
    for stale in path.parent.glob(f".{path.name}.creating-*"):  # left by a killed creator
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.creating-{os.getpid()}")
    cache = _schema_cache()
    template = cache.with_suffix(".db") if cache else None
    latest = latest_revision()
    if template is not None and template.exists() and latest and _template_state(template) == (latest, 0):
        shutil.copyfile(template, tmp)
    else:
        _migrate(tmp)
        if template is not None and _template_state(tmp) == (latest, 0):
            _cache_write(template, tmp.read_bytes())
    os.replace(tmp, path)


def _template_state(path: Path) -> tuple[str | None, int] | None:
    try:
        return _state(path)
    except (StoreError, sqlite3.DatabaseError):
        return None


def _migrate(tmp: Path) -> None:
    quiet_mlflow()  # its "Creating initial MLflow database tables..." lines are noise to a user
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()


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
