"""The toy trainer's 'training': closed-form curves, no randomness, no torch."""

from __future__ import annotations

import math
import time

from orchestrator.trainer import Report, progress_of
from trainers.toy.config import Config

# Offsets from the mean, roughly the shape of SimpleBaseline's MPII PCKh per joint.
JOINT_OFFSETS = {"Head": 6.0, "Shoulder": 4.5, "Elbow": -0.5, "Wrist": -5.0, "Hip": 0.5,
                 "Knee": -2.5, "Ankle": -6.0}
NAN_ABOVE_T = 14.0
BATCHES = 10  # progress positions per epoch (the sleep is split into this many steps)


def final_quality(config: Config) -> float:
    """Mean PCKh the curve converges to: best near t=10 and lr=1e-3; margin and radii help a bit."""
    f_t = math.exp(-((math.log(config.t) - math.log(10.0)) ** 2) / (2 * 0.6**2))
    f_lr = math.exp(-((math.log10(config.lr) + 3.0) ** 2) / 2.0)
    bonus = (1.2 * math.log1p(config.pointMaxW) - 0.15 * config.pointMaxW
             + 3.0 * config.probMargin * (1.2 - config.probMargin)
             + 0.4 * len(config.rs) - 0.02 * sum(config.rs))
    return min(95.0, 55.0 + 30.0 * f_t * f_lr + bonus)


# val/surface: a smooth bump with a known optimum, for search tests and benches (bench/search.py)
SURFACE_OPTIMUM = {"t": 9.0, "probMargin": 0.55, "pointMaxW": 1.5, "lr": 1e-3}
SURFACE_MAX = 100.0


def surface(config: Config) -> float:
    """100 at SURFACE_OPTIMUM, falling off as a Gaussian in log t, margin, point weight and log lr."""
    z = ((math.log(config.t / 9.0) / 0.35) ** 2 + ((config.probMargin - 0.55) / 0.2) ** 2
         + ((config.pointMaxW - 1.5) / 1.0) ** 2 + ((math.log10(config.lr) + 3.0) / 0.5) ** 2)
    return SURFACE_MAX * math.exp(-0.5 * z)


def epoch_metrics(config: Config, epoch: int) -> dict[str, float]:
    progress = 1.0 - 0.6 * math.exp(-epoch / 2.0)
    noise = 0.35 * math.sin(1.7 * config.seed + 0.9) + 0.05 * math.cos(0.5 * epoch + config.seed)
    mean = final_quality(config) * progress + noise
    diverged = config.t > NAN_ABOVE_T and epoch >= min(2, config.epochs)
    metrics: dict[str, float] = {}
    for joint, offset in JOINT_OFFSETS.items():
        metrics[f"val/{joint}"] = math.nan if diverged else max(0.0, min(100.0, mean + offset))
    joints = [metrics[f"val/{j}"] for j in JOINT_OFFSETS]
    metrics["val/Mean"] = sum(joints) / len(joints)
    metrics["val/Mean@0.1"] = math.nan if diverged else 0.42 * mean
    loss = 0.1 + 2.0 * math.exp(-epoch / 3.0) * 60.0 / max(mean, 1.0)
    metrics["train/loss"] = math.nan if diverged else loss
    metrics["val/surface"] = math.nan if diverged else surface(config)
    return metrics


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, which is what orch's on_oom recognises."""


def train(config: Config, report: Report) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if config.oom_above_batch is not None and config.batch_size > config.oom_above_batch:
        raise OutOfMemoryError(f"CUDA out of memory (simulated): batch_size {config.batch_size} "
                               f"> {config.oom_above_batch}")
    progress = progress_of(report)
    for epoch in range(1, config.epochs + 1):
        for batch in range(1, BATCHES + 1 if config.sleep else 1):  # an epoch's sleep, in steps
            time.sleep(config.sleep / BATCHES)
            progress(batch, BATCHES, epoch=epoch, epochs=config.epochs, images_per_s=8 * BATCHES / config.sleep)
        if config.fail_at_epoch is not None and epoch == config.fail_at_epoch:
            raise RuntimeError(f"toy trainer failed at epoch {epoch} (fail_at_epoch={epoch})")
        metrics = epoch_metrics(config, epoch)
        report(metrics, epoch)
    return metrics
