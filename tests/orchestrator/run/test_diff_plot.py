"""`orch diff` answers "what changed?" with the committed code change; `orch plot` draws curves."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_diff_of_two_runs_of_one_trial_shows_the_committed_change(local_ray, tmp_path, monkeypatch):
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "model.py").write_text("LR_SCALE = 1.0\n")
    (repo / "sweep.yaml").write_text("name: d\ntrainer: toy\nparams: {epochs: 2}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    monkeypatch.chdir(repo)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = load_sweep(repo / "sweep.yaml")
    run_sweep(spec, tracking_uri=uri, quiet=True)
    (repo / "model.py").write_text("LR_SCALE = 2.0\n")
    _git(repo, "commit", "-qam", "second: double the lr scale")
    run_sweep(spec, tracking_uri=uri, quiet=True, new=True)  # a new parent, the same trial again

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = [children(client, p.info.run_id)[0] for p in sorted(parents(client),
                                                                key=lambda p: p.info.start_time)]
    a, b = (r.info.run_id for r in runs)
    assert runs[0].data.tags["orch.git_commit"] != runs[1].data.tags["orch.git_commit"]
    result = CliRunner().invoke(app, ["diff", a, b, "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "-LR_SCALE = 1.0" in result.stdout and "+LR_SCALE = 2.0" in result.stdout
    assert "params:\n  (same)" in result.stdout
    assert "val/Mean:" in result.stdout

    # trial names resolve to the latest run of that name
    by_name = CliRunner().invoke(app, ["diff", a, "default", "--tracking-uri", uri])
    assert by_name.exit_code == 0 and f"B: default ({b})" in by_name.stdout
    missing = CliRunner().invoke(app, ["diff", a, "nope", "--tracking-uri", uri])
    assert missing.exit_code == 2 and "no run with id or trial name 'nope'" in missing.output


def test_plot_writes_a_png_and_attaches_it_to_the_parent(local_ray, store, write, tmp_path, monkeypatch):
    uri, client = store
    spec = load_sweep(write("curves.yaml", "name: curves\ntrainer: toy\nparams: {epochs: 3}\n"
                                           "grid: {t: [7, 20]}\nseeds: 2\n"))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["plot", "--metric", "Mean", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    png = tmp_path / "results" / "curves_val_Mean.png"
    assert result.stdout.strip() == "results/curves_val_Mean.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    parent = parents(client)[0].info.run_id
    assert [a.path for a in client.list_artifacts(parent, "results")] == ["results/curves_val_Mean.png"]

    from orchestrator.analysis.plots import curves
    from orchestrator.tracking import read_sweep

    data = curves(read_sweep("curves", uri), "val/Mean")
    assert [p[0] for p in data["t7"]] == [1, 2, 3] and all(p[3] == 2 for p in data["t7"])
    assert [p[0] for p in data["t20"]] == [1]  # diverged at step 2: only its finite point
