"""``pose3d``: image -> root-relative 3-D joints (a top-down HMR/SPIN-style regressor on any
torchvision encoder the pose trainer has), with MPJPE, PA-MPJPE, PCK3D and AUC.

Importing this package does not import torch; the training code is loaded when a trial runs.
"""

from orchestrator.trainer import MetricColumn, MetricGroup, SynthDataset, Trainer
from trainers.pose3d.config import Config

# the numbers a 3-D pose paper's table carries, with the names other evaluators print for them
MPJPE3D = MetricGroup(
    "mpjpe3d",
    (MetricColumn("val/MPJPE", "MPJPE", higher_is_better=False, aliases=("MPJPE (mm)", "P1", "Protocol 1")),
     MetricColumn("val/PA-MPJPE", "PA-MPJPE", higher_is_better=False,
                  aliases=("PA_MPJPE", "P-MPJPE", "Rec. Error", "Reconstruction Error", "P2", "Protocol 2")),
     MetricColumn("val/PCK3D", "PCK3D", aliases=("3DPCK", "PCK", "PCK@150mm"), optional=True),
     MetricColumn("val/AUC", "AUC", optional=True)),
    aliases=("pose3d", "h36m", "3dpw", "mpi-inf-3dhp"),
    description="3-D joints: MPJPE and PA-MPJPE in mm (lower is better), PCK3D at 150 mm and its AUC in %",
    digits=1)

POSE3D_DATA = SynthDataset(
    "pose3d", "trainers.pose3d.synth:synth_pose3d",
    "3-D people: images/*.jpg, annot/{train,val}.json with 17 camera-frame joints (mm), intrinsics and "
    "a box per person; random articulated skeletons seen by random cameras, drawn as stick figures",
    train=2000, val=200, unit="people",
    options={"max_yaw": (180.0, "people turn up to ± this many degrees from facing the camera"),
             "size": (128, "image side, px"),
             "format": ("folder", "folder (annot/*.json) or spin_npz ({train,val}.npz as SPIN stores them; "
                                  "every 4th training person 2-D only)")})

TRAINER = Trainer(
    config=Config,
    train="trainers.pose3d.train:train",
    metric="val/MPJPE",
    mode="min",
    description="3-D pose regression (HMR/SPIN-style iterative head) on torchvision backbones: "
                "MPJPE, PA-MPJPE, PCK3D, AUC.",
    smoke={"model.backbone": "resnet18", "model.hidden": 128, "data.input_size": 64,
           "data.synth_train": 64, "data.synth_val": 16, "data.workers": 0, "train.batch_size": 16,
           "train.epochs": 2, "train.out_dir": ""},
    groups=(MPJPE3D,),
    datasets=(POSE3D_DATA,),
    check="trainers.pose3d.config:check",
    distributed=True,
)

__all__ = ["TRAINER", "Config", "MPJPE3D", "POSE3D_DATA"]
