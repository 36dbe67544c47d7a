"""The 17-joint skeleton of Human3.6M's common evaluation (pelvis first, the root), and random
articulated poses of it for the synthetic set: numpy and scipy only."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["JOINTS", "PARENTS", "LIMBS", "FLIP_PAIRS", "ROOT", "random_poses"]

JOINTS = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
          "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LIMBS = tuple((p, j) for j, p in enumerate(PARENTS) if p >= 0)
FLIP_PAIRS = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))
ROOT = 0

# each joint's offset from its parent in the rest pose, mm, body frame: x the person's left,
# y up, z the way the person faces
_REST = np.array([
    (0, 0, 0), (-130, 0, 0), (0, -450, 0), (0, -440, 0), (130, 0, 0), (0, -450, 0), (0, -440, 0),
    (0, 230, 0), (0, 250, 0), (0, 110, 20), (0, 120, 0), (150, -20, 0), (0, -280, 0), (0, -250, 0),
    (-150, -20, 0), (0, -280, 0), (0, -250, 0)], dtype=np.float64)

# how far each joint may bend its child bones (radians, per axis x, y, z): hips and shoulders
# swing widely, knees and elbows bend, the spine and neck a little
_RANGE = np.zeros((17, 3))
_RANGE[[1, 4]] = (0.9, 0.3, 0.3)  # hips: the thigh swings forward and back, a little sideways
_RANGE[[2, 5]] = (1.1, 0.0, 0.0)  # knees
_RANGE[[11, 14]] = (1.2, 0.5, 1.0)  # shoulders: the upper arm
_RANGE[[12, 15]] = (1.3, 0.3, 0.0)  # elbows
_RANGE[[7, 8]] = (0.25, 0.3, 0.15)  # spine, thorax
_RANGE[9] = (0.3, 0.5, 0.2)  # neck


def random_poses(n: int, rng: np.random.Generator, max_yaw_deg: float = 180.0) -> np.ndarray:
    """``n`` poses (n, 17, 3), mm, root at the origin, y up, facing +z turned by a random yaw
    of up to ``max_yaw_deg`` either way: random bends within each joint's range, bone lengths
    of a person 0.85-1.15 times the rest skeleton's."""
    out = np.zeros((n, 17, 3))
    scale = rng.uniform(0.85, 1.15, n)
    for i in range(n):
        bend = rng.uniform(-1, 1, (17, 3)) * _RANGE
        bend[[2, 5], 0] = np.abs(bend[[2, 5], 0])  # knees bend the shin backwards only
        bend[[12, 15], 0] = -np.abs(bend[[12, 15], 0])  # elbows the forearm forwards only
        local = Rotation.from_rotvec(bend).as_matrix()
        frame = [np.eye(3)] * 17  # the rotation of the bones leaving each joint
        for j, parent in enumerate(PARENTS):
            if parent >= 0:
                out[i, j] = out[i, parent] + frame[parent] @ (_REST[j] * scale[i])
                frame[j] = frame[parent] @ local[j]
            else:
                frame[j] = local[j]
    yaw = np.radians(rng.uniform(-max_yaw_deg, max_yaw_deg, n))
    tilt = rng.normal(0, 0.08, (n, 2))  # a little lean forward or sideways
    turn = Rotation.from_euler("yxz", np.column_stack([yaw, tilt]), degrees=False).as_matrix()
    return np.einsum("nij,nkj->nki", turn, out)
