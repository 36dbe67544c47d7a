from __future__ import annotations

from dataclasses import dataclass

from orchestrator.trainer import param


@dataclass
class Config:
    t: float = param(10.0, gt=0, help="softmax temperature; the loss goes NaN above 14, as in the notes")
    pointMaxW: float = param(0.0, ge=0, help="weight of the point-max term")
    probMargin: float = param(0.0, ge=0, le=1, help="probability margin; 0 turns it off")
    rs: list[int] = param([8, 4, 2, 1], ge=1, help="multi-scale radii in heatmap pixels")
    lr: float = param(1e-3, gt=0, help="learning rate; results peak near 1e-3")
    epochs: int = param(5, ge=1, help="evaluations to report, one per epoch")
    sleep: float = param(0.0, ge=0, help="seconds to sleep per epoch, to mimic real training time")
    fail_at_epoch: int | None = param(None, ge=1, help="raise an error at this epoch (to test failures)")
    batch_size: int = param(32, ge=1, help="images per step; only matters for oom_above_batch")
    oom_above_batch: int | None = param(None, ge=1, help="simulate CUDA out-of-memory when batch_size "
                                        "is above this (to test on_oom: halve_batch)")
    seed: int = param(0, help="set by the sweep's seeds; shifts results slightly")
