"""The pose training loop: ``train(config, report)``; no Ray, no MLflow."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import torch

from orchestrator.trainer import Report, progress_of
from trainers import _dist
from trainers._torch import (StepMeter, TrainStep, epoch_loader, load_for_eval, place,
                             prepare_training, seed_everything)
from trainers.pose.config import Config, Eval
from trainers.pose.data import PoseDataset, flip_pairs, load_coco, load_mpii
from trainers.pose.evaluate import evaluate
from trainers.pose.loop import run
from trainers.pose.loss import make_loss
from trainers.pose.model import build_model, count_params
from trainers.pose.synth import synthetic_dataset

__all__ = ["train", "build_data", "lr_at"]

# Settings that do not change what is trained; a checkpoint resumes across them.
_NOT_FINGERPRINTED = {("train", "out_dir"), ("train", "resume"), ("train", "log_every"),
                      ("data", "workers"), ("train", "eval_every"), ("train", "deterministic"),
                      ("data", "boxes"), ("data", "det_score"), ("data", "det_max"),
                      *(("eval", f.name) for f in dataclasses.fields(Eval))}


def _paths(cfg: Config) -> tuple[str, dict]:
    d = cfg.data
    if d.root == "synthetic":
        root, files = synthetic_dataset(d.dataset, d.synth_train, d.synth_val)
        return str(root), files
    if not Path(d.root).is_dir():
        raise FileNotFoundError(f"data.root: {d.root} is not a folder (cwd {os.getcwd()}); point it "
                                "at the dataset, or use 'synthetic'")
    return d.root, {"train": d.train, "val": d.val, "images": d.images}


def build_data(cfg: Config, split: str):
    """(dataset, path of the annotation file it came from)."""
    root, files = _paths(cfg)
    d = cfg.data
    images = (d.val_images or files["images"]) if split == "val" else files["images"]
    annot = files[split]
    limit = d.max_train if split == "train" else d.max_val
    if d.dataset == "mpii":
        people = load_mpii(root, annot, images, d.headboxes if split == "val" else "", limit)
        gt_path = str(Path(root) / annot)
    else:
        h, w = d.input_size
        people, gt_path = load_coco(root, annot, images, d.boxes if split == "val" else "gt",
                                    d.det_score, w / h, limit, train=split == "train", det_max=d.det_max)
    train = split == "train"
    stride = 32 // 2 ** len(cfg.model.deconv)
    ds = PoseDataset(people, d.input_size, d.sigma, train, flip_pairs(d.dataset),
                     d.scale_factor, d.rotation, d.flip and train, d.half_body if train else 0.0, stride)
    return ds, gt_path


def lr_at(cfg: Config, epoch_float: float) -> float:
    """Learning rate at a fractional epoch: linear warmup from 0.1 x lr, then step or cosine."""
    o = cfg.optim
    if o.warmup_epochs and epoch_float < o.warmup_epochs:
        return o.lr * (0.1 + 0.9 * epoch_float / o.warmup_epochs)
    if o.schedule == "cosine":
        span = max(cfg.train.epochs - o.warmup_epochs, 1e-9)
        return o.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (epoch_float - o.warmup_epochs) / span)))
    return o.lr * o.factor ** sum(epoch_float >= s for s in o.steps)


_loader = epoch_loader  # training or validation batches (this rank's share of them)


def _optimizer(cfg: Config, model):
    o = cfg.optim
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)


def train(cfg: Config, report: Report) -> dict[str, float]:
    cfg = _dist.scale_lr(cfg)
    seed_everything(cfg.seed, cfg.train.deterministic)
    joints = 16 if cfg.data.dataset == "mpii" else 17
    model, placement = place(build_model(cfg.model.backbone, joints, list(cfg.model.deconv),
                                         cfg.model.deconv_kernel, cfg.model.pretrained), cfg.train)
    device, autocast = placement.device, placement.autocast
    val_ds, gt_path = build_data(cfg, "val")
    val_loader = _loader(val_ds, cfg, device, False, cfg.seed)
    params = float(count_params(model))
    if cfg.mode == "eval":
        state = load_for_eval(cfg.checkpoint, model, device)
        metrics = {**evaluate(model, val_loader, device, autocast, cfg, val_ds, gt_path), "model/params": params}
        report(metrics, int(state.get("epoch", 0)))
        return metrics
    train_ds, _ = build_data(cfg, "train")
    optimizer = _optimizer(cfg, model)
    ckpts = prepare_training(cfg, model, optimizer, placement, _NOT_FINGERPRINTED, "epoch")
    step = TrainStep(_dist.wrap(model, device, cfg.model.sync_bn), optimizer, ckpts.scaler, placement, StepMeter())
    loss_fn = make_loss(cfg.loss)
    metrics: dict[str, float] = {}
    for epoch in range(ckpts.start + 1, cfg.train.epochs + 1):
        train_ds.set_epoch(cfg.seed, epoch)
        loader = _loader(train_ds, cfg, device, True, cfg.seed * 100_003 + epoch, epoch)
        stats = run(cfg, step, loader, loss_fn, epoch, lambda f: lr_at(cfg, f), progress_of(report))
        ckpts.save(epoch)
        if epoch % cfg.train.eval_every and epoch != cfg.train.epochs:
            continue
        metrics = {**stats, **evaluate(model, val_loader, device, autocast, cfg, val_ds, gt_path),
                   "model/params": params}
        report(metrics, epoch)
    if ckpts.finished:  # its checkpoint says the run ended: its evaluation is the result, again
        metrics = {**evaluate(model, val_loader, device, autocast, cfg, val_ds, gt_path), "model/params": params}
        report(metrics, ckpts.start)
    ckpts.finish(cfg.train.epochs)
    return metrics
