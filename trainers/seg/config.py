"""The segmentation trainer's schema: every parameter, its default and why.

Defaults follow the BiSeNet V1 Cityscapes recipe (1024x1024 crops, SGD lr 1e-2 with poly decay
and warmup, OHEM at 0.7, batch 16, 80k iterations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.trainer import param
from trainers._config import TorchTrain, lr_scale_param, sync_bn_param, torch_config

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")
EVAL_MODES = ("ss", "flip", "ms", "ms_flip")


@dataclass
class Model:
    backbone: str = param("resnet18", choices=BACKBONES, help="torchvision ResNet of the context path")
    sp_channels: list[int] = param([64, 64, 128], ge=1, help="widths of the spatial path's three "
                                   "stride-2 conv-bn-relu blocks")
    aux: bool = param(True, help="auxiliary heads on the context path's 1/8 and 1/16 features")
    aux_weight: float = param(1.0, ge=0, help="weight of each auxiliary head's loss")
    upsample: str = param("bilinear", choices=("bilinear", "nearest"), help="every upsampling in "
                          "the network, the heads' x8 to input size included")
    pretrained: str = param("none", help="'none' or a local state_dict path for the backbone "
                            "(nothing is downloaded)")
    sync_bn: bool = sync_bn_param()


@dataclass
class Data:
    root: str = param("synthetic", help="Cityscapes folder (leftImg8bit/, gtFine/), or 'synthetic' "
                      "for the generated set")
    train_split: str = param("train", help="split folder used for training")
    val_split: str = param("val", help="split folder used for evaluation")
    crop: list[int] = param([1024, 1024], ge=8, help="training crop [H, W]; padded with the "
                            "ignore label where the scaled image is smaller")
    scale: list[float] = param([0.75, 2.0], gt=0, help="random scale range [min, max]")
    flip: bool = param(True, help="random horizontal flip")
    jitter: float = param(0.4, ge=0, le=1, help="colour jitter strength (brightness, contrast, "
                          "saturation); 0 turns it off")
    workers: int = param(4, ge=0, help="DataLoader worker processes")
    max_train: int | None = param(None, ge=1, help="use only the first N training images")
    max_val: int | None = param(None, ge=1, help="use only the first N validation images")
    synth_train: int = param(200, ge=1, help="images in the synthetic training split")
    synth_val: int = param(40, ge=1, help="images in the synthetic validation split")
    synth_size: list[int] = param([256, 512], ge=32, help="synthetic image size [H, W] (Cityscapes "
                                  "is 1024x2048)")


@dataclass
class Loss:
    name: str = param("ohem", choices=("ce", "ohem"), help="cross entropy, or OHEM cross entropy")
    thresh: float = param(0.7, gt=0, le=1, help="OHEM: keep pixels whose true-class probability is "
                          "below this (loss above -ln thresh), at least labels // 16 of them")
    ignore_index: int = param(255, help="label value that contributes no loss and no IoU")


@dataclass
class Optim:
    lr: float = param(1e-2, gt=0, help="base learning rate of SGD (BiSeNet: 1e-2 at batch 16)")
    lr_scale: str = lr_scale_param()
    momentum: float = param(0.9, ge=0, le=1, help="SGD momentum")
    weight_decay: float = param(5e-4, ge=0, help="weight decay; 1-D parameters (BN, biases) get none")
    power: float = param(0.9, ge=0, help="poly schedule: lr x (1 - it / max_iter) ** power")
    warmup_iters: int = param(1000, ge=0, help="iterations of warmup before the poly decay")
    warmup: str = param("exp", choices=("linear", "exp"), help="warmup shape from warmup_ratio x lr")
    warmup_ratio: float = param(0.1, gt=0, le=1, help="lr at iteration 0, as a fraction of lr")
    head_lr_factor: float = param(1.0, gt=0, help="lr multiplier of everything but the backbone "
                                  "(10 is the common BiSeNet choice; 1 turns it off)")


@dataclass
class Train(TorchTrain):
    max_iter: int = param(80000, ge=1, help="training iterations")
    batch_size: int = param(16, ge=1, help="images per iteration")
    eval_every: int = param(10000, ge=1, help="evaluate and report mIoU every N iterations (and at the end)")
    out_dir: str = param("checkpoints/{sweep}/{name}", help="checkpoint folder, written at every "
                         "evaluation; empty turns checkpoints off")
    log_every: int = param(50, ge=1, help="print a progress line every N iterations")


@dataclass
class Eval:
    modes: list[Literal["ss", "flip", "ms", "ms_flip"]] = param(
        ["ss"], help="evaluations at every checkpoint: ss (single scale), flip, ms (multi-scale), "
        "ms_flip; the first is val/mIoU, each is also val/mIoU_<mode>")
    final_modes: list[Literal["ss", "flip", "ms", "ms_flip"]] = param(
        [], help="extra evaluations at the last checkpoint only (multi-scale is slow)")
    scales: list[float] = param([0.5, 0.75, 1.0, 1.25, 1.5, 1.75], gt=0, help="multi-scale factors")
    scale: float = param(1.0, gt=0, help="single-scale factor (0.5 evaluates at half resolution)")
    crop: list[int] | None = param(None, ge=8, help="sliding-window evaluation with this [H, W] "
                                   "window; null runs the whole image at once")
    stride: float = param(2 / 3, gt=0, le=1, help="sliding-window step as a fraction of the window")
    batch_size: int = param(2, ge=1, help="validation images per forward pass")


Config = torch_config(__name__, "The segmentation trainer's schema: model, data, loss, optim, train and eval groups.",
                      model=Model, data=Data, loss=Loss, optim=Optim, train=Train, eval=Eval)


_PAIRS = {"model.sp_channels": (3, "three widths, e.g. [64, 64, 128]"),
          "data.crop": (2, "[H, W], e.g. [1024, 1024]"), "data.scale": (2, "[min, max], e.g. [0.75, 2.0]"),
          "data.synth_size": (2, "[H, W], e.g. [256, 512]"), "eval.crop": (2, "[H, W], e.g. [1024, 1024]")}


def check(config: dict[str, Any]) -> list[tuple[str, str]]:
    """What the schema cannot say: list lengths, an ordered scale range, a non-empty mode list."""
    problems = []
    for key, (n, example) in _PAIRS.items():
        value = config.get(key)
        if value is not None and len(value) != n:
            problems.append((key, f"expected {n} values, {example}; got {value!r}"))
    lo_hi = config.get("data.scale")
    if lo_hi and len(lo_hi) == 2 and lo_hi[0] > lo_hi[1]:
        problems.append(("data.scale", f"min is above max: {lo_hi!r}; write [min, max]"))
    warmup, max_iter = config.get("optim.warmup_iters", 0), config.get("train.max_iter", 1)
    if config.get("mode", "train") == "train" and warmup and warmup >= max_iter:
        problems.append(("optim.warmup_iters", f"{warmup} is not below train.max_iter ({max_iter}): the "
                         "run would never leave warmup; lower it (e.g. max_iter / 20)"))
    if not config.get("eval.modes"):
        problems.append(("eval.modes", "needs at least one mode, e.g. [ss]; val/mIoU is the first"))
    return problems
