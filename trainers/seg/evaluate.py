"""Evaluation modes: single scale, flip, multi-scale, multi-scale + flip (softmax averaged over
scales and flips), each optionally by sliding window; confusion matrices accumulate on the device."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from trainers._torch import as_input
from trainers import _dist
from trainers.seg.cityscapes import CLASSES, IGNORE
from trainers.seg.metrics import confusion_matrix, miou

__all__ = ["predict", "evaluate", "mode_settings"]


def mode_settings(mode: str, cfg_eval) -> tuple[list[float], bool]:
    """(scales, flip) of an evaluation mode."""
    scales = list(cfg_eval.scales) if mode.startswith("ms") else [cfg_eval.scale]
    return scales, mode in ("flip", "ms_flip")


def _sliding(model, x: torch.Tensor, window: tuple[int, int], stride: float, classes: int) -> torch.Tensor:
    """Logits of ``x`` from overlapping windows (averaged where they overlap); an image smaller
    than the window is padded and the padding cut off again."""
    h, w = x.shape[-2:]
    wh, ww = window
    ph, pw = max(wh - h, 0), max(ww - w, 0)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph))
    H, W = x.shape[-2:]
    sh, sw = max(1, int(wh * stride)), max(1, int(ww * stride))
    ys = sorted(set(list(range(0, H - wh, sh)) + [H - wh]))
    xs = sorted(set(list(range(0, W - ww, sw)) + [W - ww]))
    out = x.new_zeros((x.shape[0], classes, H, W), dtype=torch.float32)
    count = x.new_zeros((1, 1, H, W), dtype=torch.float32)
    for y in ys:
        for left in xs:
            out[:, :, y: y + wh, left: left + ww] += model(x[:, :, y: y + wh, left: left + ww]).float()
            count[:, :, y: y + wh, left: left + ww] += 1
    return (out / count)[:, :, :h, :w]


@torch.no_grad()
def predict(model, x: torch.Tensor, scales: list[float], flip: bool, window=None, stride: float = 2 / 3,
            classes: int = 19) -> torch.Tensor:
    """Class probabilities [B, classes, H, W] at the input's size, averaged over scales and flips."""
    h, w = x.shape[-2:]
    probs = None
    for s in scales:
        xs = x if s == 1 else F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))),
                                            mode="bilinear", align_corners=False)
        for flipped in (False, True) if flip else (False,):
            xi = xs.flip(-1) if flipped else xs
            logits = _sliding(model, xi, tuple(window), stride, classes) if window else model(xi).float()
            if flipped:
                logits = logits.flip(-1)
            if logits.shape[-2:] != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            p = logits.softmax(1)
            probs = p if probs is None else probs + p
    return probs


def _batches(loader):
    """Items collated as lists; images of one size are stacked, others go one at a time."""
    for items in loader:
        shapes = {tuple(it["image"].shape) for it in items}
        if len(shapes) == 1:
            yield torch.stack([it["image"] for it in items]), torch.stack([it["label"] for it in items])
        else:
            for it in items:
                yield it["image"][None], it["label"][None]


def evaluate(model, loader, device, autocast, cfg, modes: list[str]) -> dict[str, float]:
    """``val/mIoU_<mode>`` for every mode; ``val/mIoU`` and ``val/iou/<class>`` (classes present in
    labels or predictions) for the first."""
    model.eval()
    start = time.perf_counter()
    channels_last = device.type == "cuda" and cfg.train.channels_last
    confs = {m: torch.zeros((19, 19), dtype=torch.int64, device=device) for m in modes}
    for x, label in _batches(loader):
        x, label = as_input(x.to(device, non_blocking=True)), label.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for m in modes:
            scales, flip = mode_settings(m, cfg.eval)
            with autocast():
                probs = predict(model, x, scales, flip, cfg.eval.crop, cfg.eval.stride)
            confs[m] += confusion_matrix(probs.argmax(1), label, 19, IGNORE)
    for m in modes:  # data-parallel workers each counted a shard: the whole set's matrices
        confs[m] = _dist.sum_tensor(confs[m])
    metrics: dict[str, float] = {}
    for i, m in enumerate(modes):
        mean, per_class = miou(confs[m])
        metrics[f"val/mIoU_{m}"] = mean
        if i == 0:
            metrics["val/mIoU"] = mean
            metrics.update({f"val/iou/{name}": v for name, v in zip(CLASSES, per_class) if not math.isnan(v)})
    metrics["time/eval_s"] = time.perf_counter() - start
    model.train()
    return metrics
