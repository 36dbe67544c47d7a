"""Data-parallel training in plain torch.distributed: what a trainer's loop needs to run the same
on one device and on N workers, whoever started the process group (Ray Train inside an orch
trial, ``torchrun``, a test's spawned processes). No Ray, no MLflow.

Without a process group every function here is the one-device behaviour, so a trainer calls them
unconditionally. With one: ``train.batch_size`` is per worker, the training set is split by a
:class:`DistributedSampler` reseeded every epoch, the model is wrapped once in DDP (its
gradients averaged), the validation set is split without padding so every sample is evaluated
exactly once and the pieces gathered, and only rank 0 saves checkpoints or reports.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Iterable

import torch
import torch.distributed as dist

__all__ = ["world", "is_main", "local_device_index", "wrap", "unwrap", "train_sampler", "eval_sampler",
           "gather_objects", "all_sum", "sum_tensor", "reduce_epoch_stats", "agree", "lr_factor", "scale_lr"]


def world() -> tuple[int, int]:
    """(rank, world size): (0, 1) when no process group is set up."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def _active() -> bool:
    return world()[1] > 1


def local_device_index() -> int:
    """The CUDA device of this worker: its local rank where the launcher set one (torchrun sees
    every GPU of the node), modulo what this process sees (Ray Train may show it one GPU only)."""
    count = torch.cuda.device_count()
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    return local % count if count else 0


def lr_factor(how: str, size: int) -> float:
    """What ``optim.lr_scale`` multiplies the file's lr by on ``size`` workers."""
    return {"none": 1.0, "linear": float(size), "sqrt": math.sqrt(size)}[how]


def scale_lr(cfg):
    """``cfg`` with ``optim.lr`` scaled for this process group's size by ``optim.lr_scale``
    (the config itself when nothing changes), said once on rank 0."""
    factor = lr_factor(cfg.optim.lr_scale, world()[1])
    if factor == 1.0:
        return cfg
    lr = cfg.optim.lr * factor
    if is_main():
        print(f"optim.lr_scale {cfg.optim.lr_scale}: lr {cfg.optim.lr:g} x {factor:g} = {lr:g} on "
              f"{world()[1]} workers", flush=True)
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=lr))


def wrap(model: torch.nn.Module, device: torch.device, sync_bn: bool = False) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when several workers train (with its BatchNorms made
    SyncBatchNorm when ``sync_bn``), else ``model`` itself. Call it once, after the checkpoint was
    loaded: DDP's construction copies rank 0's weights to every rank."""
    if not _active():
        return model
    if sync_bn:
        if device.type != "cuda":
            raise RuntimeError("model.sync_bn: torch's SyncBatchNorm runs on CUDA devices only; on CPU "
                               "workers set model.sync_bn: false (each worker then normalises its own batch)")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index if device.index is not None else local_device_index()] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (what checkpoints hold: the same keys on any world size)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def train_sampler(dataset, seed: int, epoch: int, drop_last: bool = True):
    """This rank's share of the training set for ``epoch`` (a DistributedSampler, every rank the
    same permutation of ``seed`` and ``epoch``, then every world-size-th item), or None on one
    device, where the loader's own shuffle stays as it always was."""
    if not _active():
        return None
    rank, size = world()
    sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=size, rank=rank, shuffle=True,
                                                  seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    return sampler


class _Shard(torch.utils.data.Sampler):
    """Every world-size-th index from this rank's: no padding, so each sample is seen once."""

    def __init__(self, n: int, rank: int, size: int):
        self.indices = list(range(rank, n, size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def eval_sampler(dataset):
    """This rank's part of the validation set (None on one device: all of it, in order)."""
    if not _active():
        return None
    rank, size = world()
    return _Shard(len(dataset), rank, size)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` on one device)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * world()[1]
    dist.all_gather_object(out, obj)
    return out


def _tensor_device() -> torch.device:
    # NCCL reduces CUDA tensors only; gloo takes CPU ones
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(values: Iterable[float]) -> list[float]:
    """The element-wise sum of ``values`` over ranks (the values themselves on one device)."""
    values = [float(v) for v in values]
    if not _active():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=_tensor_device())
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def sum_tensor(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over ranks (e.g. confusion matrices), on the device it lives on."""
    if not _active():
        return t
    if dist.get_backend() != "nccl" and t.device.type != "cpu":
        out = t.cpu()
        dist.all_reduce(out)
        return out.to(t.device)
    t = t.clone()
    dist.all_reduce(t)
    return t


def reduce_epoch_stats(stats: dict[str, float], batches: int) -> dict[str, float]:
    """One epoch's figures for the whole group: ``train/*`` losses averaged over every batch of
    every rank (``batches`` is this rank's count), images/s summed (the group's throughput), the
    epoch time and data-wait share averaged, peak memory the largest. Identical on every rank,
    which the stop decisions rely on."""
    if not _active():
        return stats
    size = world()[1]
    keys = sorted(stats)
    weighted = [stats[k] * batches if k.startswith("train/") and k != "train/lr" else stats[k] for k in keys]
    sums = all_sum([*weighted, batches])
    total = max(sums[-1], 1.0)
    out = {}
    for k, s in zip(keys, sums):
        if k.startswith("train/") and k != "train/lr":
            out[k] = s / total
        elif k == "time/images_per_s":
            out[k] = s
        elif k == "time/peak_memory_gb":
            out[k] = max(gather_objects(stats[k]))
        else:
            out[k] = s / size
    return out


def agree(code: int) -> int:
    """The largest ``code`` any rank holds: one rank's decision to stop becomes everyone's, so no
    rank is left waiting in a collective the others never enter."""
    if not _active():
        return code
    t = torch.tensor([int(code)], dtype=torch.int64, device=_tensor_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())
