"""``seg``: BiSeNet V1 semantic segmentation (torchvision ResNet context path, spatial path,
attention refinement, feature fusion, auxiliary heads) with cross entropy or OHEM, poly + warmup
SGD, Cityscapes-format data, mIoU single-scale, flip, multi-scale and sliding-window.

Importing this package does not import torch; the training code is loaded when a trial runs.
"""

from orchestrator.trainer import MetricColumn, MetricGroup, SynthDataset, Trainer
from trainers.seg.config import Config
from trainers.seg.labels import CLASS_LATEX, CLASSES

MIOU = MetricGroup(
    "miou",
    (MetricColumn("val/mIoU", "mIoU", aliases=("mIOU", "miou", "mean IoU")),
     # the other evaluation modes, when a trial ran them
     MetricColumn("val/mIoU_flip", "mIoU flip", optional=True),
     MetricColumn("val/mIoU_ms", "mIoU MS", optional=True),
     MetricColumn("val/mIoU_ms_flip", "mIoU MS+flip", optional=True)),
    description="mean IoU over the 19 Cityscapes classes, per evaluation mode; --per-class adds each class",
    per_class_prefix="val/iou/", classes=CLASSES,
    class_latex={c: CLASS_LATEX.get(c, c.capitalize()) for c in CLASSES})

CITYSCAPES = SynthDataset(
    "cityscapes", "trainers.seg.synth:write_synthetic",
    "street scenes in the Cityscapes layout: leftImg8bit/{train,val}/<city>/*_leftImg8bit.png and "
    "gtFine/{train,val}/<city>/*_gtFine_labelIds.png, 19 evaluated classes",
    train=200, val=40, unit="images", options={"size": ("256x512", "image size HxW")})

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
    distributed=True,
    groups=(MIOU,),
    datasets=(CITYSCAPES,),
)

__all__ = ["TRAINER", "Config", "MIOU", "CITYSCAPES"]
