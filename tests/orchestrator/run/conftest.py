from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """One embedded Ray instance, started the way `orch sweep` starts it, shared by the
    in-process sweep tests (run_sweep reuses a running instance)."""
    from orchestrator.run import _init_ray

    _init_ray(None)
    import ray

    yield ray
    ray.shutdown()


@pytest.fixture
def store(tmp_path):
    """A fresh local MLflow store (SQLite) per test, and a client on it."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri)


def children(client, parent_id: str) -> list:
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exp_ids, filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
                                   max_results=1000))


def parents(client) -> list:
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exp_ids, filter_string="tags.`orch.kind` = 'sweep'"))
