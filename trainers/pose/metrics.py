"""Heatmap decoding, MPII PCKh (the standard evaluation) and COCO OKS AP (pycocotools)."""

from __future__ import annotations

import numpy as np
import torch

from trainers.pose.skeleton import MPII_EXCLUDED, MPII_PARTS

__all__ = ["decode", "pckh", "coco_ap", "PCKH_KEYS"]

PCKH_KEYS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")


def decode(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax per joint with the quarter-pixel shift toward the higher neighbour.
    Returns (B x J x 2 positions in heatmap pixels, B x J peak values)."""
    b, j, h, w = heatmaps.shape
    hm = heatmaps.float()
    maxval, idx = hm.reshape(b, j, -1).max(dim=-1)
    x, y = (idx % w), torch.div(idx, w, rounding_mode="floor")
    xi, yi = x.clamp(1, w - 2), y.clamp(1, h - 2)
    flat = hm.reshape(b * j, h, w)
    ar = torch.arange(b * j, device=hm.device)
    xi_f, yi_f = xi.reshape(-1), yi.reshape(-1)
    dx = flat[ar, yi_f, xi_f + 1] - flat[ar, yi_f, xi_f - 1]
    dy = flat[ar, yi_f + 1, xi_f] - flat[ar, yi_f - 1, xi_f]
    inner_x = ((x > 0) & (x < w - 1)).reshape(-1)
    inner_y = ((y > 0) & (y < h - 1)).reshape(-1)
    sx = torch.where(inner_x, torch.sign(dx) * 0.25, torch.zeros_like(dx))
    sy = torch.where(inner_y, torch.sign(dy) * 0.25, torch.zeros_like(dy))
    coords = torch.stack([x.float() + sx.reshape(b, j), y.float() + sy.reshape(b, j)], dim=-1)
    return coords, maxval


def pckh(pred, gt, visible, head_size, threshold: float = 0.5) -> dict[str, float]:
    """MPII PCKh as the standard evaluation computes it.

    ``pred``, ``gt``: N x 16 x 2 (MPII joint order); ``visible``: N x 16, 1 where annotated;
    ``head_size``: N, already 0.6 x head-box diagonal. A joint counts when its error is at most
    ``threshold * head_size``; unannotated joints are excluded; Head is the head top; each other
    part averages its left and right joints; Mean averages the 14 joints other than pelvis and
    thorax weighted by their annotated counts. Percentages; NaN for a part nobody annotated.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    vis = np.asarray(visible, np.float64) > 0
    size = np.asarray(head_size, np.float64)
    err = np.linalg.norm(pred - gt, axis=-1) / size[:, None]
    hit = (err <= threshold) & vis
    count = vis.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = 100.0 * hit.sum(axis=0) / count
    out = {part: float(np.mean(per_joint[list(joints)])) for part, joints in MPII_PARTS.items()}
    keep = np.ones(16, bool)
    keep[list(MPII_EXCLUDED)] = False
    total = count[keep].sum()
    out["Mean"] = float(100.0 * hit.sum(axis=0)[keep].sum() / total) if total else float("nan")
    return out


def coco_ap(gt_path: str, results: list[dict]) -> dict[str, float]:
    """OKS AP/AP50/AP75/APm/APl/AR through pycocotools; ``results`` in COCO's keypoint format."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = ("AP", "AP50", "AP75", "APm", "APl", "AR")
    if not results:
        return {n: 0.0 for n in names}
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(gt_path)
        dets = coco.loadRes(results)
        ev = COCOeval(coco, dets, "keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = ev.stats  # AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl
    return {name: float(100.0 * max(stats[i], 0.0)) for i, name in zip((0, 1, 2, 3, 4, 5), names)}
