"""Real sweeps on an embedded Ray instance with a real MLflow store, read back through the client."""

from __future__ import annotations

import math

import pytest

from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents
from trainers.toy.config import Config
from trainers.toy.train import epoch_metrics

pytestmark = pytest.mark.slow

EIGHT = """
name: eight
trainer: toy
params: {epochs: 3}
grid:
  t: [7, 10, 12, 20]
  pointMaxW: [0, 1]
abbrev: {t: t, pointMaxW: p}
"""


def test_eight_trials_six_finished_two_diverged(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("eight.yaml", EIGHT))
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 6, "diverged": 2} and outcome.ok
    [parent] = parents(client)
    assert parent.info.run_name == "eight" and parent.info.status == "FINISHED"
    assert parent.data.tags["orch.sweep"] == "eight" and "orch.command" in parent.data.tags
    runs = children(client, parent.info.run_id)
    assert len(runs) == 8
    by_name = {r.info.run_name: r for r in runs}
    assert {n for n, r in by_name.items() if r.data.tags["orch.status"] == "diverged"} == {"t20p0", "t20p1"}

    run = by_name["t12p1"]
    assert run.data.tags["orch.status"] == "finished" and run.info.status == "FINISHED"
    assert run.data.params["t"] == "12.0" and run.data.params["pointMaxW"] == "1.0"
    assert run.data.params["rs"] == "[8, 4, 2, 1]" and run.data.params["seed"] == "0"
    assert run.data.tags["orch.axis.t"] == "12.0" and run.data.tags["orch.axis.pointMaxW"] == "1.0"
    assert run.data.tags["orch.trial_key"] == next(t.key for t in spec.trials if t.name == "t12p1")
    history = client.get_metric_history(run.info.run_id, "val/Mean")
    expected = [epoch_metrics(Config(t=12.0, pointMaxW=1.0, epochs=3), e)["val/Mean"] for e in (1, 2, 3)]
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx(expected)
    # '@' is not allowed by MLflow; the name is stored with '_at_'
    assert len(client.get_metric_history(run.info.run_id, "val/Mean_at_0.1")) == 3

    diverged = by_name["t20p0"]
    loss = client.get_metric_history(diverged.info.run_id, "train/loss")
    assert [m.step for m in loss] == [1, 2]  # stopped at once, no step 3
    assert math.isfinite(loss[0].value) and math.isnan(loss[1].value)
    assert "non-finite train/loss" in diverged.data.tags["orch.message"]

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "environment.txt", "trial.log"} <= artifacts
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.yaml", "trials.json"} <= parent_artifacts

    # `orch runs` lists the sweep and its trials with status and metric
    from typer.testing import CliRunner

    from orchestrator.cli import app

    listing = CliRunner().invoke(app, ["runs", "--tracking-uri", uri])
    assert listing.exit_code == 0 and "eight" in listing.stdout and "val/Mean (max)" in listing.stdout
    trials = CliRunner().invoke(app, ["runs", "eight", "--tracking-uri", uri])
    assert trials.exit_code == 0 and "6 finished" in trials.stdout and "2 diverged" in trials.stdout
    line = next(l for l in trials.stdout.splitlines() if " t12p1 " in l)
    assert "finished" in line and f"{expected[-1]:.4g}" in line
    assert [l.split()[1] for l in trials.stdout.splitlines() if l.startswith("│ t")][:3] == \
        ["t7p0", "t7p1", "t10p0"]  # the sweep file's order

    # running it again resumes: nothing left to do, no new runs
    again = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert again.skipped == 8 and again.counts == {}
    assert len(parents(client)) == 1 and len(children(client, parent.info.run_id)) == 8


def test_nan_can_be_allowed(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("cont.yaml", "trainer: toy\nparams: {epochs: 3, t: 20}\nstop: {on_nan: continue}\n"))
    assert run_sweep(spec, tracking_uri=uri, quiet=True).counts == {"finished": 1}
    [run] = children(client, parents(client)[0].info.run_id)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2, 3]


def test_failed_trial_is_retried_with_tracebacks_and_others_finish(local_ray, store, write, tmp_path):
    uri, client = store
    spec = load_sweep(write("fail.yaml", """
        name: fails
        trainer: toy
        params: {epochs: 3}
        grid: {fail_at_epoch: [null, 2], t: [7, 10]}
        retries: 2
    """))
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 2, "failed": 2} and not outcome.ok
    runs = children(client, parents(client)[0].info.run_id)
    assert len(runs) == 4  # retries reuse the trial's run
    failed = [r for r in runs if r.data.tags["orch.status"] == "failed"]
    assert len(failed) == 2
    for run in failed:
        assert run.info.status == "FAILED" and run.data.tags["orch.attempts"] == "3"
        assert "RuntimeError: toy trainer failed at epoch 2" in run.data.tags["orch.message"]
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"traceback.txt", "traceback-attempt1.txt", "traceback-attempt2.txt"} <= names
        client.download_artifacts(run.info.run_id, "traceback.txt", str(tmp_path))
        assert "fail_at_epoch=2" in (tmp_path / "traceback.txt").read_text()
        assert "Traceback (most recent call last)" in (tmp_path / "traceback.txt").read_text()
    # resuming re-runs only the failed trials, in their own runs
    again = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert again.skipped == 2 and again.counts == {"failed": 2}
    assert len(children(client, parents(client)[0].info.run_id)) == 4


def test_max_epochs_budget_and_asha(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("asha.yaml", """
        trainer: toy
        params: {epochs: 8}
        grid: {t: [1, 3, 7, 10]}
        stop: {max_epochs: 4}
        scheduler: {name: asha, grace_period: 1, reduction_factor: 2, max_t: 4}
    """))
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert sum(outcome.counts.values()) == 4
    assert outcome.counts.get("finished", 0) >= 1 and set(outcome.counts) <= {"finished", "stopped"}
    runs = children(client, parents(client)[0].info.run_id)
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/Mean")]
        assert max(steps) <= 4  # the budget caps every trial
    best = max(runs, key=lambda r: r.data.metrics.get("val/Mean", 0))
    assert best.data.tags["orch.status"] == "finished"


def test_out_of_memory_halves_the_batch_until_it_fits(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("oom.yaml", """
        trainer: toy
        params: {epochs: 2, batch_size: 64, oom_above_batch: 16}
        on_oom: halve_batch
    """))
    assert run_sweep(spec, tracking_uri=uri, quiet=True).counts == {"finished": 1}
    [run] = children(client, parents(client)[0].info.run_id)
    assert run.data.params["batch_size"] == "64"  # what the sweep asked for
    assert run.data.params["oom.batch_size"] == "16"  # what it ran with
    assert run.data.tags["orch.attempts"] == "3"

