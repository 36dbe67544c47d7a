"""Heatmap decoding (argmax, quarter pixel, DARK), MPII PCKh (the standard evaluation), COCO OKS AP
(pycocotools) and OKS non-maximum suppression."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from trainers.pose.skeleton import COCO_SIGMAS, MPII_EXCLUDED, MPII_PARTS

__all__ = ["decode", "pckh", "coco_ap", "oks_nms", "PCKH_KEYS"]

PCKH_KEYS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")


def _peaks(hm: torch.Tensor):
    b, j, h, w = hm.shape
    maxval, idx = hm.reshape(b, j, -1).max(dim=-1)
    return maxval, idx % w, torch.div(idx, w, rounding_mode="floor")


def _quarter(hm: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A quarter pixel toward the higher neighbour, on each axis where there is one."""
    b, j, h, w = hm.shape
    flat = hm.reshape(b * j, h, w)
    ar = torch.arange(b * j, device=hm.device)
    xi, yi = x.clamp(1, w - 2).reshape(-1), y.clamp(1, h - 2).reshape(-1)
    dx = (flat[ar, yi, xi + 1] - flat[ar, yi, xi - 1]).reshape(b, j)
    dy = (flat[ar, yi + 1, xi] - flat[ar, yi - 1, xi]).reshape(b, j)
    sx = torch.where((x > 0) & (x < w - 1), torch.sign(dx) * 0.25, torch.zeros_like(dx))
    sy = torch.where((y > 0) & (y < h - 1), torch.sign(dy) * 0.25, torch.zeros_like(dy))
    return sx, sy


def _dark(hm: torch.Tensor, x: torch.Tensor, y: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """DARK (Zhang et al., CVPR 2020): smooth with the training Gaussian (peak height kept), take
    the log, and step by Newton's rule ``-H^-1 g`` from the argmax (a Gaussian's log is a quadric,
    so this lands on its centre). Steps longer than a pixel (a flat or saddle point) are dropped."""
    b, j, h, w = hm.shape
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, device=hm.device, dtype=torch.float32)
    k1 = torch.exp(-t**2 / (2 * sigma**2))
    k1 = k1 / k1.sum()
    flat = hm.reshape(b * j, 1, h, w).clamp(min=0)
    smooth = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), k1.view(1, 1, 1, -1))
    smooth = F.conv2d(F.pad(smooth, (0, 0, radius, radius), mode="replicate"), k1.view(1, 1, -1, 1))
    peak = flat.amax(dim=(2, 3), keepdim=True)
    smooth = smooth * peak / smooth.amax(dim=(2, 3), keepdim=True).clamp(min=1e-10)
    log = F.pad(smooth.clamp(min=1e-10).log(), (2, 2, 2, 2), mode="replicate")[:, 0]
    ar = torch.arange(b * j, device=hm.device)
    cx, cy = x.reshape(-1) + 2, y.reshape(-1) + 2

    def at(dx: int, dy: int) -> torch.Tensor:
        return log[ar, cy + dy, cx + dx]

    gx, gy = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy**2
    ok = det.abs() > 1e-12
    safe = torch.where(ok, det, torch.ones_like(det))
    ox = torch.where(ok, -(hyy * gx - hxy * gy) / safe, torch.zeros_like(det))
    oy = torch.where(ok, -(hxx * gy - hxy * gx) / safe, torch.zeros_like(det))
    far = (ox.abs() > 1) | (oy.abs() > 1)
    ox, oy = torch.where(far, 0.0, ox), torch.where(far, 0.0, oy)
    return ox.reshape(b, j), oy.reshape(b, j)


def decode(heatmaps: torch.Tensor, subpixel: str = "quarter", sigma: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The peak of each joint's heatmap, refined below a pixel by ``subpixel``: ``none`` (the
    argmax), ``quarter`` (SimpleBaseline) or ``dark`` (``sigma``: the training Gaussian).
    Returns (B x J x 2 positions in heatmap pixels, B x J peak values)."""
    hm = heatmaps.float()
    maxval, x, y = _peaks(hm)
    if subpixel == "none":
        sx = sy = torch.zeros_like(maxval)
    elif subpixel == "dark":
        sx, sy = _dark(hm, x, y, sigma)
    else:
        sx, sy = _quarter(hm, x, y)
    return torch.stack([x.float() + sx, y.float() + sy], dim=-1), maxval


def oks_nms(keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, thresh: float,
            kpt_thresh: float = 0.0, sigmas=COCO_SIGMAS) -> list[int]:
    """Indices of the people kept by greedy OKS non-maximum suppression (one image's people:
    ``keypoints`` N x J x 3 with peak values, box ``areas``): the best-scored person removes every
    other whose OKS with it is above ``thresh``, over its keypoints scoring above ``kpt_thresh``."""
    var = (2 * np.asarray(sigmas, np.float64) / 10.0) ** 2
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep: list[int] = []
    while order:
        i, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(i))
        if not len(rest):
            break
        d2 = ((keypoints[rest, :, :2] - keypoints[i, None, :, :2]) ** 2).sum(-1)
        e = d2 / var / ((areas[i] + areas[rest])[:, None] / 2 + np.spacing(1)) / 2
        used = keypoints[i, :, 2] > kpt_thresh
        oks = np.exp(-e[:, used]).mean(axis=1) if used.any() else np.zeros(len(rest))
        order = [int(j) for j, o in zip(rest, oks) if o <= thresh]
    return keep


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
