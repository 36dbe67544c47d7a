"""Cross entropy and OHEM cross entropy over the main and auxiliary heads."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OhemCELoss", "make_loss"]


class OhemCELoss(nn.Module):
    """Online hard example mining: the mean of the per-pixel cross entropies above -ln(thresh)
    (pixels whose true-class probability is below ``thresh``); when fewer than
    n_min = (non-ignored labels) // 16 pass, the mean of the n_min largest instead."""

    def __init__(self, thresh: float = 0.7, ignore_index: int = 255):
        super().__init__()
        self.thresh = -math.log(thresh)
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # ignored pixels are zeros here: never above the threshold, last in the top-k
        loss = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="none").flatten()
        n_min = int((labels != self.ignore_index).sum()) // 16
        hard = loss[loss > self.thresh]
        if hard.numel() < n_min:
            hard = loss.topk(n_min).values
        if hard.numel() == 0:  # nothing labelled (n_min 0) and nothing hard: no gradient, not NaN
            return loss.sum() * 0.0
        return hard.mean()


class _CrossEntropy(nn.Module):
    def __init__(self, ignore_index: int):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits, labels):
        if not bool((labels != self.ignore_index).any()):
            return logits.sum() * 0.0
        return F.cross_entropy(logits, labels, ignore_index=self.ignore_index)


def make_loss(cfg_loss, aux_weight: float):
    """``loss(outputs, labels)`` for a model output or a (main, aux, aux) tuple; returns
    (total, main-head loss)."""
    criterion = (OhemCELoss(cfg_loss.thresh, cfg_loss.ignore_index) if cfg_loss.name == "ohem"
                 else _CrossEntropy(cfg_loss.ignore_index))

    def loss(outputs, labels):
        if isinstance(outputs, torch.Tensor):
            main = criterion(outputs.float(), labels)
            return main, main
        main = criterion(outputs[0].float(), labels)
        total = main + aux_weight * sum(criterion(o.float(), labels) for o in outputs[1:])
        return total, main

    return loss
