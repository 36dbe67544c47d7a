from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Ray 2.60 reads this when ray is imported: with it the embedded instance advertises 127.0.0.1
# (what orch sets before it imports ray); a test module importing ray at collection must not
# make the session's shared instance listen on the machine's address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

# Synthetic datasets the tests generate go to one folder per test session (Ray workers
# inherit the environment), never to the user's ~/.cache/orch.
os.environ.setdefault("ORCH_CACHE", tempfile.mkdtemp(prefix="orch-test-cache-"))


@pytest.fixture
def write(tmp_path):
    """write("name.yaml", text) -> path of a dedented file under tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture(scope="session")
def local_ray():
    """One embedded Ray instance, started the way `orch sweep` starts it, shared by the
    in-process sweep tests (run_sweep reuses a running instance)."""
    from orchestrator.run import start_ray

    start_ray()
    import ray

    yield ray
    ray.shutdown()


@pytest.fixture
def store(tmp_path):
    """A fresh local MLflow store (SQLite) per test, and a client on it."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri)
