"""Evaluation-time settings of the pose trainer: sub-pixel refinement, test-time input scale,
OKS-NMS and the number of detected boxes kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.trainers.pose.test_train import smoke_config
from trainers.pose.data import load_coco
from trainers.pose.evaluate import predict
from trainers.pose.metrics import decode, oks_nms


def gaussian(h, w, x, y, sigma=2.0):
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    return torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("x,y", [(10.3, 7.6), (20.8, 15.45), (5.5, 9.1)])
def test_subpixel_refinement_gets_closer_to_a_gaussians_centre(x, y):
    hm = gaussian(32, 32, x, y)[None, None]
    errors = {}
    for mode in ("none", "quarter", "dark"):
        coords, peak = decode(hm, mode, sigma=2.0)
        errors[mode] = np.abs(coords[0, 0].numpy() - [x, y]).max()
        assert peak.item() == pytest.approx(hm.max().item())
    assert errors["none"] <= 0.5 + 1e-6 and errors["quarter"] <= 0.3
    assert errors["dark"] < 0.05 < errors["none"]


def test_dark_keeps_the_argmax_on_a_flat_heatmap():
    coords, _ = decode(torch.ones(1, 2, 8, 8), "dark")
    assert torch.equal(coords, decode(torch.ones(1, 2, 8, 8), "none")[0])


class CentrePeak(torch.nn.Module):
    """A 'network' whose heatmaps peak at the centre of whatever crop it is given (stride 4)."""

    def forward(self, x):
        b, _, h, w = x.shape
        hm = gaussian(h // 4, w // 4, w / 8 - 0.5, h / 8 - 0.5, sigma=1.0)
        return hm.expand(b, 16, -1, -1).clone()


def test_test_time_scale_maps_predictions_back_to_the_same_image_point():
    cfg = smoke_config(**{"eval.flip_test": False, "eval.subpixel": "dark", "data.sigma": 1.0})
    from trainers.pose.train import _loader, build_data

    ds, _ = build_data(cfg, "val")
    loader = _loader(ds, cfg, torch.device("cpu"), False, 0)
    import contextlib

    out = {}
    for scale in (1.0, 1.5, 2.0):
        cfg.eval.scale = scale
        out[scale], _, _ = predict(CentrePeak(), loader, torch.device("cpu"), contextlib.nullcontext,
                                   ds.flip_pairs, cfg, False)
    centres = np.stack([p.center for p in ds.people])
    for scale, preds in out.items():  # the crop's centre is the person's box centre, at any scale
        assert np.abs(preds[:, 0] - centres).max() < 0.5, scale


def test_oks_nms_drops_a_near_duplicate_and_keeps_a_distinct_person():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 100, (17, 2)), np.full((17, 1), 0.9)], axis=1)
    dup = a.copy()
    dup[:, :2] += 0.5
    other = a.copy()
    other[:, :2] += 60
    kpts, scores, areas = np.stack([dup, a, other]), np.array([0.8, 0.9, 0.7]), np.full(3, 5000.0)
    assert oks_nms(kpts, scores, areas, 0.9) == [1, 2]  # the best of the two copies, then the other
    assert oks_nms(kpts, scores, areas, 1.0) == [1, 0, 2]  # nothing is above an OKS of 1
    low = kpts.copy()
    low[0, :, 2] = low[1, :, 2] = 0.1  # no keypoint of the best scores above kpt_thresh: no overlap
    assert oks_nms(low, scores, areas, 0.9, kpt_thresh=0.2) == [1, 0, 2]


def test_det_max_keeps_each_images_best_boxes(tmp_path):
    (tmp_path / "images").mkdir()
    gt = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 64} for i in (1, 2)],
          "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    dets = [{"image_id": i, "category_id": 1, "bbox": [1, 1, 10 + k, 20], "score": s}
            for i in (1, 2) for k, s in enumerate((0.3, 0.95, 0.6, 0.8))]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    every, _ = load_coco(tmp_path, "gt.json", "images", "dets.json", det_score=0.5)
    assert len(every) == 6
    best, _ = load_coco(tmp_path, "gt.json", "images", "dets.json", det_score=0.5, det_max=2)
    assert sorted((p.image_id, p.score) for p in best) == [(1, 0.8), (1, 0.95), (2, 0.8), (2, 0.95)]
    assert {p.area for p in best if p.score == 0.95} == {11 * 20}


class Pooled(torch.nn.Module):
    """A 'network' that commutes with mirroring: heatmaps are the image's first channel pooled to
    stride 4, the same for every joint."""

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x[:, :1], 4).expand(-1, 16, -1, -1).clone()


def test_flip_test_is_unbiased_without_the_shift_and_a_pixel_off_with_it():
    import contextlib

    from trainers.pose.train import _loader, build_data

    cfg = smoke_config(**{"eval.flip_test": False, "eval.subpixel": "none"})
    ds, _ = build_data(cfg, "val")
    loader = _loader(ds, cfg, torch.device("cpu"), False, 0)

    def preds(flip: bool, shift: bool):
        cfg.eval.flip_test, cfg.eval.shift_heatmap = flip, shift
        return predict(Pooled(), loader, torch.device("cpu"), contextlib.nullcontext, ds.flip_pairs, cfg, False)[0]

    plain = preds(False, False)
    # orch's crops mirror about their centre: the mirrored image's heatmaps, mirrored back, are the
    # same heatmaps, and averaging them moves no prediction
    assert np.allclose(preds(True, False), plain, atol=1e-6)
    assert not np.allclose(preds(True, True), plain, atol=1e-3)  # SimpleBaseline's shift would bias them
