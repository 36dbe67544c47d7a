"""The pose trainer's schema: every parameter, its default and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.trainer import param
from trainers._config import EpochTrain, lr_scale_param, sync_bn_param, torch_config

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121",
             "densenet169", "densenet201", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
             "shufflenet_v2_x1_0")


@dataclass
class Model:
    backbone: str = param("resnet50", choices=BACKBONES, help="torchvision encoder")
    deconv: list[int] = param([256, 256, 256], ge=1, help="channels of the stride-2 deconvolutions "
                              "(SimpleBaseline: three of 256, output stride 4); 1 to 5 of them")
    deconv_kernel: int = param(4, choices=(2, 3, 4), help="deconvolution kernel size")
    pretrained: str = param("none", help="'none' or a local state_dict path for the backbone "
                            "(nothing is downloaded at run time)")
    sync_bn: bool = sync_bn_param()


@dataclass
class Data:
    dataset: str = param("mpii", choices=("mpii", "coco"), help="annotation format")
    root: str = param("synthetic", help="dataset folder, or 'synthetic' for the generated "
                      "MPII-format set (cached under $ORCH_CACHE, default ~/.cache/orch)")
    train: str = param("annot/train.json", help="training annotations, relative to root")
    val: str = param("annot/valid.json", help="validation annotations, relative to root")
    images: str = param("images", help="image folder, relative to root")
    val_images: str = param("", help="validation image folder if different (COCO val2017)")
    headboxes: str = param("", help="MPII head boxes: gt_valid.mat or a JSON list; empty uses "
                           "each entry's 'headbox' (synthetic sets have it)")
    boxes: str = param("gt", help="COCO top-down boxes: 'gt' or a detections JSON path")
    det_score: float = param(0.0, ge=0, le=1, help="drop detected boxes scoring below this")
    det_max: int = param(0, ge=0, help="keep each image's N highest-scoring detected boxes (0: all)")
    input_size: list[int] = param([256, 256], ge=32, help="network input [H, W]: 256x256, 384x384, "
                                  "256x192")
    sigma: float = param(2.0, gt=0, help="heatmap Gaussian, px at output stride")
    scale_factor: float = param(0.25, ge=0, help="random scale 1 ± this (SimpleBaseline MPII)")
    rotation: float = param(30.0, ge=0, help="random rotation ± degrees, applied 60% of the time")
    flip: bool = param(True, help="random horizontal flip with left/right joint swap")
    half_body: float = param(0.0, ge=0, le=1, help="probability of a half-body crop (0 turns it off)")
    workers: int = param(2, ge=0, help="DataLoader worker processes")
    max_train: int | None = param(None, ge=1, help="use only the first N training samples")
    max_val: int | None = param(None, ge=1, help="use only the first N validation samples")
    synth_train: int = param(1600, ge=1, help="people in the synthetic training set")
    synth_val: int = param(200, ge=1, help="people in the synthetic validation set")


@dataclass
class Loss:
    name: str = param("mse", choices=("mse", "msssm"), help="mse on Gaussian heatmaps, or msssm")
    t: float = param(10.0, gt=0, help="msssm softmax temperature")
    rs: list[float] = param([8, 4, 2, 1], gt=0, help="msssm radii in heatmap pixels")
    probMargin: float = param(0.0, ge=0, le=1, help="msssm probability margin; 0 turns it off")
    pointMaxW: float = param(0.0, ge=0, help="weight of msssm's -log p at the ground-truth pixel")


@dataclass
class Optim:
    name: str = param("adam", choices=("adam", "sgd"), help="Adam, or SGD with momentum")
    lr: float = param(1e-3, gt=0, help="base learning rate (SimpleBaseline: 1e-3 with Adam)")
    lr_scale: str = lr_scale_param()
    momentum: float = param(0.9, ge=0, le=1, help="SGD momentum")
    weight_decay: float = param(1e-4, ge=0, help="weight decay")
    schedule: str = param("step", choices=("step", "cosine"), help="lr schedule after warmup")
    steps: list[int] = param([90, 120], ge=1, help="step schedule: epochs where lr *= factor")
    factor: float = param(0.1, gt=0, le=1, help="step schedule decay")
    warmup_epochs: float = param(0.0, ge=0, help="linear warmup from 0.1 x lr, in epochs")


@dataclass
class Train(EpochTrain):
    epochs: int = param(140, ge=1, help="training epochs (SimpleBaseline: 140)")
    batch_size: int = param(32, ge=1, help="images per step")


@dataclass
class Eval:
    """Evaluation-time settings: sweep them over one checkpoint with ``mode: eval``."""

    flip_test: bool = param(True, help="average with the flipped image's heatmaps")
    shift_heatmap: bool = param(False, help="shift flipped heatmaps one pixel: SimpleBaseline's fix "
                                "for its crops, which do not mirror about their centre; orch's do, so "
                                "the shift only adds a one-pixel bias (off)")
    subpixel: str = param("quarter", choices=("none", "quarter", "dark"),
                          help="peak refinement: none (argmax), quarter (a quarter pixel toward the "
                          "higher neighbour, SimpleBaseline) or dark (DARK's Taylor step on the "
                          "smoothed log-heatmap)")
    scale: float = param(1.0, ge=0.25, le=4, help="test-time input scale: the crop is resized by "
                         "this (to a multiple of 32) before the network")
    kpt_thresh: float = param(0.2, ge=0, le=1, help="COCO: keypoints scoring above this rescore "
                              "their box (SimpleBaseline's in_vis_thre)")
    oks_nms: bool = param(True, help="COCO: OKS non-maximum suppression of each image's people")
    oks_thresh: float = param(0.9, gt=0, le=1, help="COCO: OKS above which the lower-scored person "
                              "is suppressed")


Config = torch_config(__name__, "The pose trainer's schema: model, data, loss, optim, train and eval groups.",
                      model=Model, data=Data, loss=Loss, optim=Optim, train=Train, eval=Eval)


def check(config: dict[str, Any]) -> list[tuple[str, str]]:
    """What the schema cannot say: the input is [H, W] and each side a multiple of the encoders'
    stride 32 (256x192 is; 64x48 would give 16x16 heatmaps for 16x12 targets)."""
    size = config.get("data.input_size")
    if size is None:
        return []
    if len(size) != 2:
        return [("data.input_size", f"expected [H, W], e.g. [256, 192]; got {size!r}")]
    if any(int(v) % 32 for v in size):
        fixed = [max(32, round(int(v) / 32) * 32) for v in size]
        return [("data.input_size", f"{size!r}: each side must be a multiple of 32 (the encoder's stride), "
                 f"e.g. {fixed!r}")]
    return []
