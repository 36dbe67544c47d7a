"""AlphaPose's evaluation table over one checkpoint: sweeps/pose_coco.yaml trains it once (here
standalone, as `orch train` would), sweeps/pose_coco_eval.yaml evaluates it with ground-truth
boxes and a detector's boxes at three score thresholds through Ray and MLflow, training nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.registry import build_config, get_trainer
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def test_four_eval_rows_from_one_checkpoint_differ_in_oks_ap(local_ray, store, tmp_path, monkeypatch):
    uri, client = store
    monkeypatch.chdir(tmp_path)
    [train_trial] = load_sweep(ROOT / "sweeps" / "pose_coco.yaml", profile="smoke").trials
    get_trainer("pose").load_train()(build_config("pose", dict(train_trial.config)), lambda m, s: None)
    ckpt = tmp_path / "checkpoints" / "pose_coco_smoke" / "checkpoint.pt"
    written = ckpt.stat().st_mtime_ns

    spec = load_sweep(ROOT / "sweeps" / "pose_coco_eval.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 4}, outcome
    assert ckpt.stat().st_mtime_ns == written  # evaluated, never trained or rewritten
    [parent] = parents(client)
    runs = {r.info.run_name: r for r in children(client, parent.info.run_id)}
    assert set(runs) == {"gt_boxes", "det_all", "det_0.8", "det_0.9"}
    for run in runs.values():
        assert run.data.params["mode"] == "eval"
        history = client.get_metric_history(run.info.run_id, "val/AP")
        assert [m.step for m in history] == [train_trial.config["train.epochs"]]  # the checkpoint's epoch
        log = client.download_artifacts(run.info.run_id, "trial.log", str(tmp_path / run.info.run_name))
        assert "Epoch: [" not in open(log).read()  # no training step ran
    ap = {name: run.data.metrics["val/AP"] for name, run in runs.items()}
    assert len({round(v, 6) for v in ap.values()}) == 4, ap
    assert ap["gt_boxes"] > 0

    result = CliRunner().invoke(app, ["table", "pose_coco_eval", "--metric", "coco", "--format", "json",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r["metrics"]["val/AP"]["mean"] for r in json.loads(result.stdout)}
    assert rows == pytest.approx(ap, abs=1e-6)  # JSON keeps 6 decimals
