"""A command sweep end to end: real Ray, real MLflow, the notes-style script per trial."""

from __future__ import annotations

import math

import pytest

from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def test_external_msssm_smoke_harvests_tables_and_stops_nan_trials(local_ray, store, monkeypatch):
    uri, client = store
    monkeypatch.chdir(ROOT)  # the smoke profile's script path is relative to the repository
    spec = load_sweep(ROOT / "sweeps" / "external_msssm.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 2, "diverged": 2}
    [parent] = parents(client)
    runs = {r.info.run_name: r for r in children(client, parent.info.run_id)}
    assert {n for n, r in runs.items() if r.data.tags["orch.status"] == "diverged"} == {"t15p0", "t15p1"}

    run = runs["t10p1"]
    assert run.data.params["t"] == "10" and run.data.params["pointMaxW"] == "1"
    history = client.get_metric_history(run.info.run_id, "val/Mean")
    assert [(m.step, m.value) for m in history] == [(0, 61.0), (1, 71.0), (2, 81.0)]
    head = client.get_metric_history(run.info.run_id, "val/Head")
    assert [m.value for m in head] == [67.0, 77.0, 87.0]
    at01 = client.get_metric_history(run.info.run_id, "val/Mean_at_0.1")
    assert [m.value for m in at01] == pytest.approx([24.4, 28.4, 32.4])
    loss = client.get_metric_history(run.info.run_id, "train/loss")
    assert {m.step for m in loss} == {0, 1, 2}
    # the training loss only: the script's Test: lines print losses above 4000
    assert max(loss, key=lambda m: (m.step, m.timestamp)).value == pytest.approx(0.00033)
    assert all(m.value < 1 for m in loss)

    diverged = runs["t15p0"]
    assert "non-finite" in diverged.data.tags["orch.message"] and "step 1" in diverged.data.tags["orch.message"]
    mean = client.get_metric_history(diverged.info.run_id, "val/Mean")
    assert [m.step for m in mean][:1] == [0] and math.isnan(mean[-1].value)
