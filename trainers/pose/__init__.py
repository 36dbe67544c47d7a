"""``pose``: SimpleBaseline heatmap pose estimation (torchvision backbone + deconvolution head)
with the MSE and msssm losses, MPII and COCO data, PCKh and OKS AP evaluation.

Importing this package does not import torch; the training code is loaded when a trial runs.
"""

from orchestrator.trainer import Trainer
from trainers.pose.config import Config

TRAINER = Trainer(
    config=Config,
    train="trainers.pose.train:train",
    metric="val/Mean",
    mode="max",
    description="SimpleBaseline pose estimation: torchvision backbones, mse/msssm losses, "
                "MPII PCKh and COCO OKS AP.",
    smoke={"model.backbone": "resnet18", "model.deconv": [32, 32, 32], "data.input_size": [64, 64],
           "data.synth_train": 32, "data.synth_val": 8, "data.workers": 0, "train.batch_size": 8,
           "train.epochs": 2, "train.out_dir": "", "eval.flip_test": True},
)

__all__ = ["TRAINER", "Config"]
