"""Faults for real: kill -9 while the store is being created, two launches of one sweep at once,
Ctrl-C with a trial that ignores SIGTERM and leaves a grandchild, schedulers run twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow
FIXTURES = ROOT / "tests" / "fixtures"

SLOW_TOY = """
name: faulty
trainer: toy
params: {epochs: 3, sleep: 0.3}
grid: {t: [6, 7, 8, 9]}
resources: {max_concurrent: 2}
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE")}
    # a Ray temp dir of this test's own: its sockets stay short enough, its processes findable
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="r", dir="/tmp")
    return env


def _orch(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    proc = _orch(args, cwd, env)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _tagged_by(pid: int) -> list[int]:
    """Processes still carrying the instance tag of orch process ``pid`` (Ray's, trials')."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(e.startswith(f"ORCH_INSTANCE={pid}-".encode()) for e in env):
            found.append(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _keys(client) -> Counter:
    [parent] = parents(client)
    return Counter(r.data.tags["orch.trial_key"] for r in children(client, parent.info.run_id))


def test_kill_9_during_store_creation_leaves_a_store_every_command_accepts(tmp_path, write):
    path = write("faulty.yaml", SLOW_TOY)
    # a cache of its own: no template of an earlier store, so the store is built by migrations
    env = {**_env(tmp_path), "ORCH_CACHE": str(tmp_path / "cache")}
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    deadline = time.time() + 120
    creating: list[Path] = []
    while time.time() < deadline and not (creating or (tmp_path / "mlflow.db").exists()):
        creating = list(tmp_path.glob(".mlflow.db.creating-*"))
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert creating, "the store appeared before it was seen being built: the kill came too late"
    assert not (tmp_path / "mlflow.db").exists()  # half a store is never in place
    for args in (["runs"], ["runs", "faulty"], ["table", "faulty", "--out", "-"]):
        code, out = _run(args, tmp_path, env)
        assert "Traceback" not in out and code in (0, 2), out
    code, out = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 0, out
    code, out = _run(["table", "faulty", "--out", "-"], tmp_path, env)
    assert code == 0 and len([l for l in out.splitlines() if re.match(r"\| \d", l)]) == 4, out  # 4 rows of t
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert set(_keys(client).values()) == {1}


def test_a_second_launch_is_refused_and_names_the_owner(tmp_path, write):
    path = write("faulty.yaml", SLOW_TOY)
    env = _env(tmp_path)
    assert _run(["runs"], tmp_path, env)[0] == 0  # no store yet: nothing listed, nothing created
    assert not (tmp_path / "mlflow.db").exists()
    first = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    owner = tmp_path / ".mlflow.db.faulty.owner"
    deadline = time.time() + 120
    while time.time() < deadline and not (owner.exists() and owner.read_text()):
        time.sleep(0.05)
    code, out = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 2 and "already running" in out and f"pid {first.pid}" in out and "Traceback" not in out, out
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(parents(client)) == 1
    keys = _keys(client)
    assert len(keys) == 4 and set(keys.values()) == {1}
    # the owner is gone: a new launch runs (and finds everything done)
    code, out = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 0 and "4 done before" in out, out


def _postgres_or_skip() -> None:
    from tests.servers import postgres_bin

    if postgres_bin() is None:
        pytest.skip("Debian's postgresql is not installed (.ci/run installs it)")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_launches_at_once_against_a_server_write_each_trial_once(tmp_path, write, backend):
    from contextlib import ExitStack

    from tests.servers import MlflowServer, postgres

    path = write("faulty.yaml", SLOW_TOY)
    env = {**_env(tmp_path), "ORCH_LEASE_SETTLE_S": "1"}
    with ExitStack() as stack:
        db = None
        if backend == "postgresql":
            _postgres_or_skip()
            db = stack.enter_context(postgres())
        server = MlflowServer(tmp_path, db)
        stack.callback(server.stop)
        uri = env["MLFLOW_TRACKING_URI"] = server.start()
        a, b = (_orch(["sweep", str(path), "--quiet"], tmp_path, env) for _ in range(2))
        outs = [p.communicate(timeout=300)[0] for p in (a, b)]
        codes = sorted(p.returncode for p in (a, b))
        assert codes == [0, 2], outs
        refused = outs[[a.returncode, b.returncode].index(2)]
        assert "Traceback" not in refused and ("already running" in refused or "launched twice" in refused)
        client = MlflowClient(tracking_uri=uri)
        assert len(parents(client)) == 1
        keys = _keys(client)
        assert len(keys) == 4 and set(keys.values()) == {1}


def test_ctrl_c_stops_trials_and_their_grandchildren_and_records_them_killed(tmp_path, write):
    path = write("sig.yaml", f"""
        name: sig
        trainer: command
        grid: {{k: [1, 2]}}
        params:
          command: [python, {FIXTURES / "ignore_term.py"}, "{tmp_path}/pids_{{k}}"]
          grace: 1
    """)
    env = _env(tmp_path)
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    pid_files = [tmp_path / "pids_1", tmp_path / "pids_2"]
    deadline = time.time() + 180
    while time.time() < deadline and not all(f.exists() and f.read_text().strip() for f in pid_files):
        time.sleep(0.2)
    time.sleep(1.5)  # the scripts' first table lines reach the store
    trial_pids = [int(p) for f in pid_files for p in f.read_text().split()]
    assert len(trial_pids) == 4
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "Traceback" not in out
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = parents(client)
    assert parent.info.status == "KILLED"
    runs = children(client, parent.info.run_id)
    assert sorted(r.data.tags["orch.status"] for r in runs) == ["killed", "killed"]
    assert all(r.info.status == "KILLED" and r.data.metrics.get("val/Mean") == 50.0 for r in runs)
    assert not [p for p in trial_pids if _alive(p)], "a trial process or its grandchild survived"
    assert not _tagged_by(proc.pid), "a process of the embedded Ray instance survived"


@pytest.mark.parametrize("moment", [0.0, 1.5, 3.0, "trials-run"],
                         ids=["ray-starts", "ray-starts+1.5s", "ray-starts+3s", "trials-run"])
def test_sigterm_is_the_first_ctrl_c(tmp_path, write, moment):
    # two trials of 6 s, both running at once: the resume's one round is the test's longest part
    path = write("faulty.yaml", SLOW_TOY.replace("sleep: 0.3", "sleep: 2").replace("[6, 7, 8, 9]", "[6, 7]"))
    env = _env(tmp_path)
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / ".mlflow.db.faulty.owner").exists():
        time.sleep(0.02)
    if moment == "trials-run":  # a trial has reported to the store
        _wait_for_children(f"sqlite:///{tmp_path / 'mlflow.db'}", 1)
    else:  # the store is open and ray.init runs: Ray puts three handlers of its own on SIGTERM
        time.sleep(moment)
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "SIGTERM" in out and "SIGTERM received" not in out, out
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = parents(client)
    statuses = Counter(r.data.tags["orch.status"] for r in children(client, parent.info.run_id))
    assert parent.info.status == "KILLED" and "running" not in statuses, statuses
    assert not _tagged_by(proc.pid)
    code, out = _run(["sweep", str(path), "--quiet"], tmp_path, env)  # the resume re-runs the killed
    assert code == 0, out
    assert set(_keys(client).values()) == {1}


@pytest.mark.parametrize("scheduler", [
    "{name: asha, max_t: 6, grace_period: 1, reduction_factor: 2}",
    "{name: median, grace_period: 1, min_samples_required: 2}",
])
def test_scheduler_sweeps_run_twice_give_the_same_table(tmp_path, write, scheduler):
    path = write("sched.yaml", f"""
        name: sched
        trainer: toy
        params: {{epochs: 6, sleep: 0.05}}
        grid: {{t: [12, 11, 10, 9, 8, 7, 6, 5]}}  # best first: the later, worse ones get stopped
        scheduler: {scheduler}
        resources: {{max_concurrent: 2}}
    """)
    env = _env(tmp_path)
    code, first_out = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 0 and "Traceback" not in first_out, first_out
    first = _run(["table", "sched", "--format", "json", "--out", "-"], tmp_path, env)[1]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = parents(client)
    statuses = Counter(r.data.tags["orch.status"] for r in children(client, parent.info.run_id))
    assert statuses["stopped"] >= 1 and statuses["stopped"] + statuses["finished"] + statuses["diverged"] == 8, statuses
    code, again = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 0 and "8 done before" in again and "trials to run" not in again, again
    assert _run(["table", "sched", "--format", "json", "--out", "-"], tmp_path, env)[1] == first
    assert len(json.loads(first)) == 8


OUTAGE_SWEEP = """
name: outage
trainer: toy
params: {epochs: 4, sleep: 0.5}
grid: {t: [6, 7, 8, 9, 10, 11]}
resources: {max_concurrent: 2}
"""


def _wait_for_children(uri: str, n: int, timeout: float = 120) -> None:
    client = MlflowClient(tracking_uri=uri)
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = parents(client)
        if found and len(children(client, found[0].info.run_id)) >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"fewer than {n} child runs after {timeout} s")


def test_a_tracking_outage_is_shown_buffered_and_written_on_recovery(tmp_path, write):
    from tests.servers import MlflowServer

    path = write("outage.yaml", OUTAGE_SWEEP)
    server = MlflowServer(tmp_path)
    uri = server.start()
    env = {**_env(tmp_path), "MLFLOW_TRACKING_URI": uri}
    try:
        proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
        _wait_for_children(uri, 2)
        server.stop()
        time.sleep(12)  # trials go on finishing (each takes 2 s) while nothing can be written
        server.start()
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        assert "tracking unreachable for" in out and "results are kept" in out and "reachable again" in out
        client = MlflowClient(tracking_uri=uri)
        [parent] = parents(client)
        runs = children(client, parent.info.run_id)
        assert Counter(r.data.tags["orch.trial_key"] for r in runs).most_common(1)[0][1] == 1
        assert len(runs) == 6 and {r.data.tags["orch.status"] for r in runs} == {"finished"}
        for run in runs:  # every step of every trial landed, none twice
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/Mean")]
            assert sorted(set(steps)) == [1, 2, 3, 4]
        assert parent.info.status == "FINISHED"
    finally:
        server.stop()


def test_a_server_that_never_comes_back_leaves_a_spool_the_next_run_replays(tmp_path, write):
    from tests.servers import MlflowServer

    path = write("outage.yaml", OUTAGE_SWEEP)
    server = MlflowServer(tmp_path)
    uri = server.start()
    env = {**_env(tmp_path), "MLFLOW_TRACKING_URI": uri, "ORCH_FLUSH_TIMEOUT_S": "5"}
    try:
        proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
        _wait_for_children(uri, 2)
        server.stop()
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 3, out
        assert "writes are kept in" in out and "Traceback" not in out
        [spool] = list((tmp_path / ".orch-spool").glob("outage-*.jsonl"))
        assert spool.read_text().count('"kind": "end"') >= 1
        server.start()
        code, again = _run(["sweep", str(path), "--quiet"], tmp_path, env)
        assert code == 0 and "wrote the" in again, again
        assert not spool.exists()
        client = MlflowClient(tracking_uri=uri)
        [parent] = parents(client)
        runs = children(client, parent.info.run_id)
        keys = Counter(r.data.tags["orch.trial_key"] for r in runs)
        assert len(keys) == 6 and set(keys.values()) == {1}
        assert {r.data.tags["orch.status"] for r in runs} == {"finished"}
    finally:
        server.stop()
