"""The pose quickstart's smoke profile, end to end: real Ray, real MLflow, real training."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def test_quickstart_smoke_trains_every_variant_tracks_it_and_tables_it(local_ray, store, tmp_path, monkeypatch):
    uri, client = store
    monkeypatch.chdir(tmp_path)  # checkpoints/ and results/ land here
    spec = load_sweep(ROOT / "sweeps" / "quickstart.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 2}, outcome
    [parent] = parents(client)
    runs = {r.info.run_name: r for r in children(client, parent.info.run_id)}
    assert set(runs) == {"mse", "msssm"}
    for name, run in runs.items():
        assert run.data.params["loss.name"] == name
        history = client.get_metric_history(run.info.run_id, "val/Mean")
        assert [m.step for m in history] == [1, 2]
        assert 0 <= history[-1].value <= 100
        assert run.data.metrics["model/params"] > 11e6
        assert 0 <= run.data.metrics["time/data_wait"] <= 1
        # each trial checkpointed into its own folder, relative to where the sweep was run
        assert (tmp_path / "checkpoints" / "quickstart" / name / "checkpoint.pt").is_file()
    assert runs["msssm"].data.params["loss.t"] == "10.0"

    # running it again finds every trial done and trains nothing
    again = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert again.counts.get("finished", 0) == 0 and len(children(client, parent.info.run_id)) == 2

    result = CliRunner().invoke(app, ["table", "quickstart", "--metric", "pckh", "--format", "json",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"mse", "msssm"}
    best = max(m.value for m in client.get_metric_history(runs["mse"].info.run_id, "val/Mean"))
    assert rows["mse"]["metrics"]["val/Mean"]["mean"] == pytest.approx(best)
    assert rows["mse"]["metrics"]["val/Mean"]["n"] == 1 and "val/Head" in rows["mse"]["metrics"]
