"""The compute-only baseline of the throughput benches: the trainers' own training step
(:class:`trainers._torch.TrainStep`) on one batch already in memory, timed after warm-up."""

from __future__ import annotations

import time
from typing import Callable

import torch

from trainers._torch import TrainStep

WARMUP = 3  # untimed steps: cudnn autotune, allocator, first-touch pages


def images_per_s(step: TrainStep, x: torch.Tensor, loss_of: Callable, steps: int) -> float:
    """Images/s of ``step`` (forward, backward, optimiser step) on the batch ``x``;
    ``loss_of(model output)`` is the trainer's loss."""
    device = step.placement.device
    step.model.train()
    for i in range(steps + WARMUP):
        if i == WARMUP:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        step(x, loss_of)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)
