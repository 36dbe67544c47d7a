"""``pose3d``: image -> root-relative 3-D joints, with MPJPE, PA-MPJPE, PCK3D and AUC.

So far the metrics (:mod:`trainers.pose3d.metrics`, numpy only) and their table group; the
trainer (torchvision encoder, iterative-refinement head, synthetic data) is not registered yet.
"""

from orchestrator.trainer import MetricColumn, MetricGroup

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

__all__ = ["MPJPE3D"]
