"""The BiSeNet sweeps' smoke profiles end to end: real Ray, real MLflow, real training, the table."""

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


def test_upsample_smoke_reports_miou_per_checkpoint_and_tables_it(local_ray, store, tmp_path, monkeypatch):
    uri, client = store
    monkeypatch.chdir(tmp_path)
    spec = load_sweep(ROOT / "sweeps" / "bisenet_upsample.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 4}, outcome
    [parent] = parents(client)
    runs = {r.info.run_name: r for r in children(client, parent.info.run_id)}
    assert set(runs) == {"bilinearaux1", "bilinearaux0", "nearestaux1", "nearestaux0"}
    for name, run in runs.items():
        assert run.data.params["model.upsample"] == ("nearest" if name.startswith("nearest") else "bilinear")
        history = client.get_metric_history(run.info.run_id, "val/mIoU")
        assert [m.step for m in history] == [2, 4]  # every eval_every iterations
        assert all(0 <= m.value <= 100 for m in history)
        for final in ("val/mIoU_flip", "val/mIoU_ms_flip"):  # eval.final_modes: the last checkpoint only
            assert [m.step for m in client.get_metric_history(run.info.run_id, final)] == [4]
        assert "val/iou/road" in run.data.metrics
        assert (tmp_path / "checkpoints" / "bisenet_upsample" / name / "checkpoint.pt").is_file()
    # without aux heads the total loss is the main head's loss
    aux0 = runs["bilinearaux0"].data.metrics
    assert aux0["train/loss"] == pytest.approx(aux0["train/loss_main"])

    result = CliRunner().invoke(app, ["table", "bisenet_upsample", "--metric", "miou", "--at", "last",
                                      "--format", "json", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r for r in json.loads(result.stdout)}
    assert set(rows) == set(runs)
    last = client.get_metric_history(runs["nearestaux1"].info.run_id, "val/mIoU")[-1].value
    assert rows["nearestaux1"]["metrics"]["val/mIoU"]["mean"] == pytest.approx(last)
    assert "val/mIoU_ms_flip" in rows["nearestaux1"]["metrics"]

    series = CliRunner().invoke(app, ["table", "bisenet_upsample", "--metric", "val/mIoU", "--series",
                                      "--tracking-uri", uri])
    assert series.exit_code == 0 and "nearestaux1" in series.output, series.output
