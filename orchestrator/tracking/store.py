"""Which MLflow store to use and how names cross into it."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["resolve_uri", "make_client", "local_artifact_dir", "experiment_id", "to_mlflow_name", "from_mlflow_name", "sqlite_path",
           "TrackingUnreachable", "check_server"]

# MLflow retries an unreachable server for minutes by default; orch retries its own writes
# (orchestrator.tracking.queue) and says so, so MLflow's own retries are kept short
_MLFLOW_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class TrackingUnreachable(Exception):
    pass


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Raise :class:`TrackingUnreachable` (one paragraph) when the MLflow server at ``uri`` does
    not answer its health check within ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as resp:
            if resp.status == 200:
                return
            why = f"it answered HTTP {resp.status} to /health"
    except urllib.error.HTTPError as exc:
        why = f"it answered HTTP {exc.code} to /health"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        why = f"nothing answered ({reason})"
    raise TrackingUnreachable(
        f"the tracking server {uri} is unreachable: {why}. Start one with `mlflow server --host 127.0.0.1 "
        f"--port PORT --backend-store-uri sqlite:///server.db`, check --tracking-uri / MLFLOW_TRACKING_URI, "
        "or leave both unset to use ./mlflow.db.")

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


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local ``sqlite:///`` URI, else None."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def local_artifact_dir(artifact_uri: str) -> Path | None:
    """A run's artifact folder when its artifact URI is a local path (``file://`` or bare), else None."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(artifact_uri)
    return Path(unquote(parsed.path)) if artifact_uri and parsed.scheme in ("", "file") else None


def make_client(uri: str, create: bool = True):
    """An MlflowClient on ``uri``. A local SQLite store is made whole first (created atomically
    when absent, unless ``create`` is False: readers never create a store)."""
    from orchestrator.tracking._local_store import quiet_mlflow

    quiet_mlflow()
    for name, value in _MLFLOW_HTTP.items():
        os.environ.setdefault(name, value)
    if uri.startswith(("http://", "https://")):
        check_server(uri)
    path = sqlite_path(uri)
    if path is not None:
        from orchestrator.tracking._local_store import prepare_sqlite_store

        prepare_sqlite_store(path, create)
    # MLflow prints a "View run ... at: URL" line per finished run on HTTP stores: orch has its own
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # and a progress bar per artifact it reads back (trials.json, environment.txt) where tqdm exists
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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
