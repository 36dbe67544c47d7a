"""``seg``: BiSeNet V1 semantic segmentation (torchvision ResNet context path, spatial path,
attention refinement, feature fusion, auxiliary heads) with cross entropy or OHEM, poly + warmup
SGD, Cityscapes-format data, mIoU single-scale, flip, multi-scale and sliding-window.

Importing this package does not import torch; the training code is loaded when a trial runs.
"""

from orchestrator.trainer import Trainer
from trainers.seg.config import Config

TRAINER = Trainer(
    config=Config,
    train="trainers.seg.train:train",
    metric="val/mIoU",
    mode="max",
    description="BiSeNet V1 segmentation: ResNet context path, OHEM, poly+warmup SGD, Cityscapes "
                "mIoU with flip and multi-scale evaluation.",
    smoke={"model.sp_channels": [16, 16, 32], "data.crop": [64, 64], "data.synth_train": 8,
           "data.synth_val": 2, "data.synth_size": [64, 128], "data.workers": 0, "train.batch_size": 2,
           "train.max_iter": 2, "train.eval_every": 1, "train.out_dir": "", "optim.warmup_iters": 1},
    check="trainers.seg.config:check",
)

__all__ = ["TRAINER", "Config"]
