"""What every torch trainer needs the same way: seeding, device and AMP choice, the training
step (autocast, channels_last, grad scaler) with its throughput and data-wait accounting and
progress line, atomic checkpoints with a config fingerprint that decides whether one may be
resumed, and the data-wait warning."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

__all__ = ["seed_everything", "loader_seeding", "epoch_loader", "pick_device", "autocast_for", "save_atomic", "resume_from",
           "load_for_eval", "fingerprint", "Placement", "place",
           "Checkpoints", "prepare_training", "StepMeter", "TrainStep"]



def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed every source of randomness a trial has: python's and numpy's global generators, torch on
    the CPU and every CUDA device. Loader workers get theirs from :func:`loader_seeding`.

    ``deterministic`` also turns on torch's deterministic algorithms (and cuDNN's, with its
    autotuner off): bit-identical reruns on a GPU at some cost in speed (often 10-30% for
    convolutions); an operation without a deterministic version then raises, naming itself."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device, lazily
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it, before its first call
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic and torch.backends.cudnn.benchmark


def _seed_worker(worker_id: int) -> None:
    """A DataLoader worker's python and numpy generators, from the seed torch gave the worker
    (the loader's generator's base seed + worker id), so no two workers or epochs repeat a stream."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def loader_seeding(seed: int) -> dict[str, Any]:
    """``DataLoader(**loader_seeding(seed))``: the shuffle order and each worker's generators follow
    ``seed`` and nothing else (not the global torch state, not the worker count's timing)."""
    g = torch.Generator()
    g.manual_seed(seed)
    return {"generator": g, "worker_init_fn": _seed_worker}


def epoch_loader(ds, cfg, device: torch.device, shuffle: bool, seed: int, epoch: int = 0):
    """The batches of an epoch-based trainer (``train.batch_size``, ``data.workers``): training
    (``shuffle``) or validation; with several data-parallel workers, this rank's share of either."""
    from trainers import _dist

    rank, world = _dist.world()
    sampler = _dist.train_sampler(ds, cfg.seed, epoch) if shuffle else _dist.eval_sampler(ds)
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.train.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        drop_last=shuffle and len(ds) >= cfg.train.batch_size * world, num_workers=cfg.data.workers,
        pin_memory=device.type == "cuda", persistent_workers=False,
        prefetch_factor=4 if cfg.data.workers else None, **loader_seeding(seed + 7919 * rank))


def pick_device(choice: str) -> torch.device:
    """``auto`` picks CUDA when torch sees it; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("train.device: cuda was asked for but torch sees no CUDA device")
        from trainers._dist import local_device_index, world

        if world()[1] == 1:
            return torch.device("cuda")
        torch.cuda.set_device(local_device_index())  # one GPU per data-parallel worker
        return torch.device("cuda", local_device_index())
    return torch.device("cpu")


def autocast_for(device: torch.device, amp: str):
    """A zero-argument context factory: bf16/fp16 autocast on CUDA, nothing elsewhere."""
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dtype)


def save_atomic(path: Path, state: dict) -> None:
    """A killed trial leaves the previous checkpoint or the new one, never half of one. A disk
    that fills on the way is an ``OSError(ENOSPC)`` naming the file (torch's writer says only
    ``unexpected pos``), and the half-written file goes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    failed = ""
    try:
        torch.save(state, tmp)
    except RuntimeError as exc:
        failed = str(exc)  # out of the except block, its frames (and torch's open writer) go
    if failed:
        tmp.unlink(missing_ok=True)
        need, free = _nbytes(state), _free_bytes(tmp.parent)
        if free is not None and free < need:
            raise OSError(errno.ENOSPC, f"the checkpoint takes about {need / 1e6:.1f} MB", str(tmp)) \
                from RuntimeError(failed)
        raise RuntimeError(failed)
    os.replace(tmp, path)


def _nbytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 0


def _free_bytes(folder: Path) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def resume_from(ckpt: Path | None, enabled: bool, fp: str, device, model, optimizer, scaler) -> dict | None:
    """A checkpoint's state when it exists, resuming is on and this config wrote it (its model,
    optimizer and scaler states are then loaded); None means training from scratch."""
    if not (ckpt and enabled and ckpt.is_file()):
        return None
    state = torch.load(ckpt, map_location=device, weights_only=True)
    if state.get("fingerprint") != fp:
        print(f"{ckpt} belongs to another config; training from scratch", flush=True)
        return None
    model.load_state_dict(state["model"])
    if "optimizer" in state:  # a finished run's checkpoint keeps its weights only: nothing is left to train
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
    return state


def load_for_eval(path: str, model, device) -> dict:
    """``mode: eval``: load the weights of a checkpoint a training run wrote (or a bare state_dict)."""
    if not path or not Path(path).is_file():
        where = "" if not path or os.path.isabs(path) else f" (relative to {os.getcwd()})"
        raise FileNotFoundError(f"checkpoint: {path!r} is not a file{where}; mode: eval needs the checkpoint.pt "
                                "a training run wrote: run that training first, or point checkpoint at it")
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state.get("model", state))
    return state


def fingerprint(cfg, not_fingerprinted: set[tuple[str, str]]) -> str:
    """A hash of everything in a grouped config that changes what is trained."""
    tree = dataclasses.asdict(cfg)
    unkeyed = {(g.name, f.name) for g in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, g.name))
               for f in dataclasses.fields(getattr(cfg, g.name))
               if f.metadata.get("unkeyed_default") and getattr(getattr(cfg, g.name), f.name) == f.default}
    # keeping the optimizer's state, or compiling, changes what is kept or how fast, not what is trained
    skipped = not_fingerprinted | unkeyed | {("train", "keep_optimizer"), ("train", "compile")}
    flat = {f"{g}.{k}": v for g, group in tree.items() if isinstance(group, dict)
            for k, v in group.items() if (g, k) not in skipped}
    flat.update({k: v for k, v in tree.items() if not isinstance(v, dict)})
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def as_input(x: torch.Tensor) -> torch.Tensor:
    """A uint8 image batch, as a loader sends it (a quarter of the bytes to copy and pin), as the
    float input a backbone expects: /255 and ImageNet's mean and std, on the batch's device. A
    float batch passes as it is."""
    if x.dtype != torch.uint8:
        return x
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * 255
    return (x.float() - mean) / std


@dataclass(frozen=True)
class Placement:
    """Where and how a model runs: the device, its autocast factory, channels_last or not."""

    device: torch.device
    autocast: Callable[[], Any]
    channels_last: bool
    compile: bool | str = False  # train.compile: the training step's forward through torch.compile

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        x = as_input(x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def place(model, train_cfg) -> tuple[Any, Placement]:
    """Move ``model`` to ``train.device`` (channels_last on CUDA when ``train.channels_last``) and
    pick ``train.amp``'s autocast; returns the placed model and how to feed it."""
    device = pick_device(train_cfg.device)
    model = model.to(device)
    channels_last = device.type == "cuda" and train_cfg.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, Placement(device, autocast_for(device, train_cfg.amp), channels_last,
                            getattr(train_cfg, "compile", False))


@dataclass
class Checkpoints:
    """``train.out_dir/checkpoint.pt``: where a training run resumes (``start``, in epochs or
    iterations as ``unit`` says) and how it saves."""

    path: Path | None
    fingerprint: str
    unit: str  # "epoch" | "iter": the key the position is saved under
    start: int
    model: Any
    optimizer: Any
    scaler: Any
    keep_optimizer: bool = False  # train.keep_optimizer: a finished run's checkpoint keeps it too
    finished: bool = False  # the checkpoint resumed is a finished run's: train nothing, evaluate once

    def save(self, position: int) -> None:
        from trainers._dist import is_main

        if self.path and is_main():  # data-parallel ranks hold the same weights: rank 0 writes
            save_atomic(self.path, {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                                    "scaler": self.scaler.state_dict(), self.unit: position,
                                    "fingerprint": self.fingerprint})

    def finish(self, position: int) -> None:
        """The run is over: keep the weights (and where it stopped), not the optimizer's and the
        grad scaler's state, which only a resume needs, unless ``train.keep_optimizer``."""
        from trainers._dist import is_main

        if self.path and is_main() and not self.keep_optimizer and self.path.is_file():
            save_atomic(self.path, {"model": self.model.state_dict(), self.unit: position,
                                    "fingerprint": self.fingerprint, "finished": True})


def prepare_training(cfg, model, optimizer, placement: Placement, not_fingerprinted: set[tuple[str, str]],
                     unit: str) -> Checkpoints:
    """The grad scaler (fp16 on CUDA only) and the checkpoint to resume, loaded into ``model``,
    ``optimizer`` and the scaler when it exists, ``train.resume`` is on and this config wrote it."""
    device = placement.device
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.amp == "fp16")
    path = Path(cfg.train.out_dir) / "checkpoint.pt" if cfg.train.out_dir else None
    fp = fingerprint(cfg, not_fingerprinted)
    state = resume_from(path, cfg.train.resume, fp, device, model, optimizer, scaler)
    start = int(state[unit]) if state else 0
    if state:
        print(f"resumed from {path} at {'iteration' if unit == 'iter' else unit} {start}"
              f"{' (the run had finished: evaluating it)' if state.get('finished') else ''}", flush=True)
    return Checkpoints(path, fp, unit, start, model, optimizer, scaler, cfg.train.keep_optimizer,
                       bool(state and state.get("finished")))


class StepMeter:
    """Wall time, time spent waiting for batches and images trained since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.start = self.last = time.perf_counter()
        self.wait = 0.0
        self.images = 0
        self.steps = 0
        self.compile_s = 0.0  # the first compiled step's time, reported once as time/compile_s

    def next_batch(self, batches: Iterator, to_device: Callable[[Any], Any]) -> Any:
        """The next batch, already on the device; the time it took counts as data wait."""
        t0 = time.perf_counter()
        batch = to_device(next(batches))
        self.wait += time.perf_counter() - t0
        self.steps += 1
        return batch

    def rate(self) -> float:
        """Images a second since the last reset."""
        return self.images / max(time.perf_counter() - self.start, 1e-9)

    def stats(self, device: torch.device) -> dict[str, float]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - self.start
        out = {"time/epoch_s": elapsed, "time/images_per_s": self.images / elapsed if elapsed else 0.0,
               "time/data_wait": self.wait / elapsed if elapsed else 0.0, "time/steps": float(self.steps)}
        if self.compile_s:
            out["time/compile_s"] = self.compile_s
        if device.type == "cuda":  # orch keeps the largest as the trial's compute/peak_gpu_memory_gb
            out["time/peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        return out

    def line(self, head: str, loss: float, lr: float, digits: int = 5) -> str:
        """The progress line: ``Epoch: [3][50/200]  loss 0.00123  lr 1.00e-03  48.1 img/s  data 2%``."""
        now = time.perf_counter()
        span = max(now - self.start, 1e-9)
        text = (f"{head}  loss {loss:.{digits}f}  lr {lr:.2e}  {self.images / span:.1f} img/s  "
                f"data {100 * self.wait / span:.0f}%  ({now - self.last:.1f}s)")
        self.last = now
        return text


class TrainStep:
    """One optimisation step: the forward pass under autocast, the loss in fp32 from
    ``loss_of(output)`` (a tensor, or a tuple whose first element is the total), a scaled backward
    and the optimizer step. Returns what ``loss_of`` returned, detached."""

    def __init__(self, model, optimizer, scaler, placement: Placement, meter: StepMeter):
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.placement, self.meter = placement, meter
        mode = placement.compile
        # the compiled forward shares the model's parameters; state_dict, train() and eval stay the model's
        self.forward = model if not mode else torch.compile(model, mode=None if mode in (True, "default") else mode)
        self.compiling = bool(mode)

    def __call__(self, x: torch.Tensor, loss_of: Callable[[Any], Any]) -> Any:
        if self.compiling:  # the first step compiles: timed apart, left out of the step figures
            self.compiling = False
            t0 = time.perf_counter()
            losses = self(x, loss_of)
            if self.placement.device.type == "cuda":
                torch.cuda.synchronize()
            took = time.perf_counter() - t0
            self.meter.compile_s += took
            self.meter.start += took
            self.meter.images -= x.shape[0]
            return losses
        x = self.placement.batch(x)
        with self.placement.autocast():
            out = self.forward(x)
        losses = loss_of(out)
        total = losses[0] if isinstance(losses, tuple) else losses
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.meter.images += x.shape[0]
        return tuple(t.detach() for t in losses) if isinstance(losses, tuple) else losses.detach()
