"""search: on real Ray + MLflow: random points as ordinary trials, optuna resumed exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.analysis.searched import history, importances
from orchestrator.tracking import read_sweep
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents
from tests.orchestrator.run.test_faults import _env, _run, _tagged_by

pytestmark = pytest.mark.slow

RANDOM = """
    name: rand
    trainer: toy
    params: {epochs: 2}
    seeds: 2
    search:
      method: random
      num_samples: 8
      seed: 11
      space:
        t: {loguniform: [5, 13]}
        probMargin: {quniform: [0, 0.9, 0.1]}
        rs: {choice: [[8, 4, 2, 1], [3, 1]]}
        epochs: {int: [1, 3]}
"""


def test_random_search_runs_the_dry_runs_points_times_seeds(local_ray, store, write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri, client = store
    path = write("rand.yaml", RANDOM)
    dry = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--format", "json"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert len(planned) == 16 and len({t["key"] for t in planned}) == 16
    assert json.loads(CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--format", "json"]).stdout) == planned
    points = {(t["axes"]["t"], t["axes"]["probMargin"], json.dumps(t["axes"]["rs"]), t["axes"]["epochs"])
              for t in planned}
    assert len(points) == 8 and all(round(p[1] * 10, 9) == round(p[1] * 10) for p in points)  # on the 0.1 steps
    assert all(5 <= p[0] <= 13 and p[3] in (1, 2, 3) for p in points)

    run_sweep(load_sweep(path), tracking_uri=uri, quiet=True)
    runs = children(client, parents(client)[0].info.run_id)
    assert len(runs) == 16
    by_key = {r.data.tags["orch.trial_key"]: r for r in runs}
    for trial in planned:
        params = by_key[trial["key"]].data.params
        assert float(params["t"]) == trial["config"]["t"] and int(params["epochs"]) == trial["config"]["epochs"]
        assert json.loads(params["rs"]) == trial["config"]["rs"] and params["seed"] == str(trial["seed"])
    table = CliRunner().invoke(app, ["table", "rand", "-o", "-", "--tracking-uri", uri])
    assert table.exit_code == 0 and table.stdout.count("(n=2)") + table.stdout.count("diverged") >= 8
    top = CliRunner().invoke(app, ["table", "rand", "--top", "3", "-f", "json", "-o", "-", "--tracking-uri", uri])
    means = [r["metrics"]["val/Mean"]["mean"] for r in json.loads(top.stdout)]
    assert len(means) == 3 and means == sorted(means, reverse=True)
    record = read_sweep("rand", uri)
    everything = sorted((m for m in (v for v in _setting_means(record)) if m is not None), reverse=True)
    assert means == pytest.approx(everything[:3])
    found = importances(record)
    assert {k for k, _ in found} == {"t", "probMargin", "rs", "epochs"} and abs(sum(v for _, v in found) - 1) < 1e-6
    assert "Parameter importance for val/Mean (fANOVA" in table.stdout
    steps = history(record, "val/Mean")
    bests = [b for _, _, b in steps if b is not None]
    assert len(steps) == 16 and bests == sorted(bests) and bests[-1] == pytest.approx(max(
        v for _, v, _ in steps if v is not None))
    plot = CliRunner().invoke(app, ["plot", "rand", "--kind", "history", "--tracking-uri", uri])
    assert plot.exit_code == 0 and Path(plot.stdout.strip()).read_bytes()[:4] == b"\x89PNG"


def _setting_means(record):
    from orchestrator.tables.build import _group, _means

    return _means(record, _group(record), "val/Mean", "max", "best", None).values()


TPE = """
    name: tpe
    trainer: toy
    params: {epochs: 3, sleep: 0.4}
    metric: {name: val/surface, mode: max}
    search:
      method: optuna
      num_samples: 8
      seed: 5
      max_concurrent: 2
      space:
        t: {loguniform: [5, 20]}
        probMargin: {uniform: [0, 0.9]}
"""


# the driver kills itself (-9) the moment the store has made the n-th child run: before its
# params, artifacts or anything else of it are written (the narrowest window of a resume)
KILLED_AT_CHILD = """
import os, signal, sys
from orchestrator.tracking import writer

created, count = writer.SweepTracker._create_child, [0]

def _create_child(self, trial, tags):
    count[0] += 1
    if count[0] == {n}:
        create = self.client.create_run

        def create_run(*args, **kwargs):
            create(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        self.client.create_run = create_run
    return created(self, trial, tags)

writer.SweepTracker._create_child = _create_child
from orchestrator.cli import main
sys.exit(main())
"""


def test_optuna_search_killed_and_resumed_runs_exactly_num_samples(tmp_path, write):
    path = write("tpe.yaml", TPE)
    env = _env(tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    # two at a time: the fifth run is made when the third trial has finished, the fourth runs
    killed = subprocess.Popen([sys.executable, "-c", KILLED_AT_CHILD.format(n=5), "sweep", str(path), "--quiet"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    out = killed.communicate(timeout=300)[0]
    assert killed.returncode == -signal.SIGKILL, out
    before = {r.data.tags["orch.trial_key"]: r for r in children(client, parents(client)[0].info.run_id)}
    assert len(before) == 5 and sum(not r.data.params for r in before.values()) == 1  # killed in the window
    before = {k: r.data.tags["orch.status"] for k, r in before.items()}

    code, out = _run(["sweep", str(path), "--quiet"], tmp_path, env)
    assert code == 0, out
    told = sum(s in ("finished", "diverged") for s in before.values())
    assert told >= 2 and f"resumed with {told} earlier point(s) from the store" in out, out
    assert f"{told} done before" in out and f"{5 - told} to run again" in out
    runs = children(client, parents(client)[0].info.run_id)
    keys = [r.data.tags["orch.trial_key"] for r in runs]
    assert len(runs) == 8 and len(set(keys)) == 8, "a sampled point got a second run"
    assert all(r.data.tags["orch.status"] in ("finished", "diverged") for r in runs)
    names = sorted(r.data.tags["orch.trial_name"] for r in runs)
    assert names == [f"p{i:03d}" for i in range(8)]
    for run in runs:  # the run cut short was described when it ran again: its point, its files
        assert {"t", "probMargin", "seed"} <= set(run.data.params)
        assert float(run.data.params["t"]) == json.loads(run.data.tags["orch.axes"])["t"]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.yaml", "environment.txt"}
    for key, status in before.items():  # what was done stayed as it was; what was running ran again
        run = next(r for r in runs if r.data.tags["orch.trial_key"] == key)
        assert status not in ("finished", "diverged") or run.data.tags["orch.status"] == status
    again = _run(["sweep", str(path), "--quiet"], tmp_path, env)[1]
    assert "8 done before" in again and len(children(client, parents(client)[0].info.run_id)) == 8
    assert not _tagged_by(killed.pid)  # the killed launch's Ray and trials were reaped


MULTI = """
    name: multi
    trainer: toy
    params: {epochs: 2}
    metric: {val/Mean: max, val/surface: max}
    search:
      method: optuna
      sampler: nsga2
      num_samples: 5
      seed: 2
      space:
        t: {loguniform: [5, 13]}
        probMargin: {uniform: [0, 0.9]}
        pointMaxW: {uniform: [0, 3]}
"""


def _dominated(a, b):  # b dominates a (both maximised)
    return all(y >= x for x, y in zip(a, b)) and any(y > x for x, y in zip(a, b))


def test_two_objectives_resume_and_the_table_marks_the_pareto_front(local_ray, store, write):
    uri, client = store
    run_sweep(load_sweep(write("multi.yaml", MULTI)), tracking_uri=uri, quiet=True)
    grown = load_sweep(write("multi.yaml", MULTI.replace("num_samples: 5", "num_samples: 8")))
    outcome = run_sweep(grown, tracking_uri=uri, quiet=True)
    assert outcome.skipped == 5 and sum(outcome.counts.values()) == 3
    assert len(children(client, parents(client)[0].info.run_id)) == 8
    result = CliRunner().invoke(app, ["table", "multi", "-f", "json", "-o", "-", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert set(rows[0]["metrics"]) == {"val/Mean", "val/surface"}  # the objectives are the default columns
    points = {r["setting"]: (r["metrics"]["val/Mean"]["mean"], r["metrics"]["val/surface"]["mean"]) for r in rows}
    front = {s for s, p in points.items() if not any(_dominated(p, q) for t, q in points.items() if t != s)}
    assert front and {r["setting"] for r in rows if r["pareto"]} == front
    md = CliRunner().invoke(app, ["table", "multi", "-o", "-", "--tracking-uri", uri]).stdout
    assert md.count(" ◆ |") == len(front) and "on the Pareto front of val/Mean (max), val/surface (max)" in md


def test_optuna_with_asha_stops_poor_points_early_and_counts_them(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("asha.yaml", """
        name: asha_search
        trainer: toy
        params: {epochs: 6, sleep: 0.05}
        metric: {name: val/surface, mode: max}
        scheduler: {name: asha, max_t: 6, grace_period: 1, reduction_factor: 2}
        search:
          method: optuna
          num_samples: 8
          seed: 1
          max_concurrent: 2
          space:
            t: {loguniform: [5, 13]}
            probMargin: {uniform: [0, 0.9]}
    """))
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert sum(outcome.counts.values()) == 8 and outcome.ok, outcome.counts
    runs = children(client, parents(client)[0].info.run_id)
    statuses = [r.data.tags["orch.status"] for r in runs]
    assert len(runs) == 8 and set(statuses) <= {"finished", "stopped", "diverged"} and "stopped" in statuses
    again = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert again.counts == {} and again.skipped == 8
