"""Files attached to a sweep's parent run after it ran: the tables and plots orch writes."""

from __future__ import annotations

from pathlib import Path

from orchestrator.util.files import write_atomic
from orchestrator.tracking.store import local_artifact_dir, make_client, resolve_uri, sqlite_path

__all__ = ["log_parent_artifact"]


def log_parent_artifact(parent_run_id: str, path, uri: str | None = None, artifact_uri: str = "") -> None:
    """Attach a file (a plot, a table) to a sweep's parent run, under ``results/``. A local store
    whose artifacts are a local folder (``artifact_uri``, the parent's) gets a copy put there
    directly, as MLflow's local artifact repository would, without starting the client."""
    uri = resolve_uri(uri)
    local = local_artifact_dir(artifact_uri)
    if sqlite_path(uri) is not None and local is not None:
        write_atomic(local / "results" / Path(path).name, Path(path).read_bytes())
        return
    make_client(uri, create=False).log_artifact(parent_run_id, str(path), "results")
