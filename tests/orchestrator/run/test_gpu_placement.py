"""GPU workers without a GPU: an embedded Ray offering logical GPUs (ORCH_RAY_NUM_GPUS) places
trials as it would on a GPU box: distinct CUDA_VISIBLE_DEVICES per whole-GPU trial, two trials
per device at gpu: 0.5, concurrency bounded by the GPUs and max_concurrent, and a command
trial's {gpus} matching what it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
PROBE = ROOT / "tests" / "fixtures" / "gpu_probe.py"


def _sweep(tmp_path, write, gpu: float, cpu: float, max_concurrent: int | None, trials: int = 4) -> list[dict]:
    log = tmp_path / f"gpus-{gpu}-{max_concurrent}.jsonl"
    concurrency = f", max_concurrent: {max_concurrent}" if max_concurrent else ""
    path = write(f"gpu-{gpu}-{max_concurrent}.yaml", f"""
        name: gpu_{str(gpu).replace('.', '_')}_{max_concurrent}
        trainer: command
        grid: {{k: {list(range(trials))}}}
        params:
          command: [python, {PROBE}, {log}, "{{k}}", "3", "{{gpus}}"]
        resources: {{gpu: {gpu}, cpu: {cpu}{concurrency}}}
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE",
                                                           "CUDA_VISIBLE_DEVICES")}
    env.update(ORCH_RAY_NUM_GPUS="2", RAY_TMPDIR=tempfile.mkdtemp(prefix="r", dir="/tmp"))
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(path), "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["trial"] for r in rows) == [str(i) for i in range(trials)]
    return rows


def _peak(rows: list[dict]) -> int:
    """How many trials ran at the same time, at most."""
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def _overlapping(rows: list[dict]) -> list[tuple[dict, dict]]:
    return [(a, b) for i, a in enumerate(rows) for b in rows[i + 1:]
            if a["start"] < b["end"] and b["start"] < a["end"]]


def test_whole_gpus_are_distinct_and_bound_concurrency(tmp_path, write):
    rows = _sweep(tmp_path, write, gpu=1, cpu=0.25, max_concurrent=None)
    assert {r["cuda"] for r in rows} <= {"0", "1"} and all(r["gpus"] == "0" for r in rows)
    assert _peak(rows) == 2  # two logical GPUs, though CPUs would allow 8
    assert all(a["cuda"] != b["cuda"] for a, b in _overlapping(rows))


def _check_compute(tmp_path, rows: list[dict], gpu: float, cpu: float) -> None:
    """Every trial logged its reserved GPUs and CPUs x its wall time; the parent has the sums."""
    from mlflow import MlflowClient

    from tests.orchestrator.run.conftest import children, parents

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = parents(client)
    runs = children(client, parent.info.run_id)
    ran = {r["trial"]: r["end"] - r["start"] for r in rows}
    for run in runs:
        m = run.data.metrics
        assert m["compute/wall_s"] >= ran[run.data.params["k"]] > 0
        assert m["compute/gpu_hours"] == pytest.approx(gpu * m["compute/wall_s"] / 3600, rel=1e-9)
        assert m["compute/cpu_hours"] == pytest.approx(cpu * m["compute/wall_s"] / 3600, rel=1e-9)
    total = sum(r.data.metrics["compute/gpu_hours"] for r in runs)
    assert parent.data.metrics["compute/gpu_hours"] == pytest.approx(total, rel=1e-9)
    assert parent.data.metrics["compute/wall_s"] == pytest.approx(sum(r.data.metrics["compute/wall_s"] for r in runs))
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "runs", parent.data.tags["orch.sweep"]],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env={
                             **os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    assert f"compute: {total:.2f} GPU-h" in out.stdout, out.stdout + out.stderr


def test_half_gpus_share_a_device_two_by_two(tmp_path, write):
    rows = _sweep(tmp_path, write, gpu=0.5, cpu=0.25, max_concurrent=None)
    _check_compute(tmp_path, rows, gpu=0.5, cpu=0.25)
    assert _peak(rows) == 4
    together = [r for r in rows if any(r in pair for pair in _overlapping(rows))]
    assert Counter(r["cuda"] for r in together) == Counter({"0": 2, "1": 2})
    assert all(r["gpus"] == "0" for r in rows)  # one device visible to each, renumbered from 0


def test_max_concurrent_bounds_it_further(tmp_path, write):
    rows = _sweep(tmp_path, write, gpu=0.5, cpu=0.25, max_concurrent=1)
    assert _peak(rows) == 1
