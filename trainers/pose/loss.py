r"""Heatmap losses: target-weighted MSE (the baseline) and msssm.

**mse** — SimpleBaseline's JointsMSELoss: ``0.5 * mean((w * (pred - target))^2)`` over batch,
joints and pixels, ``w`` = 1 for annotated joints inside the heatmap, else 0.

**msssm** — multi-scale spatial softmax. For each visible joint with logits ``z`` over the
H x W heatmap and ground truth ``g`` (heatmap pixels):

.. math::

    \log p = t z - \operatorname{logsumexp}(t z)

    \log \mathrm{in}_r = \operatorname{logsumexp}_{\|x - g\| \le r} \log p(x)

    s_r = \begin{cases} -\log \mathrm{in}_r & m = 0 \\
                        \max(0, \log m - \log \mathrm{in}_r) = -\log(\min(\mathrm{in}_r, m) / m) & m > 0
          \end{cases}

    \mathrm{msssm} = \operatorname{mean}_{r \in rs} s_r + w_{pm} \cdot (-\log p(\mathrm{round}(g)))

with temperature ``t``, radii ``rs``, probability margin ``m`` (``probMargin``) and point-max
weight ``w_pm`` (``pointMaxW``), averaged over visible joints. Everything is computed from
log-probabilities in float32 (logsumexp never exponentiates a large number), so loss and
gradients stay finite for any ``t`` — the notes' implementation, which took ``log`` of summed
probabilities, went NaN above t = 14. The pixel nearest ``g`` is always inside every radius, so
no ``in_r`` is an empty sum.
"""

from __future__ import annotations

import math

import torch

__all__ = ["mse_loss", "msssm_loss", "make_loss"]


def mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    w = weight[:, :, None, None]
    return 0.5 * ((pred.float() - target) * w).pow(2).mean()


def msssm_loss(logits: torch.Tensor, joints: torch.Tensor, weight: torch.Tensor, t: float,
               rs: list[float], prob_margin: float = 0.0, point_max_w: float = 0.0) -> torch.Tensor:
    """``logits`` B x J x H x W, ``joints`` B x J x 2 in heatmap pixels, ``weight`` B x J."""
    b, j, h, w = logits.shape
    logp = torch.log_softmax(t * logits.float().reshape(b, j, h * w), dim=-1)
    ys = torch.arange(h, device=logits.device, dtype=torch.float32)
    xs = torch.arange(w, device=logits.device, dtype=torch.float32)
    gx, gy = joints[..., 0].float(), joints[..., 1].float()
    d2 = (xs.view(1, 1, 1, w) - gx[..., None, None]) ** 2 + (ys.view(1, 1, h, 1) - gy[..., None, None]) ** 2
    d2 = d2.reshape(b, j, h * w)
    nearest = (gy.round().clamp(0, h - 1) * w + gx.round().clamp(0, w - 1)).long()
    is_nearest = torch.zeros_like(d2, dtype=torch.bool).scatter_(-1, nearest[..., None], True)
    terms = []
    for r in rs:
        inside = (d2 <= r * r) | is_nearest
        log_in = torch.logsumexp(logp.masked_fill(~inside, -math.inf), dim=-1)
        if prob_margin > 0:
            terms.append(torch.clamp(math.log(prob_margin) - log_in, min=0))
        else:
            terms.append(-log_in)
    per_joint = torch.stack(terms).mean(dim=0)
    if point_max_w:
        per_joint = per_joint - point_max_w * logp.gather(-1, nearest[..., None]).squeeze(-1)
    visible = (weight > 0).float()
    return (per_joint * visible).sum() / visible.sum().clamp(min=1)


def make_loss(cfg):
    """The configured loss as ``fn(output, batch) -> scalar``."""
    if cfg.name == "mse":
        return lambda out, batch: mse_loss(out, batch["target"], batch["weight"])
    return lambda out, batch: msssm_loss(out, batch["hm_joints"], batch["weight"], cfg.t, list(cfg.rs),
                                         cfg.probMargin, cfg.pointMaxW)
