"""Compute accounting: per attempt, added up over resumes, summed on the parent, in tables."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.protocol import Compute
from orchestrator.run import run_sweep
from orchestrator.run.usage import Usage
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents


def test_usage_per_attempt_with_the_trainers_peak_memory_and_speed():
    now = [100.0]
    usage = Usage(cpu=4, gpu=2, clock=lambda: now[0])
    usage.started("k")
    usage.saw("k", {"time/peak_memory_gb": 3.0, "time/images_per_s": 100.0})
    usage.saw("k", {"time/peak_memory_gb": 5.5, "time/images_per_s": 300.0, "val/Mean": 1.0})
    now[0] += 1800
    got = usage.ended("k")
    assert got == {Compute.WALL_S: 1800, Compute.GPU_HOURS: 1.0, Compute.CPU_HOURS: 2.0,
                   Compute.PEAK_GPU_MEMORY_GB: 5.5, Compute.IMAGES_PER_S: 200.0}
    assert usage.ended("k") == {}  # ended once
    again = Compute.merge(got, {Compute.WALL_S: 600, Compute.GPU_HOURS: 1 / 3, Compute.CPU_HOURS: 2 / 3,
                                Compute.PEAK_GPU_MEMORY_GB: 4.0})
    assert again[Compute.WALL_S] == 2400 and again[Compute.GPU_HOURS] == pytest.approx(4 / 3)
    assert again[Compute.PEAK_GPU_MEMORY_GB] == 5.5


@pytest.mark.slow
def test_a_resumed_trial_adds_to_its_compute_and_the_parent_sums(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("used.yaml", """
        name: used
        trainer: toy
        params: {epochs: 3, sleep: 0.2}
        grid: {fail_at_epoch: [2, 100]}
        resources: {cpu: 0.5}
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)

    def walls():
        [parent] = parents(client)
        runs = {r.data.params["fail_at_epoch"]: r.data.metrics for r in children(client, parent.info.run_id)}
        return parent.data.metrics, {k: m["compute/wall_s"] for k, m in runs.items()}, runs

    _, first, _ = walls()
    assert first["2"] >= 0.4 and first["100"] >= 0.6  # the sleeps before the failure / to the end
    run_sweep(spec, tracking_uri=uri, quiet=True)  # re-runs the failed trial only
    parent, second, runs = walls()
    assert second["100"] == first["100"] and second["2"] >= first["2"] + 0.4
    assert parent["compute/wall_s"] == pytest.approx(sum(second.values()))
    assert parent["compute/cpu_hours"] == pytest.approx(0.5 * sum(second.values()) / 3600)
    assert all(m["compute/gpu_hours"] == 0 for m in runs.values())
    table = CliRunner().invoke(app, ["table", "used", "-m", "Mean", "-m", "compute/wall_s", "-f", "json", "-o", "-",
                                     "--tracking-uri", uri])
    assert table.exit_code == 0, table.output
    cells = {r["axes"]["fail_at_epoch"]: r["metrics"]["compute/wall_s"] for r in json.loads(table.stdout)}
    assert cells[100]["mean"] == pytest.approx(second["100"], abs=1e-6)
    assert cells[2]["mean"] == pytest.approx(second["2"], abs=1e-6) and cells[2]["failed"] == 0  # it ran
    assert not any(c["best"] for c in cells.values())  # compute describes a trial: never bold
