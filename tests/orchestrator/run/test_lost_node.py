"""A node lost mid-trial, for real: a two-node Ray cluster on 127.0.0.1 (`ray start` twice), the
second node's raylet killed with SIGKILL while a trial runs there. With `retries` the trial runs
again in its own run on the node left; the sweep goes on, every trial once, none RUNNING."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.servers import ray_cluster

pytestmark = pytest.mark.slow

SWEEP = """
name: lostnode
trainer: toy
params: {epochs: 8, sleep: 1.0}
grid: {t: [1, 2, 3, 4]}
resources: {max_concurrent: 2}
retries: 1
"""


def _second_raylet() -> int | None:
    """The raylet of the node started with the resource `lost_node` (its command line says so)."""
    for name in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if b"raylet/raylet" in cmd and b"lost_node" in cmd:
            return int(name)
    return None


def test_a_lost_node_reruns_its_trial_elsewhere_exactly_once(tmp_path):
    (tmp_path / "lost.yaml").write_text(SWEEP)
    with ray_cluster(tmp_path, {"lost_node": 1}) as (address, env):
        proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "sweep", "lost.yaml", "--address", address,
                                 "--quiet"], cwd=tmp_path, env={**env, "RAY_TMPDIR": "/tmp"}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        db = tmp_path / "mlflow.db"
        deadline = time.time() + 120
        while time.time() < deadline:  # both trials of the first pair running, one on each node
            try:
                if db.exists() and len(children(MlflowClient(f"sqlite:///{db}"), parents(MlflowClient(f"sqlite:///{db}"))[0].info.run_id)) >= 2:
                    break
            except Exception:  # noqa: BLE001 - the store is being created
                pass
            time.sleep(0.5)
        time.sleep(3)
        raylet = _second_raylet()
        assert raylet is not None, "no raylet of the second node"
        os.kill(raylet, signal.SIGKILL)
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    retried = [line for line in out.splitlines() if line.startswith("retry")]
    assert len(retried) == 1 and "its worker (pid " in retried[0] and "was lost" in retried[0], out[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = children(client, parents(client)[0].info.run_id)
    assert sorted(r.info.run_name for r in runs) == ["t1", "t2", "t3", "t4"]  # exactly once each
    assert {r.data.tags["orch.status"] for r in runs} == {"finished"}  # none RUNNING, the lost one re-run
