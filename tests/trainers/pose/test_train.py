import math
import os
import subprocess
import sys

import pytest

from orchestrator.registry import get_trainer
from orchestrator.sweepfile import Schema
from tests.conftest import ROOT
from trainers.pose.train import train

PCKH = {"val/Head", "val/Shoulder", "val/Elbow", "val/Wrist", "val/Hip", "val/Knee", "val/Ankle",
        "val/Mean", "val/Mean@0.1"}


def smoke_config(**overrides):
    trainer = get_trainer("pose")
    schema = Schema(trainer.config)
    flat = {**schema.defaults(), **trainer.smoke, **overrides}
    return schema.build(flat)


class Killed(Exception):
    pass


def test_trains_reports_every_epoch_checkpoints_and_resumes(tmp_path, capsys):
    cfg = smoke_config(**{"train.out_dir": str(tmp_path / "run"), "train.epochs": 3})
    seen = []

    def killed_after_two(metrics, step):
        seen.append((step, metrics))
        if step == 2:
            raise Killed

    with pytest.raises(Killed):
        train(cfg, killed_after_two)
    assert [s for s, _ in seen] == [1, 2]
    first = seen[0][1]
    assert PCKH | {"train/loss", "train/lr", "time/epoch_s", "time/images_per_s", "time/data_wait",
                   "model/params"} <= set(first)
    assert all(math.isfinite(v) for v in first.values())
    assert 0 <= first["time/data_wait"] <= 1 and first["time/images_per_s"] > 0
    assert first["model/params"] > 11e6  # a resnet18 encoder
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    running = (tmp_path / "run" / "checkpoint.pt").stat().st_size  # weights, Adam's two moments

    resumed = []
    final = train(cfg, lambda m, s: resumed.append((s, m)))
    assert [s for s, _ in resumed] == [3]  # epochs 1-2 are not trained or reported again
    assert "resumed from" in capsys.readouterr().out
    # finished: the checkpoint keeps the weights only, under half the running one's size
    assert (tmp_path / "run" / "checkpoint.pt").stat().st_size < running / 2
    again = []
    train(cfg, lambda m, s: again.append((s, m)))  # a finished run found again: evaluated, reported once
    assert [s for s, _ in again] == [3] and "the run had finished" in capsys.readouterr().out
    assert again[0][1]["val/Mean"] == pytest.approx(final["val/Mean"], abs=1e-6)

    # eval-only mode on the checkpoint gives the same validation numbers
    evaluated = []
    eval_cfg = smoke_config(mode="eval", checkpoint=str(tmp_path / "run" / "checkpoint.pt"))
    train(eval_cfg, lambda m, s: evaluated.append((s, m)))
    assert evaluated[0][0] == 3
    for key in PCKH:
        assert evaluated[0][1][key] == pytest.approx(final[key], abs=1e-6), key


def test_keep_optimizer_keeps_a_finished_checkpoint_whole(tmp_path):
    import torch

    cfg = smoke_config(**{"train.out_dir": str(tmp_path / "run"), "train.epochs": 1, "train.keep_optimizer": True})
    train(cfg, lambda m, s: None)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "scaler"} <= set(state) and not state.get("finished")


def test_a_checkpoint_of_another_config_is_not_resumed(tmp_path, capsys):
    out = str(tmp_path / "run")
    train(smoke_config(**{"train.out_dir": out, "train.epochs": 1}), lambda m, s: None)
    steps = []
    train(smoke_config(**{"train.out_dir": out, "train.epochs": 1, "loss.name": "msssm"}),
          lambda m, s: steps.append(s))
    assert steps == [1] and "belongs to another config" in capsys.readouterr().out


def test_msssm_at_high_temperature_trains_without_nan():
    reports = []
    train(smoke_config(**{"loss.name": "msssm", "loss.t": 50.0, "loss.probMargin": 0.8,
                          "loss.pointMaxW": 1.0}), lambda m, s: reports.append(m))
    assert all(math.isfinite(m["train/loss"]) for m in reports)


def test_coco_synthetic_reports_oks_ap():
    reports = []
    train(smoke_config(**{"data.dataset": "coco", "data.synth_train": 12, "data.synth_val": 4}),
          lambda m, s: reports.append(m))
    assert {"val/AP", "val/AP50", "val/AP75", "val/APm", "val/APl", "val/AR"} <= set(reports[-1])
    assert all(0 <= reports[-1][k] <= 100 for k in ("val/AP", "val/AR"))


def test_eval_mode_without_a_checkpoint_says_so():
    with pytest.raises(FileNotFoundError, match="mode: eval needs"):
        train(smoke_config(mode="eval", checkpoint="nowhere.pt"), lambda m, s: None)


def test_missing_pretrained_file_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="downloads nothing at run time"):
        train(smoke_config(**{"model.pretrained": "weights/resnet18.pth"}), lambda m, s: None)


def test_orch_train_and_python_m_run_one_config_without_ray(tmp_path):
    smoke = get_trainer("pose").smoke
    sets = []
    for key, value in {**smoke, "train.epochs": 1}.items():
        text = str(value).replace(" ", "") if isinstance(value, list) else str(value).lower() \
            if isinstance(value, bool) else repr(value) if value == "" else str(value)
        sets += ["--set", f"{key}={text}"]
    for argv in ([sys.executable, "-m", "orchestrator.cli", "train", "pose"],
                 [sys.executable, "-m", "trainers.pose"]):
        out = subprocess.run([*argv, *sets], capture_output=True, text=True, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr[-2000:]
        assert "step 1" in out.stdout and "val/Mean=" in out.stdout
        assert "ray" not in out.stderr.lower()


def test_orch_train_rejects_an_unknown_key_with_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "train", "pose", "--set", "loss.tt=3"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "loss.tt" in out.stderr and "loss.t" in out.stderr and "Traceback" not in out.stderr


def test_orch_train_runs_one_trial_of_a_sweep_and_lists_trials_when_ambiguous(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    monkeypatch.chdir(tmp_path)
    sweep = str(ROOT / "sweeps" / "msssm_temper.yaml")
    result = CliRunner().invoke(app, ["train", sweep, "--profile", "smoke", "--trial", "t75",
                                      "--set", "train.epochs=1"])
    assert result.exit_code == 0, result.output
    assert "t75" in result.output and "step 1" in result.output
    assert (tmp_path / "checkpoints" / "msssm_temper" / "t75" / "checkpoint.pt").is_file()
    ambiguous = CliRunner().invoke(app, ["train", sweep, "--profile", "smoke"])
    assert ambiguous.exit_code == 2 and "pick one with --trial: t7, t15, t75" in ambiguous.output


@pytest.mark.parametrize("backbone", ["mobilenet_v3_small", "shufflenet_v2_x1_0"])
def test_small_backbones_give_stride_4_heatmaps(backbone):
    import torch

    from trainers.pose.model import build_model

    model = build_model(backbone, 16, [32, 32, 32])
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 16, 16, 16)
