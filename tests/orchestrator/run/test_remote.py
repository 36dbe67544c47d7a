"""The same sweeps against an MLflow server over HTTP and on a two-node Ray cluster."""

from __future__ import annotations

import json
import subprocess
import sys

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
        from orchestrator.publish import TableRequest, make_table

        text, _ = make_table(TableRequest(metrics=("Mean",), fmt="json", out="-", tracking_uri=uri))
        rows = {r["setting"]: r["metrics"]["val/Mean"] for r in json.loads(text)}
        assert rows["t20"]["nan"] == 1 and rows["t7"]["n"] == 1
        assert rows["t7"]["mean"] == pytest.approx(finished.data.metrics["val/Mean"])
    assert (tmp_path / "server.db").exists() and not (tmp_path / "mlflow.db").exists()


def test_trials_needing_a_custom_resource_run_on_the_second_node(tmp_path, write):
    path = write("two.yaml", """
        name: twonode
        trainer: toy
        params: {epochs: 2}
        grid: {t: [7, 10]}
        resources: {cpu: 1, custom: {second_node: 1}}
    """)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with ray_cluster(tmp_path, {"second_node": 2}) as (address, env):
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
