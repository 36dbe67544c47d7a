"""3-D pose metrics in numpy alone (no torch), so a command script or a notebook can import them:
MPJPE, PA-MPJPE, PCK3D and its AUC.

Poses are arrays ``(N, J, 3)`` in millimetres, in camera coordinates or any one frame per
sample. The conventions are those of the papers that report these numbers:

- **MPJPE** (Human3.6M protocol 1): mean Euclidean distance over joints and samples after both
  poses are moved so their root joints coincide.
- **PA-MPJPE** (protocol 2, "reconstruction error"): the same distance after the prediction is
  aligned to the truth per sample by the best similarity transform (scale, rotation, translation;
  Umeyama's solution, a proper rotation only: a mirrored pose is not explained away).
- **PCK3D** (MPI-INF-3DHP): the percentage of root-aligned joints within 150 mm of the truth;
  **AUC**: PCK3D averaged over the thresholds 0, 5, ..., 150 mm, in percent.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["root_align", "procrustes_align", "mpjpe", "pa_mpjpe", "pck3d", "auc", "evaluate3d",
           "METRIC_KEYS", "PCK_THRESHOLD_MM", "AUC_THRESHOLDS_MM"]

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)  # 0, 5, ..., 150
METRIC_KEYS = ("MPJPE", "PA-MPJPE", "PCK3D", "AUC")


def _poses(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"expected two arrays of shape (N, J, 3); got {pred.shape} and {gt.shape}")
    return pred, gt


def root_align(poses: np.ndarray, root: int | Sequence[int] = 0) -> np.ndarray:
    """Poses moved so their root is the origin; ``root`` a joint index, or several (their mean:
    the pelvis as the midpoint of the hips)."""
    poses = np.asarray(poses, dtype=np.float64)
    index = [root] if isinstance(root, (int, np.integer)) else list(root)
    return poses - poses[:, index].mean(axis=1, keepdims=True)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Each predicted pose mapped by the similarity transform ``s R x + t`` that brings it
    closest to its truth in the least-squares sense (R a proper rotation)."""
    pred, gt = _poses(pred, gt)
    mu_p, mu_g = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g
    cov = np.einsum("nji,njk->nik", p0, g0)  # (N, 3, 3): sum over joints of p0^T g0
    u, sing, vt = np.linalg.svd(cov)
    # a reflection is the best orthogonal map when det(V U^T) < 0: flip the last axis instead
    sign = np.sign(np.linalg.det(np.einsum("nij,njk->nik", vt.transpose(0, 2, 1), u.transpose(0, 2, 1))))
    sign[sign == 0] = 1.0
    fix = np.ones_like(sing)
    fix[:, -1] = sign
    rot = np.einsum("nij,nj,nkj->nik", vt.transpose(0, 2, 1), fix, u)  # R = V diag(fix) U^T
    var = (p0 ** 2).sum(axis=(1, 2))
    scale = np.where(var > 0, (sing * fix).sum(axis=1) / np.where(var > 0, var, 1.0), 1.0)
    return scale[:, None, None] * np.einsum("nik,njk->nji", rot, p0) + mu_g


def _errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pred - gt, axis=-1)  # (N, J), mm


def _pck(errors: np.ndarray, threshold: float) -> float:
    return float((errors <= threshold).mean() * 100.0)


def _auc(errors: np.ndarray, thresholds: np.ndarray) -> float:
    return float(np.mean([_pck(errors, t) for t in thresholds]))


def mpjpe(pred: np.ndarray, gt: np.ndarray, root: int | Sequence[int] = 0) -> float:
    pred, gt = _poses(pred, gt)
    return float(_errors(root_align(pred, root), root_align(gt, root)).mean())


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    pred, gt = _poses(pred, gt)
    return float(_errors(procrustes_align(pred, gt), gt).mean())


def pck3d(pred: np.ndarray, gt: np.ndarray, threshold: float = PCK_THRESHOLD_MM,
          root: int | Sequence[int] = 0) -> float:
    pred, gt = _poses(pred, gt)
    return _pck(_errors(root_align(pred, root), root_align(gt, root)), threshold)


def auc(pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM,
        root: int | Sequence[int] = 0) -> float:
    pred, gt = _poses(pred, gt)
    return _auc(_errors(root_align(pred, root), root_align(gt, root)), thresholds)


def evaluate3d(pred: np.ndarray, gt: np.ndarray, root: int | Sequence[int] = 0) -> dict[str, float]:
    """Every metric of the ``mpjpe3d`` table group, keyed as the trainer reports them (``val/``
    is added by the caller)."""
    pred, gt = _poses(pred, gt)
    aligned_p, aligned_g = root_align(pred, root), root_align(gt, root)
    errors = _errors(aligned_p, aligned_g)
    return {"MPJPE": float(errors.mean()),
            "PA-MPJPE": float(_errors(procrustes_align(pred, gt), gt).mean()),
            "PCK3D": _pck(errors, PCK_THRESHOLD_MM), "AUC": _auc(errors, AUC_THRESHOLDS_MM)}
