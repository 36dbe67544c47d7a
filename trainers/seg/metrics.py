"""Confusion matrix and mean IoU, computed on the tensors' device with one bincount."""

from __future__ import annotations

import torch

from trainers.seg.cityscapes import CLASSES

__all__ = ["confusion_matrix", "miou", "CLASSES"]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """``conf[t, p]`` = pixels of true class t predicted as p, over pixels whose target is not
    ``ignore_index`` (targets outside 0..num_classes-1 are ignored too). int64, on pred's device."""
    target = target.reshape(-1).long()
    pred = pred.reshape(-1).long()
    keep = (target != ignore_index) & (target >= 0) & (target < num_classes)
    index = target[keep] * num_classes + pred[keep]
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def miou(conf: torch.Tensor) -> tuple[float, list[float]]:
    """(mean IoU in percent, per-class IoU in percent). IoU_c = TP / (TP + FP + FN); a class with
    an empty union (absent from targets and predictions) is NaN and left out of the mean."""
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    present = union > 0
    mean = float(iou[present].mean()) * 100 if bool(present.any()) else float("nan")
    return mean, [float(v) * 100 for v in iou.cpu()]
