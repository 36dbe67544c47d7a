"""The compute-only baseline of the throughput benches: one training step, timed after warm-up."""

from __future__ import annotations

import time
from typing import Callable

import torch

WARMUP = 3  # untimed steps: cudnn autotune, allocator, first-touch pages


def images_per_s(model, optimizer, autocast, x: torch.Tensor, loss_of: Callable, steps: int,
                 device: torch.device) -> float:
    """Images/s of forward + backward + optimiser step on the batch ``x`` already in memory;
    ``loss_of(model output)`` is the trainer's loss."""

    def step() -> None:
        with autocast():
            out = model(x)
        loss = loss_of(out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    for i in range(steps + WARMUP):
        if i == WARMUP:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)
