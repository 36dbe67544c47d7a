"""The segmentation training loop: ``train(config, report)``, iteration-based, evaluating every
``train.eval_every`` iterations; no Ray, no MLflow."""

from __future__ import annotations

import math

import torch

from orchestrator.trainer import Report, progress_of
from trainers import _dist
from trainers._torch import (Checkpoints, Placement, StepMeter, TrainStep, load_for_eval, loader_seeding, place,
                             prepare_training, seed_everything)
from trainers.seg.config import Config
from trainers.seg.data import SegDataset, dataset_root
from trainers.seg.evaluate import evaluate
from trainers.seg.loss import make_loss
from trainers.seg.model import backbone_parameters, build_model, count_params

__all__ = ["train", "lr_at", "build_optimizer", "EpochSampler"]

# Settings that do not change what is trained; a checkpoint resumes across them.
_NOT_FINGERPRINTED = {("train", "out_dir"), ("train", "resume"), ("train", "log_every"), ("data", "workers"),
                      ("train", "eval_every"), ("train", "deterministic"), ("eval", "modes"), ("eval", "final_modes"), ("eval", "scales"),
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
    augmentation from the position, so a resumed run sees exactly what the uninterrupted one would.
    Data-parallel rank ``rank`` of ``world`` takes every world-th item: together the ranks' step
    is the one-worker step of world x the batch, on any number of workers."""

    def __init__(self, n: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.n, self.seed, self.start = n, seed, start
        self.rank, self.world = rank, world

    def __iter__(self):
        epoch, offset = divmod(self.start, self.n)
        position = self.start
        while True:
            g = torch.Generator()
            g.manual_seed(self.seed * 1_000_003 + epoch)
            for index in torch.randperm(self.n, generator=g)[offset:].tolist():
                if (position - self.start) % self.world == self.rank:
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
                                             collate_fn=_collate_list, pin_memory=pin, sampler=_dist.eval_sampler(val))
    if cfg.mode == "eval":
        return None, val_loader
    ds = SegDataset(root, d.train_split, d, True, d.max_train)
    rank, world = _dist.world()
    sampler = EpochSampler(len(ds), cfg.seed, start_iter * cfg.train.batch_size * world, rank, world)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.train.batch_size, sampler=sampler,
                                         num_workers=d.workers, pin_memory=pin,
                                         prefetch_factor=4 if d.workers else None,
                                         **loader_seeding(cfg.seed + 7919 * rank))
    return loader, val_loader


def _modes(cfg: Config, last: bool) -> list[str]:
    """eval.modes, plus eval.final_modes at the last checkpoint; each once, in order."""
    return list(dict.fromkeys([*cfg.eval.modes, *(cfg.eval.final_modes if last else [])]))


def _eval_only(cfg: Config, model, val_loader, placement: Placement, report: Report) -> dict[str, float]:
    state = load_for_eval(cfg.checkpoint, model, placement.device)
    metrics = {**evaluate(model, val_loader, placement.device, placement.autocast, cfg, _modes(cfg, last=True)),
               "model/params": float(count_params(model))}
    report(metrics, int(state.get("iter", 0)))
    return metrics


def _checkpoint_metrics(cfg: Config, step: TrainStep, val_loader, done: int, stats: dict[str, float],
                        losses: list[float], steps: int, lr: float, params: float) -> dict[str, float]:
    """What an evaluation reports: training figures since the last one, then mIoU per mode."""
    device = step.placement.device
    # with several workers: the group's losses and images/s (every rank gets the same figures)
    stats = _dist.reduce_epoch_stats({"train/loss": losses[0], "train/loss_main": losses[1], **stats}, steps)
    mean_loss, mean_main = stats["train/loss"], stats["train/loss_main"]
    metrics = {"train/loss": mean_loss if math.isfinite(mean_loss) else float("nan"),
               "train/loss_main": mean_main, "train/lr": lr, "time/images_per_s": stats["time/images_per_s"],
               "time/data_wait": stats["time/data_wait"], "model/params": params,
               **{k: v for k, v in stats.items() if k == "time/peak_memory_gb"},
               **evaluate(_dist.unwrap(step.model), val_loader, device, step.placement.autocast, cfg,
                          _modes(cfg, done == cfg.train.max_iter))}
    return metrics


def _iterations(cfg: Config, step: TrainStep, ckpts: Checkpoints, loader, val_loader,
                report: Report) -> dict[str, float]:
    """Train from ``ckpts.start`` to ``train.max_iter``, evaluating and checkpointing every
    ``train.eval_every`` iterations and at the end."""
    t, device = cfg.train, step.placement.device
    loss_fn = make_loss(cfg.loss, cfg.model.aux_weight)
    params = float(count_params(_dist.unwrap(step.model)))
    metrics: dict[str, float] = {"model/params": params}
    total, steps, lr = torch.zeros(2, device=device), 0, 0.0
    batches = iter(loader)
    progress = progress_of(report)
    step.model.train()
    step.meter.reset()
    for it in range(ckpts.start, t.max_iter):
        x, y = step.meter.next_batch(batches, lambda b: (b["image"].to(device, non_blocking=True),
                                                         b["label"].to(device, non_blocking=True)))
        lr = lr_at(cfg, it)
        for group in step.optimizer.param_groups:
            group["lr"] = lr * group["lr_factor"]
        loss, main = step(x, lambda out: loss_fn(out, y))
        total += torch.stack([loss, main])
        steps, done = steps + 1, it + 1
        progress(done, t.max_iter, loss=loss, images_per_s=step.meter.rate())
        if (done % t.log_every == 0 or done == t.max_iter) and _dist.is_main():
            print(step.meter.line(f"Iter: [{done}/{t.max_iter}]", loss.item(), lr, digits=4), flush=True)
        if done % t.eval_every and done != t.max_iter:
            continue
        stats = step.meter.stats(device)  # before the checkpoint and evaluation, as the step's own time
        ckpts.save(done)
        metrics = _checkpoint_metrics(cfg, step, val_loader, done, stats, (total / steps).tolist(), steps, lr, params)
        report(metrics, done)
        total.zero_()
        steps = 0
        step.meter.reset()
    return metrics


def train(cfg: Config, report: Report) -> dict[str, float]:
    cfg = _dist.scale_lr(cfg)
    seed_everything(cfg.seed, cfg.train.deterministic)
    model, placement = place(build_model(cfg), cfg.train)
    if cfg.mode == "eval":
        return _eval_only(cfg, model, _loaders(cfg, placement.device, 0)[1], placement, report)
    optimizer = build_optimizer(cfg, model)
    ckpts = prepare_training(cfg, model, optimizer, placement, _NOT_FINGERPRINTED, "iter")
    loader, val_loader = _loaders(cfg, placement.device, ckpts.start)
    step = TrainStep(_dist.wrap(model, placement.device, cfg.model.sync_bn), optimizer, ckpts.scaler, placement,
                     StepMeter())
    if ckpts.finished:  # its checkpoint says the run ended: its evaluation is the result, again
        metrics = {**evaluate(model, val_loader, placement.device, placement.autocast, cfg, _modes(cfg, last=True)),
                   "model/params": float(count_params(model))}
        report(metrics, ckpts.start)
        return metrics
    metrics = _iterations(cfg, step, ckpts, loader, val_loader, report)
    ckpts.finish(cfg.train.max_iter)
    return metrics
