import numpy as np
import pytest
import torch

from trainers.pose.metrics import PCKH_KEYS, decode, pckh


def reference_pckh(pred, gt, visible, head_size, threshold):
    """The MPII evaluation written the way the reference script computes it: joints x people
    arrays, a threshold sweep, masked pelvis/thorax, count-weighted mean. Independent of pckh()."""
    uv_err = np.linalg.norm(np.transpose(pred - gt, (1, 2, 0)), axis=1)  # J x N
    jnt_visible = np.transpose(visible, (1, 0))
    scaled = uv_err / (np.ones((16, 1)) * head_size[None, :]) * jnt_visible
    jnt_count = np.sum(jnt_visible, axis=1)
    less = (scaled <= threshold) * jnt_visible
    per = np.divide(100.0 * np.sum(less, axis=1), jnt_count)
    per = np.ma.array(per, mask=False)
    per.mask[6:8] = True
    count = np.ma.array(jnt_count, mask=False)
    count.mask[6:8] = True
    ratio = count / np.sum(count).astype(np.float64)
    rank, rkne, rhip, lhip, lkne, lank = 0, 1, 2, 3, 4, 5
    rwri, relb, rsho, lsho, lelb, lwri, head = 10, 11, 12, 13, 14, 15, 9
    return {"Head": per[head], "Shoulder": 0.5 * (per[lsho] + per[rsho]),
            "Elbow": 0.5 * (per[lelb] + per[relb]), "Wrist": 0.5 * (per[lwri] + per[rwri]),
            "Hip": 0.5 * (per[lhip] + per[rhip]), "Knee": 0.5 * (per[lkne] + per[rkne]),
            "Ankle": 0.5 * (per[lank] + per[rank]), "Mean": float(np.sum(per * ratio))}


@pytest.mark.parametrize("threshold", [0.5, 0.1, 0.3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pckh_matches_the_reference_evaluation(seed, threshold):
    rng = np.random.default_rng(seed)
    n = 300
    gt = rng.uniform(0, 500, (n, 16, 2))
    head = rng.uniform(10, 60, n)
    pred = gt + rng.normal(0, 1, (n, 16, 2)) * head[:, None, None] * rng.uniform(0.05, 0.6, (n, 16, 1))
    vis = (rng.random((n, 16)) > 0.2).astype(float)
    got = pckh(pred, gt, vis, head, threshold)
    want = reference_pckh(pred, gt, vis, head, threshold)
    assert list(got) == list(PCKH_KEYS)
    for key in PCKH_KEYS:
        assert got[key] == pytest.approx(float(want[key]), abs=1e-6), key
    assert 5 < got["Mean"] < 100


def test_pckh_counts_a_hit_at_exactly_the_threshold_and_ignores_unannotated_joints():
    gt = np.zeros((2, 16, 2))
    pred = gt.copy()
    pred[:, :, 0] = 5.0  # every error is 5 px; head size 10 -> error / size = 0.5 exactly
    vis = np.ones((2, 16))
    assert pckh(pred, gt, vis, np.array([10.0, 10.0]))["Mean"] == 100.0
    pred[1, 9, 0] = 500.0  # a far-off head top, but unannotated: it must not count
    vis[1, 9] = 0
    assert pckh(pred, gt, vis, np.array([10.0, 10.0]))["Head"] == 100.0
    assert pckh(pred, gt, vis, np.array([9.0, 9.0]))["Mean"] == 0.0


def test_pckh_mean_weights_joints_by_their_annotated_counts_and_skips_pelvis_and_thorax():
    gt = np.zeros((4, 16, 2))
    pred = gt.copy()
    vis = np.ones((4, 16))
    pred[:, [6, 7]] = 100.0  # pelvis and thorax wrong: they are not in the Mean
    pred[:, 0] = 100.0  # right ankle wrong in all 4 people ...
    vis[1:, 5] = 0  # ... left ankle annotated once (right)
    out = pckh(pred, gt, vis, np.ones(4))
    assert out["Ankle"] == pytest.approx(50.0)  # (0 + 100) / 2
    assert out["Mean"] == pytest.approx(100 * (4 * 12 + 1) / (4 * 12 + 4 + 1))


def test_decode_shifts_a_quarter_pixel_toward_the_higher_neighbour():
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 3, 4] = 1.0
    hm[0, 0, 3, 5] = 0.5  # right neighbour higher than left
    hm[0, 0, 2, 4] = 0.3  # upper neighbour higher than lower
    hm[0, 1, 0, 7] = 1.0  # on the border: no shift
    coords, peak = decode(hm)
    assert coords[0, 0].tolist() == [4.25, 2.75]
    assert coords[0, 1].tolist() == [7.0, 0.0]
    assert peak[0].tolist() == [1.0, 1.0]
