"""What every torch trainer needs the same way: seeding, device and AMP choice, atomic
checkpoints, a config fingerprint that decides whether a checkpoint may be resumed, and the
data-wait warning."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

__all__ = ["seed_everything", "pick_device", "autocast_for", "save_atomic", "resume_from",
           "load_for_eval", "fingerprint", "warn_if_data_bound", "WAIT_WARNING"]

WAIT_WARNING = 0.3  # data-wait fraction above which the loader is called the bottleneck
_warned = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(choice: str) -> torch.device:
    """``auto`` picks CUDA when torch sees it; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("train.device: cuda was asked for but torch sees no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def autocast_for(device: torch.device, amp: str):
    """A zero-argument context factory: bf16/fp16 autocast on CUDA, nothing elsewhere."""
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dtype)


def save_atomic(path: Path, state: dict) -> None:
    """A killed trial leaves the previous checkpoint or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


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
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    return state


def load_for_eval(path: str, model, device) -> dict:
    """``mode: eval``: load the weights of a checkpoint a training run wrote (or a bare state_dict)."""
    if not path or not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint: {path!r} is not a file; mode: eval needs the checkpoint.pt "
                                "a training run wrote")
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state.get("model", state))
    return state


def fingerprint(cfg, not_fingerprinted: set[tuple[str, str]]) -> str:
    """A hash of everything in a grouped config that changes what is trained."""
    tree = dataclasses.asdict(cfg)
    flat = {f"{g}.{k}": v for g, group in tree.items() if isinstance(group, dict)
            for k, v in group.items() if (g, k) not in not_fingerprinted}
    flat.update({k: v for k, v in tree.items() if not isinstance(v, dict)})
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


def warn_if_data_bound(data_wait: float, workers: int, hint: str) -> None:
    """Say once per process when training waits on the loader, and what to change."""
    global _warned
    if data_wait > WAIT_WARNING and not _warned:
        _warned = True
        print(f"warning: data loading is the bottleneck: {100 * data_wait:.0f}% of step time is spent "
              f"waiting for batches with data.workers={workers}; raise data.workers or {hint}",
              file=sys.stderr, flush=True)
