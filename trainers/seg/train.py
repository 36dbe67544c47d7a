"""The segmentation training loop: ``train(config, report)``, iteration-based, evaluating every
``train.eval_every`` iterations; no Ray, no MLflow."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from orchestrator.trainer import Report
from trainers._torch import (autocast_for, fingerprint, load_for_eval, pick_device, resume_from, save_atomic,
                             seed_everything, warn_if_data_bound)
from trainers.seg.config import Config
from trainers.seg.data import SegDataset, dataset_root
from trainers.seg.evaluate import evaluate
from trainers.seg.loss import make_loss
from trainers.seg.model import backbone_parameters, build_model, count_params

__all__ = ["train", "lr_at", "build_optimizer", "EpochSampler"]

# Settings that do not change what is trained; a checkpoint resumes across them.
_NOT_FINGERPRINTED = {("train", "out_dir"), ("train", "resume"), ("train", "log_every"), ("data", "workers"),
                      ("train", "eval_every"), ("eval", "modes"), ("eval", "final_modes"), ("eval", "scales"),
                      ("eval", "scale"), ("eval", "crop"), ("eval", "stride"), ("eval", "batch_size")}


def lr_at(cfg: Config, it: int) -> float:
    """Base learning rate at iteration ``it``: warmup from warmup_ratio x lr, then poly decay."""
    o = cfg.optim
    if it < o.warmup_iters:
        t = it / o.warmup_iters
        factor = o.warmup_ratio + (1 - o.warmup_ratio) * t if o.warmup == "linear" else o.warmup_ratio ** (1 - t)
        return o.lr * factor
    return o.lr * max(0.0, 1 - it / cfg.train.max_iter) ** o.power


def build_optimizer(cfg: Config, model) -> torch.optim.SGD:
    """SGD with four groups: backbone / heads x decayed / not; 1-D parameters (BN, biases) get no
    weight decay, heads get ``optim.head_lr_factor`` x lr."""
    o = cfg.optim
    backbone = backbone_parameters(model)
    groups: dict[tuple[bool, bool], list] = {}
    for p in model.parameters():
        groups.setdefault((id(p) in backbone, p.ndim > 1), []).append(p)
    return torch.optim.SGD(
        [{"params": ps, "weight_decay": o.weight_decay if decay else 0.0,
          "lr_factor": 1.0 if is_backbone else o.head_lr_factor}
         for (is_backbone, decay), ps in sorted(groups.items(), reverse=True)],
        lr=o.lr, momentum=o.momentum)


class EpochSampler(torch.utils.data.Sampler):
    """An endless stream of per-epoch permutations (seeded by seed and epoch) that can start
    mid-stream. It yields (image index, position in the stream); the dataset seeds each item's
    augmentation from the position, so a resumed run sees exactly what the uninterrupted one would."""

    def __init__(self, n: int, seed: int, start: int = 0):
        self.n, self.seed, self.start = n, seed, start

    def __iter__(self):
        epoch, offset = divmod(self.start, self.n)
        position = self.start
        while True:
            g = torch.Generator()
            g.manual_seed(self.seed * 1_000_003 + epoch)
            for index in torch.randperm(self.n, generator=g)[offset:].tolist():
                yield index, self.seed * 2**40 + position
                position += 1
            epoch, offset = epoch + 1, 0


def _collate_list(items):
    return items


def _loaders(cfg: Config, device, start_iter: int):
    root = dataset_root(cfg.data)
    d = cfg.data
    pin = device.type == "cuda"
    val = SegDataset(root, d.val_split, d, False, d.max_val)
    val_loader = torch.utils.data.DataLoader(val, batch_size=cfg.eval.batch_size, num_workers=min(d.workers, 2),
                                             collate_fn=_collate_list, pin_memory=pin)
    if cfg.mode == "eval":
        return None, val_loader
    ds = SegDataset(root, d.train_split, d, True, d.max_train)
    sampler = EpochSampler(len(ds), cfg.seed, start_iter * cfg.train.batch_size)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.train.batch_size, sampler=sampler,
                                         num_workers=d.workers, pin_memory=pin,
                                         prefetch_factor=4 if d.workers else None)
    return loader, val_loader


def _modes(cfg: Config, last: bool) -> list[str]:
    """eval.modes, plus eval.final_modes at the last checkpoint; each once, in order."""
    return list(dict.fromkeys([*cfg.eval.modes, *(cfg.eval.final_modes if last else [])]))


def _eval_only(cfg: Config, model, val_loader, device, autocast, report: Report) -> dict[str, float]:
    state = load_for_eval(cfg.checkpoint, model, device)
    metrics = {**evaluate(model, val_loader, device, autocast, cfg, _modes(cfg, last=True)),
               "model/params": float(count_params(model))}
    report(metrics, int(state.get("iter", 0)))
    return metrics


def train(cfg: Config, report: Report) -> dict[str, float]:
    seed_everything(cfg.seed)
    device = pick_device(cfg.train.device)
    model = build_model(cfg).to(device)
    if device.type == "cuda" and cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = autocast_for(device, cfg.train.amp)
    if cfg.mode == "eval":
        return _eval_only(cfg, model, _loaders(cfg, device, 0)[1], device, autocast, report)
    optimizer = build_optimizer(cfg, model)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.amp == "fp16")
    ckpt = Path(cfg.train.out_dir) / "checkpoint.pt" if cfg.train.out_dir else None
    fp = fingerprint(cfg, _NOT_FINGERPRINTED)
    state = resume_from(ckpt, cfg.train.resume, fp, device, model, optimizer, scaler)
    start = int(state["iter"]) if state else 0
    if state:
        print(f"resumed from {ckpt} at iteration {start}", flush=True)
    loader, val_loader = _loaders(cfg, device, start)
    loss_fn = make_loss(cfg.loss, cfg.model.aux_weight)
    channels_last = device.type == "cuda" and cfg.train.channels_last
    t = cfg.train
    metrics: dict[str, float] = {"model/params": float(count_params(model))}
    total = torch.zeros(2, device=device)
    steps, images, wait, lr = 0, 0, 0.0, 0.0
    clock = last = time.perf_counter()
    batches = iter(loader)
    model.train()
    for it in range(start, t.max_iter):
        t0 = time.perf_counter()
        batch = next(batches)
        x = batch["image"].to(device, non_blocking=True)
        y = batch["label"].to(device, non_blocking=True)
        wait += time.perf_counter() - t0
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = lr_at(cfg, it)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_factor"]
        with autocast():
            out = model(x)
        loss, main = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += torch.stack([loss.detach(), main.detach()])
        steps, images = steps + 1, images + x.shape[0]
        done = it + 1
        if done % t.log_every == 0 or done == t.max_iter:
            now = time.perf_counter()
            print(f"Iter: [{done}/{t.max_iter}]  loss {loss.item():.4f}  lr {lr:.2e}  "
                  f"{images / (now - clock):.1f} img/s  data {100 * wait / (now - clock):.0f}%  "
                  f"({now - last:.1f}s)", flush=True)
            last = now
        if done % t.eval_every and done != t.max_iter:
            continue
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - clock
        mean_loss, mean_main = (total / steps).tolist()
        warn_if_data_bound(wait / elapsed, cfg.data.workers, "lower the crop size")
        if ckpt:
            save_atomic(ckpt, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scaler": scaler.state_dict(), "iter": done, "fingerprint": fp})
        metrics = {"train/loss": mean_loss if math.isfinite(mean_loss) else float("nan"),
                   "train/loss_main": mean_main, "train/lr": lr, "time/images_per_s": images / elapsed,
                   "time/data_wait": wait / elapsed, "model/params": metrics["model/params"],
                   **evaluate(model, val_loader, device, autocast, cfg, _modes(cfg, done == t.max_iter))}
        if device.type == "cuda":
            metrics["time/peak_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
        report(metrics, done)
        total.zero_()
        steps, images, wait = 0, 0, 0.0
        clock = last = time.perf_counter()
    return metrics
