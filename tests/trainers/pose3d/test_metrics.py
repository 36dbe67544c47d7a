"""3-D pose metrics against their definitions written out directly (one sample at a time), on
random poses, a similarity transform of the truth and its mirror image."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from trainers.pose3d.metrics import (AUC_THRESHOLDS_MM, auc, evaluate3d, mpjpe, pa_mpjpe, pck3d,
                                     procrustes_align, root_align)

J = 17


def _poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 250, (n, J, 3)) + np.array([0, 0, 4000.0])  # people 4 m in front of the camera


def _direct_pa(pred: np.ndarray, gt: np.ndarray) -> float:
    """Umeyama's similarity alignment, one sample at a time, as the papers write it."""
    errors = []
    for p, g in zip(pred, gt):
        mp, mg = p.mean(0), g.mean(0)
        x, y = p - mp, g - mg
        u, s, vt = np.linalg.svd(x.T @ y)
        d = np.eye(3)
        d[2, 2] = np.sign(np.linalg.det(vt.T @ u.T))
        r = vt.T @ d @ u.T
        scale = np.trace(np.diag(s) @ d) / (x ** 2).sum()
        aligned = scale * x @ r.T + mg
        errors.append(np.linalg.norm(aligned - g, axis=1).mean())
    return float(np.mean(errors))


def test_mpjpe_is_the_mean_joint_distance_after_root_alignment():
    gt, pred = _poses(8, 0), _poses(8, 1)
    direct = np.mean([np.linalg.norm((p - p[0]) - (g - g[0]), axis=1).mean() for p, g in zip(pred, gt)])
    assert mpjpe(pred, gt) == pytest.approx(direct, rel=1e-12)
    shifted = pred + np.array([100.0, -50.0, 300.0])  # a global offset is what root alignment removes
    assert mpjpe(shifted, gt) == pytest.approx(direct, rel=1e-12)
    hips = root_align(gt, (11, 12))
    assert np.allclose(hips[:, [11, 12]].mean(axis=1), 0)


def test_pa_mpjpe_matches_the_direct_definition_on_random_poses():
    gt, pred = _poses(16, 2), _poses(16, 3)
    assert pa_mpjpe(pred, gt) == pytest.approx(_direct_pa(pred, gt), rel=1e-10)
    assert pa_mpjpe(pred, gt) < mpjpe(pred, gt)  # alignment can only help


def test_a_similarity_transform_of_the_truth_has_no_reconstruction_error():
    gt = _poses(6, 4)
    rot = Rotation.random(6, random_state=5).as_matrix()
    scale = np.array([0.5, 0.8, 1.0, 1.3, 2.0, 3.0])
    pred = scale[:, None, None] * np.einsum("nij,nkj->nki", rot, gt) + np.array([30.0, -700.0, 90.0])
    assert mpjpe(pred, gt) > 50  # far off before alignment
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-8)
    assert np.allclose(procrustes_align(pred, gt), gt, atol=1e-8)


def test_a_mirrored_pose_is_not_explained_away_by_a_rotation():
    gt = _poses(6, 6)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    error = pa_mpjpe(mirrored, gt)
    assert error == pytest.approx(_direct_pa(mirrored, gt), rel=1e-10)
    assert error > 50
    for m, g in zip(mirrored, gt):  # where reflections were allowed, the mirror image would fit exactly
        m0, g0 = m - m.mean(0), g - g.mean(0)
        orth, _ = orthogonal_procrustes(m0, g0)
        assert np.linalg.norm(m0 @ orth - g0, axis=1).mean() < 1e-8
    aligned = procrustes_align(mirrored, gt)
    p0 = mirrored - mirrored.mean(axis=1, keepdims=True)
    a0 = aligned - aligned.mean(axis=1, keepdims=True)
    for p, a in zip(p0, a0):  # aligned = s R p with R a proper rotation: det > 0
        fit, *_ = np.linalg.lstsq(p, a, rcond=None)
        assert np.linalg.det(fit) > 0


def test_the_alignment_is_optimal_against_nearby_transforms():
    gt, pred = _poses(1, 7), _poses(1, 8)
    best = pa_mpjpe(pred, gt)
    aligned = procrustes_align(pred, gt)[0]
    center = aligned.mean(0)
    rng = np.random.default_rng(9)
    for _ in range(50):
        tweak = Rotation.from_rotvec(rng.normal(0, 0.05, 3)).as_matrix()
        other = (1 + rng.normal(0, 0.05)) * (aligned - center) @ tweak.T + center + rng.normal(0, 5, 3)
        # the mean distance is not the least-squares objective, so compare the sum of squares
        assert ((other - gt[0]) ** 2).sum() >= ((aligned - gt[0]) ** 2).sum() - 1e-6
    assert best == pytest.approx(np.linalg.norm(aligned - gt[0], axis=1).mean())


def test_pck3d_and_auc_count_joints_within_the_thresholds():
    gt = np.zeros((1, 4, 3))
    pred = gt.copy()
    pred[0, 1:, 0] = [40.0, 149.0, 400.0]  # root exact; errors 0, 40, 149, 400 mm
    assert pck3d(pred, gt) == pytest.approx(75.0)
    assert pck3d(pred, gt, threshold=30) == pytest.approx(25.0)
    # per threshold 0, 5, ..., 150: the root always, 40 mm from 40 on, 149 mm only at 150
    expected = np.mean([(1 + (t >= 40) + (t >= 149)) / 4 for t in AUC_THRESHOLDS_MM]) * 100
    assert auc(pred, gt) == pytest.approx(expected)
    assert evaluate3d(pred, gt) == pytest.approx({"MPJPE": (0 + 40 + 149 + 400) / 4, "PCK3D": 75.0,
                                                  "AUC": expected, "PA-MPJPE": pa_mpjpe(pred, gt)})


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(N, J, 3\)"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    assert mpjpe(np.ones((17, 3)), np.ones((17, 3))) == 0.0  # one pose without the batch axis


def test_the_metrics_import_without_torch():
    code = "import sys, trainers.pose3d.metrics, trainers.pose3d; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
