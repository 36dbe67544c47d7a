"""orch sweep --slurm against a real Slurm (Debian's slurmctld + slurmd on this host, as root):
a toy sweep through, a requeue mid-sweep, a time limit that stops the job and requeues it, and
sbatch's refusals. Each ends with every trial exactly once in the store, none RUNNING."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.slurm_cluster import missing, slurm_cluster

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=missing() or "")]

SWEEP = """
name: {name}
trainer: toy
params: {{epochs: 4, sleep: {sleep}}}
grid: {{t: [{ts}]}}
resources: {{max_concurrent: 1}}
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


def _submit(slurm, tmp_path: Path, name: str, n: int, sleep: float, *flags: str) -> str:
    (tmp_path / f"{name}.yaml").write_text(SWEEP.format(name=name, sleep=sleep, ts=", ".join(map(str, range(1, n + 1)))))
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", f"{name}.yaml", "--slurm",
                          "--cpus-per-node", "2", *flags], cwd=tmp_path, env=slurm.env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    job = re.search(r"as Slurm job (\d+)", out.stdout)
    assert job and f"squeue -j {job.group(1)}" in out.stdout, out.stdout
    return job.group(1)


def _log(tmp_path: Path) -> str:
    return "".join(p.read_text() for p in (tmp_path / ".orch" / "slurm").glob("*.log"))


def _wait_log(tmp_path: Path, text: str, count: int, slurm, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _log(tmp_path).count(text) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} x{count} never in the job log:\n{_log(tmp_path)}\n{slurm.logs()}")


def _restart_now(slurm, job: str, starts: int, **update: str) -> None:
    """Once the job waits for its next start, let it start now (Slurm holds a requeued job ~2 min)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        fields = slurm.job(job)
        if fields.get("JobState") == "PENDING" and fields.get("Restarts") == str(starts):
            time.sleep(2)  # slurmd refuses a start in the second its last one was revoked in
            slurm.run("scontrol", "update", f"JobId={job}", "StartTime=now", *(f"{k}={v}" for k, v in update.items()))
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job} never waited for start {starts + 1}: {slurm.job(job)}")


def _trials(tmp_path: Path) -> dict[str, list[str]]:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = parents(client)
    out: dict[str, list[str]] = {}
    for run in children(client, parent.info.run_id):
        out.setdefault(run.info.run_name, []).append(run.data.tags["orch.status"])
    return out


def _left(slurm, job: str) -> list[str]:
    """Processes of the job still alive: its runner, orch, its Ray (all with its SLURM_JOB_ID)."""
    mine = {f"SLURM_CONF={slurm.conf}".encode(), f"SLURM_JOB_ID={job}".encode()}
    found = []
    for name in os.listdir("/proc"):
        try:
            env = set(Path(f"/proc/{name}/environ").read_bytes().split(b"\0"))
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if name.isdigit() and mine <= env and "slurmstepd" not in cmd:
            found.append(f"{name}: {cmd[:120]}")
    return found


def test_slurm_sweep_runs_through_with_every_trial_once(slurm, tmp_path):
    job = _submit(slurm, tmp_path, "through", 3, 0.2)
    fields = slurm.wait_for(job, ("COMPLETED", "FAILED", "CANCELLED"))
    assert fields["JobState"] == "COMPLETED", _log(tmp_path) + slurm.logs()
    assert _trials(tmp_path) == {"t1": ["finished"], "t2": ["finished"], "t3": ["finished"]}
    log = _log(tmp_path)
    assert "through: 3 trials to run" in log and "through: 3 finished" in log  # orch's console output
    assert not _left(slurm, job)


def test_slurm_requeue_mid_sweep_resumes_with_no_duplicate(slurm, tmp_path):
    job = _submit(slurm, tmp_path, "requeued", 5, 0.6)
    _wait_log(tmp_path, "finished t", 2, slurm)
    slurm.run("scontrol", "requeue", job)
    _restart_now(slurm, job, 1)
    fields = slurm.wait_for(job, ("COMPLETED", "FAILED", "CANCELLED"))
    assert fields["JobState"] == "COMPLETED" and fields["Restarts"] == "1", _log(tmp_path)
    log = _log(tmp_path)
    assert "requeued: 5 trials to run" in log and "2 done before" in log and "starts (requeued 1 time)" in log
    trials = _trials(tmp_path)
    assert sorted(trials) == ["t1", "t2", "t3", "t4", "t5"]
    assert all(statuses == ["finished"] for statuses in trials.values()), trials  # one run each, none RUNNING
    assert not _left(slurm, job)


def test_slurm_time_limit_stops_the_trials_and_the_requeued_job_finishes_them(slurm, tmp_path):
    # a 1-minute limit, told 40 s before it (Slurm checks its limits every 30 s or so; on a loaded
    # machine the job's clock may have run for seconds before the batch script prints a line)
    job = _submit(slurm, tmp_path, "limited", 10, 1.0, "--time", "1", "--signal", "40s")
    _wait_log(tmp_path, "requeueing job", 1, slurm)
    _restart_now(slurm, job, 1, TimeLimit="10")  # the second start has the time to finish
    fields = slurm.wait_for(job, ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"))
    log = _log(tmp_path)
    assert fields["JobState"] == "COMPLETED", log
    assert "SIGUSR1: the time limit is near" in log
    first_start = log.split("requeueing job")[0]
    if "trials to run" in first_start.split("SIGUSR1")[0]:  # trials were running when it came
        assert "killed   t" in first_start, log  # ... and were recorded killed
    trials = _trials(tmp_path)
    assert len(trials) == 10 and all(s == ["finished"] for s in trials.values()), trials
    assert not _left(slurm, job)


def test_slurm_dry_run_is_a_script_sbatch_accepts_and_a_refusal_is_one_paragraph(slurm, tmp_path):
    (tmp_path / "s.yaml").write_text(SWEEP.format(name="dry", sleep=0, ts="1"))
    orch = [sys.executable, "-m", "orchestrator.cli", "sweep", "s.yaml", "--slurm"]
    out = subprocess.run([*orch, "--dry-run", "--time", "30m"], cwd=tmp_path, env=slurm.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("#!/bin/bash")
    (tmp_path / "dry.sbatch").write_text(out.stdout)
    test = slurm.run("sbatch", "--test-only", str(tmp_path / "dry.sbatch"), check=False)
    assert test.returncode == 0 and "to start at" in test.stderr, test.stderr
    out = subprocess.run([*orch, "--partition", "nosuch"], cwd=tmp_path, env=slurm.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "sbatch refused the job: invalid partition specified: nosuch" in out.stderr.lower().replace("Invalid", "invalid")
    assert "Traceback" not in out.stderr and not list((tmp_path / ".orch" / "slurm").glob("*.sbatch"))
