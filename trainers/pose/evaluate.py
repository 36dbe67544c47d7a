"""Validation: forward (with optional flip test), decode, map back to the image, score."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from trainers._dist import gather_objects
from trainers._torch import as_input
from trainers.pose import transforms as T
from trainers.pose.metrics import coco_ap, decode, oks_nms, pckh

__all__ = ["predict", "evaluate"]


def _flip_back(heatmaps: torch.Tensor, pairs, shift: bool) -> torch.Tensor:
    out = heatmaps.flip(3)
    idx = list(range(out.shape[1]))
    for a, b in pairs:
        idx[a], idx[b] = b, a
    out = out[:, idx]
    if shift:  # the flipped argmax lands one pixel left of the unflipped one (SimpleBaseline)
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def _scaled(x: torch.Tensor, scale: float) -> torch.Tensor:
    """The batch resized by ``scale`` (each side rounded to a multiple of 32): test-time input scale."""
    if scale == 1.0:
        return x
    h, w = (max(32, int(round(d * scale / 32)) * 32) for d in x.shape[-2:])
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


@torch.no_grad()
def predict(model, loader, device, autocast, flip_pairs, cfg, channels_last: bool):
    """Image-space predictions (N x J x 2), peak values (N x J) and dataset indices (N), under the
    ``eval`` group's flip test, heatmap shift, sub-pixel refinement and input scale."""
    e = cfg.eval
    model.eval()
    preds, peaks, order = [], [], []
    for batch in loader:
        x = as_input(batch["image"].to(device, non_blocking=True))
        crop_hw = x.shape[-2:]
        x = _scaled(x, e.scale)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            hm = model(x).float()
            if e.flip_test:
                hm = (hm + _flip_back(model(x.flip(3)).float(), flip_pairs, e.shift_heatmap)) / 2
        coords, maxval = decode(hm, e.subpixel, cfg.data.sigma)
        # heatmap pixel centres -> crop pixels: one heatmap pixel spans crop / heatmap pixels
        per_px = np.array([crop_hw[1] / hm.shape[-1], crop_hw[0] / hm.shape[-2]])
        in_crop = (coords.cpu().numpy().astype(np.float64) + 0.5) * per_px - 0.5
        for k, m in enumerate(batch["matrix"].numpy()):
            preds.append(T.apply(T.invert(m), in_crop[k]))
        peaks.append(maxval.cpu().numpy())
        order.append(batch["index"].numpy())
    return np.stack(preds), np.concatenate(peaks), np.concatenate(order)


def _coco_results(people, preds, peaks, e) -> list[dict]:
    """COCO keypoint results: each box's score times the mean peak of its keypoints above
    ``kpt_thresh``, then OKS-NMS per image when ``oks_nms`` is on."""
    by_image: dict[int, list[dict]] = {}
    for p, pred, peak in zip(people, preds, peaks):
        good = peak > e.kpt_thresh
        rescore = float(peak[good].mean()) if good.any() else 0.0
        kpts = np.concatenate([pred, peak[:, None]], axis=1)
        area = float(p.area) or float(np.prod(p.scale) * T.PIXEL_STD**2)
        by_image.setdefault(p.image_id, []).append({"kpts": kpts, "score": p.score * rescore, "area": area})
    results = []
    for image_id, found in by_image.items():
        keep = range(len(found))
        if e.oks_nms and len(found) > 1:
            keep = oks_nms(np.stack([f["kpts"] for f in found]), np.array([f["score"] for f in found]),
                           np.array([f["area"] for f in found]), e.oks_thresh, e.kpt_thresh)
        results += [{"image_id": image_id, "category_id": 1, "score": found[i]["score"],
                     "keypoints": [float(v) for v in found[i]["kpts"].ravel()]} for i in keep]
    return results


def evaluate(model, loader, device, autocast, cfg, dataset, gt_path: str) -> dict[str, float]:
    """``val/...`` metrics: PCKh per part, Mean and Mean@0.1 (MPII), or OKS AP (COCO)."""
    preds, peaks, order = predict(model, loader, device, autocast, dataset.flip_pairs, cfg,
                                  cfg.train.channels_last and device.type == "cuda")
    # data-parallel workers each predicted a shard: every rank scores the whole set, the same way
    parts = gather_objects((preds, peaks, order))
    preds, peaks, order = (np.concatenate([part[i] for part in parts]) for i in range(3))
    people = [dataset.people[i] for i in order]
    if cfg.data.dataset == "mpii":
        gt = np.stack([p.joints for p in people])
        vis = np.stack([p.vis for p in people])
        heads = np.array([p.head_size for p in people])
        out = {f"val/{k}": v for k, v in pckh(preds, gt, vis, heads, 0.5).items()}
        # 0.1 exactly; the widely copied reference script's "Mean@0.1" reads threshold 0.11
        out["val/Mean@0.1"] = pckh(preds, gt, vis, heads, 0.1)["Mean"]
        out["val/Mean@0.1_ref"] = pckh(preds, gt, vis, heads, 0.11)["Mean"]  # as the reference script prints it
        return out
    return {f"val/{k}": v for k, v in coco_ap(gt_path, _coco_results(people, preds, peaks, cfg.eval)).items()}
