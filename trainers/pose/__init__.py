"""``pose``: SimpleBaseline heatmap pose estimation (torchvision backbone + deconvolution head)
with the MSE and msssm losses, MPII and COCO data, PCKh and OKS AP evaluation.

Importing this package does not import torch; the training code is loaded when a trial runs.
"""

from orchestrator.trainer import MetricColumn, MetricGroup, SynthDataset, Trainer
from trainers.pose.config import Config

# MPII PCKh as the evaluation prints it, with the short headers of LaTeX rows and the names
# other evaluators print (PoseTrack's `& Head & Shou & Elb & Wri & Hip & Knee & Ankl & Total`)
PCKH = MetricGroup(
    "pckh",
    (MetricColumn("val/Head", aliases=("head",)),
     MetricColumn("val/Shoulder", latex="Shou", aliases=("Sho", "Shoulders")),
     MetricColumn("val/Elbow", latex="Elb", aliases=("Elbows",)),
     MetricColumn("val/Wrist", latex="Wri", aliases=("Wrists",)),
     MetricColumn("val/Hip", aliases=("Hips",)),
     MetricColumn("val/Knee", aliases=("Knees",)),
     MetricColumn("val/Ankle", latex="Ank", aliases=("Ankl", "Ankles")),
     MetricColumn("val/Mean", aliases=("Total", "PCKh", "Avg")),
     MetricColumn("val/Mean@0.1", aliases=("PCKh@0.1",), optional=True),  # not every evaluator prints it
     # what the widely copied reference script prints as Mean@0.1 (its threshold array is read one
     # off: PCKh at 0.11); SimpleBaseline's table lands here, so both sources share a column
     MetricColumn("val/Mean@0.1_ref", "Mean@0.1 (ref)", "Mean@.1ref", optional=True,
                  note="PCKh at threshold 0.11, what the reference MPII script (and SimpleBaseline's "
                       "table) prints as Mean@0.1; Mean@0.1 is the true 0.1")),
    description="MPII PCKh@0.5 per part, the mean, and the mean at threshold 0.1", digits=2)
COCO = MetricGroup(
    "coco",
    tuple(MetricColumn(f"val/{k}", aliases=a, optional=k == "AR") for k, a in (  # not every tool prints AR
        ("AP", ("mAP", "AP@[.5:.95]")), ("AP50", ("AP .5", "AP@0.5")), ("AP75", ("AP .75", "AP@0.75")),
        ("APm", ("AP (M)",)), ("APl", ("AP (L)",)), ("AR", ("AR@[.5:.95]",)))),
    aliases=("ap", "oks"), description="COCO keypoint OKS AP (pycocotools)")

_PEOPLE = "one person per image, rendered articulated stick figures on textured backgrounds"
MPII = SynthDataset(
    "mpii", "trainers.pose.synth:synth_mpii",
    f"MPII in SimpleBaseline's JSON: images/*.jpg, annot/{{train,valid}}.json with head boxes; {_PEOPLE}",
    train=1600, val=200, unit="people")
COCO_DATA = SynthDataset(
    "coco", "trainers.pose.synth:synth_coco",
    "COCO person keypoints: images/*.jpg, annotations/person_keypoints_{train,val}.json; "
    "one to three stick figures per image", train=1600, val=200, unit="images")

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
    groups=(PCKH, COCO),
    datasets=(MPII, COCO_DATA),
    check="trainers.pose.config:check",
    distributed=True,
)

__all__ = ["TRAINER", "Config", "PCKH", "COCO", "MPII", "COCO_DATA"]
