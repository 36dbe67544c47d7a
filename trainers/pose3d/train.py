"""The 3-D pose training loop: ``train(config, report)``; no Ray, no MLflow."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from orchestrator.trainer import Report, progress_of
from trainers import _dist
from trainers._torch import (StepMeter, TrainStep, epoch_loader, load_for_eval, place,
                             prepare_training, seed_everything)
from trainers.pose.model import count_params
from trainers.pose3d.config import Config
from trainers.pose3d.data import Pose3DDataset, load_people
from trainers.pose3d.metrics import evaluate3d
from trainers.pose3d.model import build_model
from trainers.pose3d.synth import FILES, SPIN_FILES, synthetic_dataset

__all__ = ["train", "build_data", "predict", "evaluate"]

_NOT_FINGERPRINTED = {("train", "out_dir"), ("train", "resume"), ("train", "log_every"),
                      ("data", "workers"), ("train", "eval_every"), ("train", "deterministic")}


def build_data(cfg: Config, split: str) -> Pose3DDataset:
    d = cfg.data
    if d.root == "synthetic":
        root = str(synthetic_dataset(d.synth_train, d.synth_val, 0, d.synth_max_yaw, d.format))
        files = SPIN_FILES if d.format == "spin_npz" else FILES
    elif not Path(d.root).is_dir():
        raise FileNotFoundError(f"data.root: {d.root} is not a folder (cwd {os.getcwd()}); point it "
                                "at the dataset, or use 'synthetic'")
    else:
        root, files = d.root, {"train": d.train, "val": d.val, "images": d.images}
    people = load_people(root, files[split], files["images"], d.max_train if split == "train" else d.max_val, d.format)
    train = split == "train"
    if not train and not any(p.has3d.all() for p in people):
        raise ValueError(f"{root}/{files[split]}: no person of the validation split has all 17 3-D joints "
                         "(S with confidence): MPJPE needs a 3-D set there (Human3.6M, 3DPW, MPI-INF-3DHP)")
    return Pose3DDataset(people, d.input_size, d.box_scale, train, d.scale_jitter if train else 0.0,
                         d.shift_jitter if train else 0.0)


_loader = epoch_loader  # training or validation batches (this rank's share of them)


def _loss(cfg: Config, out: dict, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each term over the joints annotated for it (``has3d``, ``vis2d``): a 2-D-only person (COCO,
    MPII in a mixed set) adds to the 2-D loss only. With every joint annotated, the plain means."""
    dist = torch.nn.functional.l1_loss if cfg.loss.name == "l1" else torch.nn.functional.mse_loss

    def masked(pred, true, mask):
        per = dist(pred.float(), true, reduction="none") * mask[..., None]
        return per.sum() / (mask.sum() * true.shape[-1]).clamp(min=1)

    loss3d = masked(out["joints3d"], batch["joints3d"], batch["has3d"])
    loss2d = masked(out["joints2d"], batch["joints2d"], batch["vis2d"]) if "joints2d" in out else torch.zeros_like(loss3d)
    return cfg.loss.w3d * loss3d + cfg.loss.w2d * loss2d, loss3d, loss2d


@torch.no_grad()
def predict(model, loader, placement) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) root-relative 3-D joints over a loader, mm."""
    model.eval()
    preds, truth = [], []
    for batch in loader:
        with placement.autocast():
            out = model(placement.batch(batch["image"].to(placement.device, non_blocking=True)))
        whole = batch["has3d"].bool().all(dim=1).numpy()  # the protocols score people with every 3-D joint
        preds.append(out["joints3d"].float().cpu().numpy()[whole])
        truth.append(batch["joints3d"].numpy()[whole])
    return np.concatenate(preds) * 1000.0, np.concatenate(truth) * 1000.0


def evaluate(model, loader, placement) -> dict[str, float]:
    pred, gt = predict(model, loader, placement)
    parts = _dist.gather_objects((pred, gt))  # data-parallel workers each predicted a shard
    pred, gt = np.concatenate([p for p, _ in parts]), np.concatenate([g for _, g in parts])
    return {f"val/{k}": v for k, v in evaluate3d(pred, gt).items()}


def _mean_pose(ds: Pose3DDataset) -> torch.Tensor:
    """The training set's mean root-relative pose (m): where the head's refinement starts."""
    joints = np.stack([(p.joints_cam - p.joints_cam[0]) / 1000.0 for p in ds.people if p.has3d.all()])
    if not len(joints):  # a 2-D-only training set: start from zeros
        return torch.zeros(17, 3)
    return torch.tensor(joints.mean(axis=0), dtype=torch.float32)


def _lr(cfg: Config, epoch_float: float) -> float:
    if cfg.optim.schedule == "constant":
        return cfg.optim.lr
    return cfg.optim.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, epoch_float / cfg.train.epochs)))


def _epoch(cfg: Config, step: TrainStep, loader, epoch: int, progress) -> dict[str, float]:
    step.model.train()
    meter, device = step.meter, step.placement.device
    meter.reset()
    n, totals, lr = len(loader), torch.zeros(3, device=device), 0.0
    batches = iter(loader)
    for i in range(n):
        batch = meter.next_batch(batches, lambda b: {k: v.to(device, non_blocking=True) for k, v in b.items()})
        lr = _lr(cfg, epoch - 1 + i / max(n, 1))
        for group in step.optimizer.param_groups:
            group["lr"] = lr
        losses = step(batch["image"], lambda out: _loss(cfg, out, batch))
        totals += torch.stack(losses)
        if progress is not None:
            progress(i + 1, n, epoch=epoch, epochs=cfg.train.epochs, loss=losses[0], images_per_s=meter.rate())
        if ((i + 1) % cfg.train.log_every == 0 or i + 1 == n) and _dist.is_main():
            print(meter.line(f"Epoch: [{epoch}][{i + 1}/{n}]", losses[0].item(), lr), flush=True)
    mean = (totals / max(n, 1)).tolist()
    # with several workers: the group's losses and images/s (every rank gets the same figures)
    stats = _dist.reduce_epoch_stats({"train/loss": mean[0], "train/loss3d": mean[1], "train/loss2d": mean[2],
                                      "train/lr": lr, **meter.stats(device)}, n)
    stats["train/loss"] = stats["train/loss"] if math.isfinite(stats["train/loss"]) else float("nan")
    return stats


def train(cfg: Config, report: Report) -> dict[str, float]:
    cfg = _dist.scale_lr(cfg)
    seed_everything(cfg.seed, cfg.train.deterministic)
    val_ds = build_data(cfg, "val")
    train_ds = build_data(cfg, "train") if cfg.mode == "train" else None
    mean = _mean_pose(train_ds) if train_ds is not None else None
    model, placement = place(build_model(cfg.model, cfg.loss.w2d > 0, mean), cfg.train)
    val_loader = _loader(val_ds, cfg, placement.device, False, cfg.seed)
    params = float(count_params(model))
    if cfg.mode == "eval":
        state = load_for_eval(cfg.checkpoint, model, placement.device)
        metrics = {**evaluate(model, val_loader, placement), "model/params": params}
        report(metrics, int(state.get("epoch", 0)))
        return metrics
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    ckpts = prepare_training(cfg, model, optimizer, placement, _NOT_FINGERPRINTED, "epoch")
    step = TrainStep(_dist.wrap(model, placement.device, cfg.model.sync_bn), optimizer, ckpts.scaler, placement,
                     StepMeter())
    metrics: dict[str, float] = {}
    for epoch in range(ckpts.start + 1, cfg.train.epochs + 1):
        train_ds.set_epoch(cfg.seed, epoch)
        loader = _loader(train_ds, cfg, placement.device, True, cfg.seed * 100_003 + epoch, epoch)
        stats = _epoch(cfg, step, loader, epoch, progress_of(report))
        ckpts.save(epoch)
        if epoch % cfg.train.eval_every and epoch != cfg.train.epochs:
            continue
        metrics = {**stats, **evaluate(model, val_loader, placement), "model/params": params}
        report(metrics, epoch)
    if ckpts.finished:  # its checkpoint says the run ended: its evaluation is the result, again
        metrics = {**evaluate(model, val_loader, placement), "model/params": params}
        report(metrics, ckpts.start)
    ckpts.finish(cfg.train.epochs)
    return metrics
