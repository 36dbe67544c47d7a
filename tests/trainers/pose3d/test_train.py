"""The 3-D pose trainer: it learns (against the untrained network and the mean pose, printed in
the same run), checkpoints and resumes, evaluates a checkpoint, and its backbone sweep's smoke
profile runs through Ray and MLflow into `orch table --metric mpjpe3d`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.registry import get_trainer
from orchestrator.run import run_sweep
from orchestrator.sweepfile import Schema, load_sweep
from tests.conftest import ROOT
from tests.orchestrator.run.conftest import children, parents
from trainers._torch import place
from trainers.pose3d.metrics import METRIC_KEYS, mpjpe
from trainers.pose3d.model import build_model
from trainers.pose3d.train import _loader, _mean_pose, build_data, evaluate, train

pytestmark = pytest.mark.slow


def config(**overrides):
    trainer = get_trainer("pose3d")
    schema = Schema(trainer.config)
    return schema.build({**schema.defaults(), **trainer.smoke, **overrides})


def test_a_short_cpu_run_beats_the_untrained_network_and_the_mean_pose(capsys):
    cfg = config(**{"model.hidden": 256, "model.dropout": 0.0, "model.keypoints2d": "direct",
                    "data.synth_train": 800, "data.synth_val": 100, "data.synth_max_yaw": 30.0,
                    "train.epochs": 6, "optim.lr": 1e-3})
    val, training = build_data(cfg, "val"), build_data(cfg, "train")
    untrained, placement = place(build_model(cfg.model, True, _mean_pose(training)), cfg.train)
    before = evaluate(untrained, _loader(val, cfg, placement.device, False, 0), placement)["val/MPJPE"]
    truth = np.stack([p.joints_cam - p.joints_cam[0] for p in val.people])
    mean = mpjpe(np.broadcast_to(_mean_pose(training).numpy() * 1000, truth.shape), truth)
    reports = []
    final = train(cfg, lambda metrics, step: reports.append((step, metrics)))
    after = final["val/MPJPE"]
    print(f"MPJPE (mm): untrained {before:.1f}, mean pose {mean:.1f}, after {cfg.train.epochs} epochs {after:.1f}")
    assert [s for s, _ in reports] == [1, 2, 3, 4, 5, 6]
    assert {f"val/{k}" for k in METRIC_KEYS} <= set(final) and final["model/params"] > 11e6
    assert after < 0.93 * before and after < 0.93 * mean  # measured: 0.89 of both
    assert final["val/PA-MPJPE"] < after and 0 <= final["val/PCK3D"] <= 100 and 0 <= final["val/AUC"] <= 100


class Killed(Exception):
    pass


def test_checkpoints_resume_and_a_checkpoint_evaluates_to_its_last_report(tmp_path, capsys):
    cfg = config(**{"train.out_dir": str(tmp_path / "run"), "train.epochs": 3})

    def killed_after_one(metrics, step):
        raise Killed

    with pytest.raises(Killed):
        train(cfg, killed_after_one)
    steps = []
    resumed = train(cfg, lambda m, s: steps.append(s))
    assert steps == [2, 3] and "resumed from" in capsys.readouterr().out
    seen = []
    evaluated = train(config(**{"mode": "eval", "checkpoint": str(tmp_path / "run" / "checkpoint.pt")}),
                      lambda m, s: seen.append(s))
    assert seen == [3] and evaluated["val/MPJPE"] == pytest.approx(resumed["val/MPJPE"], rel=1e-5)


def test_the_backbone_sweeps_smoke_profile_tables_one_row_per_backbone(local_ray, store, tmp_path, monkeypatch):
    uri, client = store
    monkeypatch.chdir(tmp_path)
    spec = load_sweep(ROOT / "sweeps" / "pose3d_backbones.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 3}, outcome
    [parent] = parents(client)
    runs = {r.info.run_name: r for r in children(client, parent.info.run_id)}
    assert set(runs) == {"resnet18", "mobilenet_v3_large", "shufflenet_v2_x1_0"}
    result = CliRunner().invoke(app, ["table", "pose3d_backbones", "--metric", "mpjpe3d", "--metric", "model/params",
                                      "--format", "json", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r["metrics"] for r in json.loads(result.stdout)}
    assert set(rows) == set(runs)
    for name, metrics in rows.items():
        assert {"val/MPJPE", "val/PA-MPJPE", "val/PCK3D", "val/AUC", "model/params"} <= set(metrics)
        best = min(m.value for m in client.get_metric_history(runs[name].info.run_id, "val/MPJPE"))
        assert metrics["val/MPJPE"]["mean"] == pytest.approx(best)  # the best epoch, lower is better
        assert metrics["model/params"]["mean"] == runs[name].data.metrics["model/params"]
    sizes = {name: m["model/params"]["mean"] for name, m in rows.items()}
    assert sizes["shufflenet_v2_x1_0"] < sizes["resnet18"]
    md = CliRunner().invoke(app, ["table", "pose3d_backbones", "--metric", "mpjpe3d", "--tracking-uri", uri])
    assert md.exit_code == 0 and "PA-MPJPE" in md.stdout and "resnet18" in md.stdout


@pytest.mark.slow
def test_the_spin_sweeps_smoke_profile_trains_on_an_npz_and_reports_mpjpe(local_ray, store, tmp_path, monkeypatch):
    uri, client = store
    monkeypatch.chdir(tmp_path)
    spec = load_sweep(ROOT / "sweeps" / "pose3d_spin.yaml", profile="smoke")
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 2}, outcome
    for run in children(client, parents(client)[0].info.run_id):
        assert run.data.params["data.format"] == "spin_npz"
        history = client.get_metric_history(run.info.run_id, "val/MPJPE")
        assert [m.step for m in history] == [1, 2] and all(0 < m.value < 2000 for m in history)
        assert run.data.metrics["train/loss2d"] > 0 and run.data.metrics["train/loss3d"] > 0
