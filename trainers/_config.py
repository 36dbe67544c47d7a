"""Config fields every torch trainer has, declared once (no torch here: schemas import it).

A trainer's ``Train`` group subclasses :class:`TorchTrain` and its top-level ``Config``
subclasses :class:`TorchConfig`; the fields read by ``trainers._torch`` (device, AMP,
channels_last, resume, the seed, eval mode) then mean the same everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from orchestrator.trainer import param

__all__ = ["TorchConfig", "TorchTrain", "EpochTrain", "torch_config", "sync_bn_param", "lr_scale_param"]


def sync_bn_param():
    """``model.sync_bn`` of every trainer that trains data-parallel (added after trials were run:
    it stays out of their keys at its default)."""
    return param(False, help="data-parallel trials: BatchNorm statistics over every worker's batch "
                 "(SyncBatchNorm, CUDA only); off, each worker normalises its own", unkeyed_default=True)


def lr_scale_param():
    """``optim.lr_scale`` of every data-parallel trainer: the file's lr is the one-worker lr, scaled
    by the world size (linear: Goyal et al.'s rule; sqrt) or not (none: what the file says runs)."""
    return param("none", choices=("none", "linear", "sqrt"), help="data-parallel trials: scale "
                 "optim.lr by the number of workers (linear: x N, sqrt: x sqrt(N)); none: as written",
                 unkeyed_default=True)


@dataclass
class TorchTrain:
    device: str = param("auto", choices=("auto", "cpu", "cuda"), help="auto picks CUDA when present")
    amp: str = param("bf16", choices=("off", "bf16", "fp16"), help="mixed precision on CUDA")
    channels_last: bool = param(True, help="channels_last memory format on CUDA")
    resume: bool = param(True, help="continue from out_dir's checkpoint when it matches this config")
    keep_optimizer: bool = param(False, help="keep the optimizer and grad-scaler state in a finished "
                                 "trial's checkpoint (off: its weights only, under half the size)",
                                 unkeyed_default=True)
    deterministic: bool = param(False, help="torch's deterministic algorithms: identical reruns on a "
                                "GPU, usually 10-30% slower; an op without one raises")
    compile: bool | str = param(False, choices=(False, True, "default", "reduce-overhead", "max-autotune"),
                                help="torch.compile the training step (true = default mode); its compile "
                                "time is reported as time/compile_s, apart from the step time",
                                unkeyed_default=True)


@dataclass
class EpochTrain(TorchTrain):
    """The ``train`` group of a trainer that counts in epochs (pose, pose3d): a subclass sets its
    own ``epochs`` and ``batch_size`` defaults."""

    epochs: int = param(100, ge=1, help="training epochs")
    batch_size: int = param(32, ge=1, help="images per step")
    out_dir: str = param("checkpoints/{sweep}/{name}", help="checkpoint folder; a checkpoint per "
                         "epoch, resumed when the config matches")
    log_every: int = param(50, ge=1, help="print a progress line every N steps")
    eval_every: int = param(1, ge=1, help="evaluate and report every N epochs")


@dataclass
class TorchConfig:
    mode: str = param("train", choices=("train", "eval"), help="eval: evaluate `checkpoint` only")
    checkpoint: str = param("", help="model checkpoint for mode: eval (a file train wrote)")
    seed: int = param(0, help="set by the sweep's seeds")


def torch_config(module: str, doc: str, **groups: type) -> type:
    """A trainer's top-level ``Config``: one field per parameter group (``model=Model, ...``,
    each defaulting to its own defaults) after the fields every torch trainer has."""
    fields = [(name, cls, dataclasses.field(default_factory=cls)) for name, cls in groups.items()]
    config = dataclasses.make_dataclass("Config", fields, bases=(TorchConfig,))
    config.__module__, config.__doc__ = module, doc  # pickled by name, as a class statement would be
    return config
