"""The same sweeps against an MLflow server over HTTP and on a two-node Ray cluster (one cluster,
started once for this file's tests: it takes a good part of a minute on two cores)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.servers import mlflow_server, ray_cluster

pytestmark = pytest.mark.slow


def test_sweep_logs_to_an_mlflow_server_over_http(local_ray, tmp_path, write):
    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep

    spec = load_sweep(write("srv.yaml", "name: served\ntrainer: toy\nparams: {epochs: 2}\n"
                                        "grid: {t: [7, 20]}\n"))
    with mlflow_server(tmp_path) as uri:
        outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
        assert outcome.counts == {"finished": 1, "diverged": 1} and not outcome.tracking_errors
        client = MlflowClient(tracking_uri=uri)
        [parent] = parents(client)
        runs = children(client, parent.info.run_id)
        assert sorted(r.data.tags["orch.status"] for r in runs) == ["diverged", "finished"]
        finished = next(r for r in runs if r.data.tags["orch.status"] == "finished")
        assert [m.step for m in client.get_metric_history(finished.info.run_id, "val/Mean")] == [1, 2]
        assert "config.yaml" in {a.path for a in client.list_artifacts(finished.info.run_id)}
        # the table reads the same sweep through the client (no direct database access)
        from orchestrator.analysis.publish import TableRequest, make_table

        text, _ = make_table(TableRequest(metrics=("Mean",), fmt="json", out="-", tracking_uri=uri))
        rows = {r["setting"]: r["metrics"]["val/Mean"] for r in json.loads(text)}
        assert rows["t20"]["nan"] == 1 and rows["t7"]["n"] == 1
        assert rows["t7"]["mean"] == pytest.approx(finished.data.metrics["val/Mean"])
    assert (tmp_path / "server.db").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """(address, env) of a head node and a second node offering ``second_node``, token auth on."""
    with ray_cluster(tmp_path_factory.mktemp("cluster"), {"second_node": 2}) as found:
        yield found


def test_trials_needing_a_custom_resource_run_on_the_second_node(two_nodes, tmp_path, write):
    path = write("two.yaml", """
        name: twonode
        trainer: toy
        params: {epochs: 2}
        grid: {t: [7, 10]}
        resources: {cpu: 1, custom: {second_node: 1}}
    """)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    address, env = two_nodes
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(path), "--quiet",
                          "--address", address, "--tracking-uri", uri],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    nodes = subprocess.run(
        [sys.executable, "-c", "import json, ray; ray.init(address=%r, log_to_driver=False); "
         "print(json.dumps([[n['NodeID'], n['Resources']] for n in ray.nodes() if n['Alive']]))"
         % address], env=env, capture_output=True, text=True, timeout=120, check=True)
    node_ids = json.loads(nodes.stdout.strip().splitlines()[-1])
    second = {nid for nid, res in node_ids if "second_node" in res}
    head = {nid for nid, res in node_ids if "head_node" in res}
    assert len(second) == 1 and len(head) == 1 and second != head
    client = MlflowClient(tracking_uri=uri)
    runs = children(client, parents(client)[0].info.run_id)
    assert len(runs) == 2
    assert {r.data.tags["orch.node_id"] for r in runs} == second


def test_a_token_auth_cluster_without_rayauthmode_says_what_to_set(two_nodes, tmp_path, write):
    write("toy.yaml", "name: envcheck\ntrainer: toy\nparams: {epochs: 1}\ngrid: {t: [7, 8]}\n")
    address, env = two_nodes
    without = {k: v for k, v in env.items() if k != "RAY_AUTH_MODE"}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", "toy.yaml", "--quiet",
                          "--address", address], cwd=tmp_path, env=without, capture_output=True,
                         text=True, timeout=120)
    seconds = time.monotonic() - started
    text = out.stdout + out.stderr
    assert out.returncode == 3 and seconds < 30, text  # 15 s on a quiet machine
    assert f"the Ray cluster at {address} refused this driver: it uses token authentication" in text
    assert "RAY_AUTH_MODE=token" in text and "Traceback" not in text and "gcs_client" not in text
    assert not (tmp_path / "mlflow.db").exists() or "envcheck" not in subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "runs"], cwd=tmp_path, env=without,
        capture_output=True, text=True, timeout=60).stdout  # nothing was launched, no parent left
