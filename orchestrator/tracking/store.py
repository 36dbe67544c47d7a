"""Which MLflow store to use and how names cross into it."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

__all__ = ["resolve_uri", "make_client", "experiment_id", "to_mlflow_name", "from_mlflow_name", "sqlite_path"]

_INVALID = re.compile(r"[^/\w.\- :]")


def resolve_uri(uri: str | None = None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else a SQLite store in the working directory.
    A relative SQLite path (``sqlite:///mlflow.db``) means one in the working directory."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if not uri:
        return f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    if uri.startswith("sqlite:///") and not uri[len("sqlite:///"):].startswith("/"):
        return f"sqlite:///{(Path.cwd() / uri[len('sqlite:///'):]).resolve()}"
    return uri


def _quiet_mlflow() -> None:
    for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking", "mlflow.store"):
        logging.getLogger(name).setLevel(logging.WARNING)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local ``sqlite:///`` URI, else None."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def make_client(uri: str, create: bool = True):
    """An MlflowClient on ``uri``. A local SQLite store is made whole first (created atomically
    when absent, unless ``create`` is False: readers never create a store)."""
    _quiet_mlflow()
    path = sqlite_path(uri)
    if path is not None:
        from orchestrator.tracking._local_store import prepare_sqlite_store

        prepare_sqlite_store(path, create)
    # MLflow prints a "View run ... at: URL" line per finished run on HTTP stores: orch has its own
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_id(client, name: str, uri: str, create: bool = True) -> str | None:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    if not create:
        return None
    location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts beside the database, not wherever the process happens to run later
        location = (Path(uri[len("sqlite:///"):]).parent / "mlruns").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # noqa: BLE001 - another launcher created it a moment ago: use that one
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def to_mlflow_name(name: str) -> str:
    """MLflow refuses '@' in metric names: ``val/Mean@0.1`` is stored as ``val/Mean_at_0.1``."""
    return _INVALID.sub("_", name.replace("@", "_at_"))


def from_mlflow_name(name: str) -> str:
    return name.replace("_at_", "@")
