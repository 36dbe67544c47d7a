"""The 3-D pose trainer's schema: every parameter, its default and why."""

from __future__ import annotations

import functools

from dataclasses import dataclass
from typing import Any

from orchestrator.trainer import param
from trainers._config import EpochTrain, lr_scale_param, sync_bn_param, torch_config
from trainers.pose.config import BACKBONES


@dataclass
class Model:
    backbone: str = param("resnet50", choices=BACKBONES, help="torchvision encoder (SPIN: resnet50)")
    n_iter: int = param(3, ge=1, le=10, help="iterative refinement steps of the head (HMR/SPIN: 3)")
    hidden: int = param(1024, ge=16, help="width of the head's two hidden layers (HMR/SPIN: 1024)")
    dropout: float = param(0.5, ge=0, le=0.9, help="dropout between the head's layers (HMR/SPIN: 0.5)")
    keypoints2d: str = param("camera", choices=("camera", "direct"), help="the 2-D keypoints of the 2-D "
                             "loss: the 3-D joints projected by a predicted weak-perspective camera (SPIN), "
                             "or a 2-D output of their own (learns faster from scratch on small data)")
    pretrained: str = param("none", help="'none' or a local state_dict path for the backbone "
                            "(nothing is downloaded at run time)")
    sync_bn: bool = sync_bn_param()


@dataclass
class Data:
    root: str = param("synthetic", help="dataset folder in the format trainers/pose3d/synth.py "
                      "documents, or 'synthetic' for the generated set (cached under $ORCH_CACHE)")
    format: str = param("folder", choices=("folder", "spin_npz"), help="folder: annot/*.json as "
                        "trainers/pose3d/synth.py writes; spin_npz: SPIN's preprocessed .npz per split "
                        "(data.train / data.val name them, data.images is what imgname is relative to)",
                        unkeyed_default=True)
    train: str = param("annot/train.json", help="training annotations (format spin_npz: the .npz), relative to root")
    val: str = param("annot/val.json", help="validation annotations (format spin_npz: the .npz), relative to root")
    images: str = param("images", help="image folder, relative to root")
    input_size: int = param(224, ge=32, help="square network input, px (SPIN: 224)")
    box_scale: float = param(1.2, ge=1, help="crop side = this x the longer side of the person's box")
    scale_jitter: float = param(0.1, ge=0, le=0.5, help="random crop scale 1 ± this in training")
    shift_jitter: float = param(0.05, ge=0, le=0.5, help="random crop shift ± this x its side in training")
    workers: int = param(2, ge=0, help="DataLoader worker processes")
    max_train: int | None = param(None, ge=1, help="use only the first N training people")
    max_val: int | None = param(None, ge=1, help="use only the first N validation people")
    synth_train: int = param(2000, ge=1, help="people in the synthetic training set")
    synth_val: int = param(200, ge=1, help="people in the synthetic validation set")
    synth_max_yaw: float = param(180.0, ge=0, le=180, help="synthetic people turn up to ± this "
                                 "many degrees from facing the camera")


@dataclass
class Loss:
    name: str = param("l1", choices=("l1", "mse"), help="distance on root-relative 3-D joints (m)")
    w3d: float = param(1.0, ge=0, help="weight of the 3-D joint loss")
    w2d: float = param(0.5, ge=0, help="weight of the 2-D keypoint loss (crop coordinates in [-1, 1], "
                       "see model.keypoints2d); 0 turns it off")


@dataclass
class Optim:
    lr: float = param(1e-4, gt=0, help="Adam learning rate (SPIN: 5e-5)")
    lr_scale: str = lr_scale_param()
    weight_decay: float = param(0.0, ge=0, help="weight decay")
    schedule: str = param("cosine", choices=("constant", "cosine"), help="lr schedule over the epochs")


@dataclass
class Train(EpochTrain):
    epochs: int = param(50, ge=1, help="training epochs")
    batch_size: int = param(64, ge=1, help="images per step (SPIN: 64)")


Config = torch_config(__name__, "The 3-D pose trainer's schema: model, data, loss, optim and train groups.",
                      model=Model, data=Data, loss=Loss, optim=Optim, train=Train)


def check(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The input side must be a multiple of the encoders' stride 32; SPIN .npz files must be
    readable, with their keys, shapes and images (read once per file, before anything trains)."""
    size = config.get("data.input_size")
    if size is not None and int(size) % 32:
        return [("data.input_size", f"{size}: must be a multiple of 32 (the encoder's stride), "
                 f"e.g. {max(32, round(int(size) / 32) * 32)}")]
    root = config.get("data.root", "synthetic")
    if config.get("data.format") != "spin_npz" or root == "synthetic" or config.get("mode") == "eval":
        return []
    import os

    problems = []
    for key in ("data.train", "data.val"):
        path = os.path.join(root, config.get(key, ""))
        if not os.path.isfile(path):  # perhaps on the cluster only: the trial says so if it is not there
            continue
        said = _spin_problem(path, os.path.join(root, config.get("data.images", "images")), os.path.getmtime(path))
        if said:
            problems.append((key, said))
    return problems


@functools.lru_cache(maxsize=16)
def _spin_problem(path: str, images: str, mtime: float) -> str:
    from pathlib import Path

    from trainers.pose3d.spin import SpinError, read_spin

    try:
        read_spin(Path(path), Path(images), limit=None)
    except SpinError as exc:
        return str(exc)
    return ""
