"""One training epoch through the shared training step, with its progress lines."""

from __future__ import annotations

import math

import torch

from trainers._dist import is_main, reduce_epoch_stats
from trainers._torch import TrainStep

__all__ = ["run"]

TRAIN_KEYS = ("image", "target", "weight", "hm_joints")  # what a step needs on the device


def run(cfg, step: TrainStep, loader, loss_fn, epoch: int, lr_at, progress=None) -> dict[str, float]:
    """Train one epoch; returns train/loss, train/lr, time/epoch_s, time/images_per_s, time/data_wait.
    ``progress`` (the report's, see :func:`orchestrator.trainer.progress_of`) hears every batch."""
    step.model.train()
    meter, device = step.meter, step.placement.device
    meter.reset()
    n = len(loader)
    total_loss = torch.zeros((), device=device)
    lr = 0.0
    batches = iter(loader)
    for i in range(n):
        batch = meter.next_batch(batches, lambda b: {k: b[k].to(device, non_blocking=True) for k in TRAIN_KEYS})
        lr = lr_at(epoch - 1 + i / max(n, 1))
        for group in step.optimizer.param_groups:
            group["lr"] = lr
        loss = step(batch["image"], lambda out: loss_fn(out.float(), batch))
        total_loss += loss
        if progress is not None:
            progress(i + 1, n, epoch=epoch, epochs=cfg.train.epochs, loss=loss, images_per_s=meter.rate())
        if ((i + 1) % cfg.train.log_every == 0 or i + 1 == n) and is_main():
            print(meter.line(f"Epoch: [{epoch}][{i + 1}/{n}]", loss.item(), lr), flush=True)
    mean_loss = float(total_loss.item()) / max(n, 1)
    # with several workers: the group's loss over every batch of every rank, its images/s
    stats = reduce_epoch_stats({"train/loss": mean_loss, "train/lr": lr, **meter.stats(device)}, n)
    stats["train/loss"] = stats["train/loss"] if math.isfinite(stats["train/loss"]) else float("nan")
    return stats
