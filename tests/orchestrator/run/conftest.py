from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """One embedded Ray instance (loopback, no dashboard) shared by the in-process sweep tests."""
    import os

    import orchestrator.run  # noqa: F401 - sets the Ray environment first
    import ray

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback, as orch does

    ray.init(address="local", include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING, num_cpus=2)
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
