"""Config fields every torch trainer has, declared once (no torch here: schemas import it).

A trainer's ``Train`` group subclasses :class:`TorchTrain` and its top-level ``Config``
subclasses :class:`TorchConfig`; the fields read by ``trainers._torch`` (device, AMP,
channels_last, resume, the seed, eval mode) then mean the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.trainer import param

__all__ = ["TorchConfig", "TorchTrain"]


@dataclass
class TorchTrain:
    device: str = param("auto", choices=("auto", "cpu", "cuda"), help="auto picks CUDA when present")
    amp: str = param("bf16", choices=("off", "bf16", "fp16"), help="mixed precision on CUDA")
    channels_last: bool = param(True, help="channels_last memory format on CUDA")
    resume: bool = param(True, help="continue from out_dir's checkpoint when it matches this config")


@dataclass
class TorchConfig:
    mode: str = param("train", choices=("train", "eval"), help="eval: evaluate `checkpoint` only")
    checkpoint: str = param("", help="model checkpoint for mode: eval (a file train wrote)")
    seed: int = param(0, help="set by the sweep's seeds")
