"""kill -9 the orchestrator mid-sweep, resume: every trial finished exactly once, one parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow

SWEEP = """
name: killme
trainer: toy
params: {epochs: 6, sleep: 0.4}
grid: {t: [6, 7, 8, 9, 10, 11]}
resources: {max_concurrent: 2}
"""


def _orch(args: list[str], cwd, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _statuses(client) -> Counter:
    found = parents(client)
    if not found:
        return Counter()
    return Counter(r.data.tags.get("orch.status") for r in children(client, found[0].info.run_id))


def test_kill_9_then_resume_finishes_each_trial_once(tmp_path, write):
    path = write("killme.yaml", SWEEP)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    client = MlflowClient(tracking_uri=uri)
    client.search_experiments()  # create the schema now: two processes creating it at once race
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (tmp_path / "mlflow.db").exists() and _statuses(client)["finished"] >= 2:
            break
        time.sleep(0.3)
    assert proc.poll() is None, "the sweep ended before it could be killed:\n" + proc.stdout.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:  # Ray's own processes of the killed session: they must not matter, so end them
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    before = _statuses(client)
    assert 2 <= before["finished"] < 6
    first_ids = {r.info.run_id for r in children(client, parents(client)[0].info.run_id)}

    resumed = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    out, _ = resumed.communicate(timeout=300)
    try:
        os.killpg(resumed.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    assert resumed.returncode == 0, out
    assert f"{before['finished']} done before" in out

    [parent] = parents(client)
    runs = children(client, parent.info.run_id)
    keys = Counter(r.data.tags["orch.trial_key"] for r in runs)
    assert len(keys) == 6 and set(keys.values()) == {1}  # exactly one run per trial key
    assert all(r.data.tags["orch.status"] == "finished" and r.info.status == "FINISHED" for r in runs)
    assert first_ids <= {r.info.run_id for r in runs}  # interrupted trials reused their runs
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/Mean")]
        assert set(steps) == {1, 2, 3, 4, 5, 6}
