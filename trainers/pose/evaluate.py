"""Validation: forward (with optional flip test), decode, map back to the image, score."""

from __future__ import annotations

import numpy as np
import torch

from trainers.pose import transforms as T
from trainers.pose.metrics import coco_ap, decode, pckh

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


@torch.no_grad()
def predict(model, loader, device, autocast, flip_pairs, flip_test: bool, shift: bool, channels_last: bool,
            stride: int = 4):
    """Image-space predictions (N x J x 2), peak values (N x J) and dataset indices (N)."""
    model.eval()
    preds, peaks, order = [], [], []
    for batch in loader:
        x = batch["image"].to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            hm = model(x).float()
            if flip_test:
                hm = (hm + _flip_back(model(x.flip(3)).float(), flip_pairs, shift)) / 2
        coords, maxval = decode(hm)
        in_crop = (coords.cpu().numpy().astype(np.float64) + 0.5) * stride - 0.5
        for k, m in enumerate(batch["matrix"].numpy()):
            preds.append(T.apply(T.invert(m), in_crop[k]))
        peaks.append(maxval.cpu().numpy())
        order.append(batch["index"].numpy())
    return np.stack(preds), np.concatenate(peaks), np.concatenate(order)


def evaluate(model, loader, device, autocast, cfg, dataset, gt_path: str) -> dict[str, float]:
    """``val/...`` metrics: PCKh per part, Mean and Mean@0.1 (MPII), or OKS AP (COCO)."""
    preds, peaks, order = predict(model, loader, device, autocast, dataset.flip_pairs, cfg.eval.flip_test,
                                  cfg.eval.shift_heatmap, cfg.train.channels_last and device.type == "cuda",
                                  dataset.stride)
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
    results = []
    for p, pred, peak in zip(people, preds, peaks):
        good = peak > 0.2
        rescore = float(peak[good].mean()) if good.any() else 0.0
        kpts = np.concatenate([pred, peak[:, None]], axis=1).ravel()
        results.append({"image_id": p.image_id, "category_id": 1, "keypoints": [float(v) for v in kpts],
                        "score": p.score * rescore})
    return {f"val/{k}": v for k, v in coco_ap(gt_path, results).items()}
