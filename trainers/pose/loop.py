"""One training epoch, with throughput and data-wait accounting and progress lines."""

from __future__ import annotations

import math
import time

import torch

from trainers._torch import warn_if_data_bound

__all__ = ["run"]

TRAIN_KEYS = ("image", "target", "weight", "hm_joints")  # what a step needs on the device


def run(cfg, model, loader, optimizer, scaler, loss_fn, autocast, device, epoch: int, lr_at) -> dict[str, float]:
    """Train one epoch; returns train/loss, train/lr, time/epoch_s, time/images_per_s, time/data_wait."""
    model.train()
    cuda = device.type == "cuda"
    channels_last = cuda and cfg.train.channels_last
    n = len(loader)
    total_loss = torch.zeros((), device=device)
    images, wait, lr = 0, 0.0, 0.0
    start = last = time.perf_counter()
    it = iter(loader)
    for i in range(n):
        t0 = time.perf_counter()
        batch = next(it)
        batch = {k: batch[k].to(device, non_blocking=True) for k in TRAIN_KEYS}
        wait += time.perf_counter() - t0
        lr = lr_at(epoch - 1 + i / max(n, 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = batch["image"]
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            out = model(x)
        loss = loss_fn(out.float(), batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total_loss += loss.detach()
        images += x.shape[0]
        if (i + 1) % cfg.train.log_every == 0 or i + 1 == n:
            now = time.perf_counter()
            value = loss.item()
            print(f"Epoch: [{epoch}][{i + 1}/{n}]  loss {value:.5f}  lr {lr:.2e}  "
                  f"{images / (now - start):.1f} img/s  data {100 * wait / (now - start):.0f}%  "
                  f"({now - last:.1f}s)", flush=True)
            last = now
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    data_wait = wait / elapsed if elapsed else 0.0
    warn_if_data_bound(data_wait, cfg.data.workers, "lower the input size")
    mean_loss = float(total_loss.item()) / max(n, 1)
    return {"train/loss": mean_loss if math.isfinite(mean_loss) else float("nan"), "train/lr": lr,
            "time/epoch_s": elapsed, "time/images_per_s": images / elapsed if elapsed else 0.0,
            "time/data_wait": data_wait}
