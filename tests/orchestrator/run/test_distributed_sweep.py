"""Data-parallel trials through real Ray (Train V2, 2 gloo workers of 1 CPU) and MLflow: what is
recorded, kill -9 of orch and resume, Ctrl-C, a worker killed, a worker that hangs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.orchestrator.run.test_faults import _alive, _env, _orch, _run, _tagged_by

pytestmark = pytest.mark.slow

SWEEP = """
name: ddp
trainer: pose
params:
  model: {{backbone: resnet18, deconv: [16, 16, 16]}}
  data: {{root: synthetic, input_size: [64, 64], synth_train: 32, synth_val: 8, workers: 0}}
  train: {{epochs: {epochs}, batch_size: 8, out_dir: "{ckpt}/{{name}}"}}
{extra}
resources: {{workers: 2, cpu: 1}}
"""


def _sweep(write, tmp_path: Path, epochs: int, extra: str = "") -> Path:
    return write("ddp.yaml", SWEEP.format(epochs=epochs, ckpt=tmp_path / "ckpt", extra=extra))


def _client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def _steps(client, run_id: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run_id, "val/Mean")]


def _wait_for_steps(tmp_path: Path, proc, runs: int, steps: int, timeout: float = 240) -> list:
    """Wait until ``runs`` child runs exist and the last has reported ``steps`` steps."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if (tmp_path / "mlflow.db").exists():
            try:
                client = _client(tmp_path)
                found = parents(client)
                kids = sorted(children(client, found[0].info.run_id), key=lambda r: r.info.start_time) if found else []
                if len(kids) >= runs and len(_steps(client, kids[runs - 1].info.run_id)) >= steps:
                    return kids
            except Exception:  # noqa: BLE001 - the store is being created
                pass
        time.sleep(0.5)
    raise AssertionError("no such report came: " + (proc.stdout.read() if proc.poll() is not None else "timeout"))


def _train_workers(orch_pid: int) -> list[int]:
    """The Ray Train worker processes of the embedded instance orch ``orch_pid`` started."""
    found = []
    for pid in _tagged_by(orch_pid):
        try:
            if b"RayTrainWorker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_distributed_sweep_records_world_size_one_value_per_step_and_resumes_once(tmp_path, write):
    path = _sweep(write, tmp_path, 5)
    env = _env(tmp_path)
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, env)
    try:
        _wait_for_steps(tmp_path, proc, 1, 2)
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 of orch mid-trial
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what the killed session left: it must not matter
        except ProcessLookupError:
            pass
    code, out = _run(["sweep", str(path)], tmp_path, env)
    assert code == 0, out
    client = _client(tmp_path)
    [parent] = parents(client)
    [run] = children(client, parent.info.run_id)  # exactly once
    assert run.data.tags["orch.status"] == "finished"
    assert run.data.params["dist.world_size"] == "2" and run.data.params["dist.global_batch"] == "16"
    steps = _steps(client, run.info.run_id)
    assert steps == sorted(set(steps)) and steps[-1] == 5  # one value per step: rank 0's alone
    log = Path(client.download_artifacts(run.info.run_id, "trial.log", str(tmp_path))).read_text()
    assert "resumed from" in log and "Epoch: [5]" in log  # the checkpoint of the killed launch
    assert log.count("Epoch: [5]") == 1  # rank 0's lines only
    compute = run.data.metrics
    # both workers' CPUs count: 2 workers x 1 CPU over the attempt's wall time
    assert compute["compute/cpu_hours"] == pytest.approx(2 * compute["compute/wall_s"] / 3600, rel=1e-3)


def test_distributed_ctrl_c_records_the_trial_killed_and_leaves_no_process(tmp_path, write):
    path = _sweep(write, tmp_path, 60)
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, _env(tmp_path))
    _wait_for_steps(tmp_path, proc, 1, 1)
    workers = _train_workers(proc.pid)
    assert len(workers) == 2
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    [run] = children(_client(tmp_path), parents(_client(tmp_path))[0].info.run_id)
    assert run.data.tags["orch.status"] == "killed"
    assert not [p for p in workers if _alive(p)], "a Train worker survived"
    assert not _tagged_by(proc.pid), "a process of the embedded Ray instance survived"


def test_distributed_dead_worker_fails_the_trial_and_a_hung_one_is_ended_as_stalled(tmp_path, write):
    path = _sweep(write, tmp_path, 60, "grid: {loss.t: [5, 6]}\nstop: {stall: 20s}\n")
    proc = _orch(["sweep", str(path), "--quiet"], tmp_path, _env(tmp_path))
    stopped = []
    try:
        _wait_for_steps(tmp_path, proc, 1, 1)
        os.kill(max(_train_workers(proc.pid)), signal.SIGKILL)  # a worker dies mid-trial
        _wait_for_steps(tmp_path, proc, 2, 1)
        stopped.append(max(_train_workers(proc.pid)))
        os.kill(stopped[0], signal.SIGSTOP)  # a worker that never returns: its peer waits in a collective
        out, _ = proc.communicate(timeout=240)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert proc.returncode == 1, out
    client = _client(tmp_path)
    runs = sorted(children(client, parents(client)[0].info.run_id), key=lambda r: r.info.start_time)
    assert [r.data.tags["orch.status"] for r in runs] == ["failed", "killed"]
    assert "worker" in runs[0].data.tags["orch.message"].lower()
    assert runs[1].data.tags["orch.message"] == "no report or progress for 20s (stalled)"
    assert not _tagged_by(proc.pid)


def test_distributed_cards_sweep_varies_the_workers_per_trial(tmp_path):
    """sweeps/bisenet_cards.yaml's smoke profile: a grid axis on resources.workers gives each
    trial its own world size, recorded, counted in its compute, and pivoted on in the table."""
    from tests.conftest import ROOT

    env = _env(tmp_path)
    sweep = str(ROOT / "sweeps" / "bisenet_cards.yaml")
    code, out = _run(["sweep", sweep, "--profile", "smoke", "--set", "train.max_iter=2", "--set", "optim.warmup_iters=1",
                      "--quiet"], tmp_path, env)
    assert code == 0, out
    client = _client(tmp_path)
    runs = {r.info.run_name: r for r in children(client, parents(client)[0].info.run_id)}
    assert sorted(runs) == ["w1lrnone", "w2lrlinear", "w2lrnone"]
    assert {n: r.data.params["dist.world_size"] for n, r in runs.items()} == \
        {"w1lrnone": "1", "w2lrnone": "2", "w2lrlinear": "2"}
    assert float(runs["w2lrlinear"].data.params["dist.lr"]) == pytest.approx(0.02)  # 0.01 x 2 workers
    assert "dist.lr" not in runs["w2lrnone"].data.params
    for name, run in runs.items():
        m = run.data.metrics
        assert run.data.tags["orch.status"] == "finished"
        workers = int(run.data.params["dist.world_size"])
        assert m["compute/cpu_hours"] == pytest.approx(workers * m["compute/wall_s"] / 3600, rel=1e-3), name
    code, out = _run(["table", "bisenet_cards", "--metric", "miou", "--pivot", "resources.workers",
                      "optim.lr_scale", "--format", "csv", "--out", str(tmp_path / "cards.csv")], tmp_path, env)
    assert code == 0, out
    rows = [line.split(",") for line in (tmp_path / "cards.csv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "2"] and rows[0][2] in ("", "-")  # one worker: no linear cell
