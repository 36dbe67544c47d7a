"""The seg training loop on CPU: reports at every evaluation, exact resume, evaluation-only mode,
the schedule and the optimiser's groups."""

import math

import pytest
import torch

from orchestrator.registry import get_trainer
from orchestrator.sweepfile import Schema
from trainers.seg.model import backbone_parameters
from trainers.seg.train import build_optimizer, lr_at, train


def config(**overrides):
    trainer = get_trainer("seg")
    schema = Schema(trainer.config)
    return schema.build({**schema.defaults(), **trainer.smoke, **overrides})


class Killed(Exception):
    pass


def test_reports_every_eval_step_and_resumes_exactly(tmp_path):
    common = {"train.max_iter": 6, "train.eval_every": 2, "eval.final_modes": ["ms_flip"]}
    straight = []
    train(config(**common, **{"train.out_dir": str(tmp_path / "a")}), lambda m, s: straight.append((s, m)))
    assert [s for s, _ in straight] == [2, 4, 6]
    first = straight[0][1]
    assert {"val/mIoU", "val/mIoU_ss", "train/loss", "train/loss_main", "train/lr", "time/images_per_s",
            "time/data_wait", "model/params"} <= set(first)
    assert all(math.isfinite(v) for v in first.values())
    assert 0 <= first["time/data_wait"] <= 1 and first["train/loss"] > first["train/loss_main"]  # + aux
    assert "val/mIoU_ms_flip" not in first and "val/mIoU_ms_flip" in straight[-1][1]  # final only

    cfg = config(**common, **{"train.out_dir": str(tmp_path / "b")})
    seen = []

    def killed_at_4(metrics, step):
        seen.append(step)
        if step == 4:
            raise Killed

    with pytest.raises(Killed):
        train(cfg, killed_at_4)
    resumed = []
    train(cfg, lambda m, s: resumed.append((s, m)))
    assert seen == [2, 4] and [s for s, _ in resumed] == [6]  # nothing trained or reported twice
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["iter"] == b["iter"] == 6
    for key, value in a["model"].items():  # the same images, augmentations and updates
        assert torch.equal(value, b["model"][key]), key
    assert resumed[0][1]["val/mIoU"] == straight[-1][1]["val/mIoU"]

    other = []  # another config never resumes from that checkpoint
    train(config(**common, **{"train.out_dir": str(tmp_path / "b"), "optim.lr": 0.02}),
          lambda m, s: other.append(s))
    assert other == [2, 4, 6]


def test_eval_mode_scores_a_checkpoint_with_every_mode(tmp_path):
    train(config(**{"train.out_dir": str(tmp_path)}), lambda m, s: None)
    got = []
    final = train(config(**{"mode": "eval", "checkpoint": str(tmp_path / "checkpoint.pt"),
                            "eval.modes": ["ss"], "eval.final_modes": ["flip", "ms_flip"],
                            "eval.crop": [32, 32]}), lambda m, s: got.append((s, m)))
    assert [s for s, _ in got] == [2]  # the checkpoint's iteration
    assert {"val/mIoU", "val/mIoU_ss", "val/mIoU_flip", "val/mIoU_ms_flip"} <= set(final)
    with pytest.raises(FileNotFoundError, match="mode: eval needs the checkpoint.pt"):
        train(config(**{"mode": "eval", "checkpoint": str(tmp_path / "nope.pt")}), lambda m, s: None)


def test_poly_schedule_with_linear_and_exponential_warmup():
    cfg = config(**{"optim.lr": 0.01, "optim.warmup_iters": 100, "optim.warmup_ratio": 0.1,
                    "train.max_iter": 1000, "optim.power": 0.9, "optim.warmup": "linear"})
    assert lr_at(cfg, 0) == pytest.approx(0.001)
    assert lr_at(cfg, 50) == pytest.approx(0.0055)
    assert lr_at(cfg, 100) == pytest.approx(0.01 * 0.9 ** 0.9)
    assert lr_at(cfg, 550) == pytest.approx(0.01 * 0.45 ** 0.9)
    assert lr_at(cfg, 1000) == 0.0
    exp = config(**{"optim.lr": 0.01, "optim.warmup_iters": 100, "optim.warmup_ratio": 0.1,
                    "optim.warmup": "exp", "train.max_iter": 1000})
    assert lr_at(exp, 0) == pytest.approx(0.001) and lr_at(exp, 50) == pytest.approx(0.01 * 0.1 ** 0.5)


def test_no_weight_decay_on_1d_parameters_and_head_lr_factor():
    from trainers.seg.model import build_model

    cfg = config(**{"optim.head_lr_factor": 10.0, "optim.weight_decay": 5e-4})
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    backbone = backbone_parameters(model)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    for group in opt.param_groups:
        for p in group["params"]:
            assert group["weight_decay"] == (5e-4 if p.ndim > 1 else 0.0)
            assert group["lr_factor"] == (1.0 if id(p) in backbone else 10.0)


@pytest.mark.slow  # 150 steps of real training: the full suite runs it
def test_a_short_cpu_run_learns_well_above_chance():
    from trainers.seg.data import SegDataset, dataset_root
    from trainers.seg.metrics import confusion_matrix, miou

    cfg = config(**{"data.synth_size": [128, 256], "data.synth_train": 48, "data.synth_val": 6,
                    "data.crop": [96, 96], "data.scale": [0.75, 1.25], "model.sp_channels": [64, 64, 128],
                    "train.batch_size": 8, "train.max_iter": 60, "train.eval_every": 20,
                    "optim.warmup_iters": 10, "eval.final_modes": ["ms_flip"], "eval.scales": [0.75, 1.0, 1.25]})
    # chance level: the most frequent validation class everywhere
    val = SegDataset(dataset_root(cfg.data), "val", cfg.data, False)
    labels = [val[i]["label"] for i in range(len(val))]
    majority = int(torch.bincount(torch.cat([lab.flatten() for lab in labels]), minlength=256)[:19].argmax())
    chance = miou(sum(confusion_matrix(torch.full_like(lab, majority), lab, 19) for lab in labels))[0]
    reports = []
    train(cfg, lambda m, s: reports.append((s, m)))
    assert [s for s, _ in reports] == [20, 40, 60]
    mious = [m["val/mIoU"] for _, m in reports]
    assert mious[-1] > 2.5 * chance, (mious, chance)
    assert reports[-1][1]["val/iou/road"] > 50 and reports[-1][1]["val/iou/sky"] > 50
    assert reports[-1][1]["val/mIoU_ms_flip"] > 2 * chance
