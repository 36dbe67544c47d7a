import math

import pytest
import torch

from trainers.pose.loss import mse_loss, msssm_loss

RS = [8, 4, 2, 1]


def batch(seed=0, b=2, j=4, h=16, w=16, scale=5.0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(b, j, h, w, generator=g) * scale).requires_grad_(True)
    joints = torch.rand(b, j, 2, generator=g) * torch.tensor([w - 1, h - 1])
    weight = torch.ones(b, j)
    weight[0, 1] = 0
    return logits, joints, weight


def naive_msssm(logits, joints, weight, t, rs, m, pw):
    """Straight from the definition in float64: probabilities, masses, logs."""
    b, j, h, w = logits.shape
    total, count = 0.0, 0
    for bi in range(b):
        for ji in range(j):
            if weight[bi, ji] <= 0:
                continue
            p = torch.softmax(t * logits[bi, ji].double().flatten(), 0).reshape(h, w)
            gx, gy = joints[bi, ji].tolist()
            nx, ny = min(max(round(gx), 0), w - 1), min(max(round(gy), 0), h - 1)
            terms = []
            for r in rs:
                mass = sum(p[y, x] for y in range(h) for x in range(w)
                           if (x - gx) ** 2 + (y - gy) ** 2 <= r * r or (x, y) == (nx, ny))
                terms.append(-math.log(min(float(mass), m) / m) if m > 0 else -math.log(float(mass)))
            total += sum(terms) / len(terms) - pw * math.log(float(p[ny, nx]))
            count += 1
    return total / count


@pytest.mark.parametrize("t,m,pw", [(1.0, 0.0, 0.0), (2.0, 0.5, 0.0), (0.5, 0.8, 4.0), (3.0, 0.0, 1.0)])
def test_msssm_matches_its_definition(t, m, pw):
    logits, joints, weight = batch(scale=1.0)
    got = msssm_loss(logits, joints, weight, t, RS, m, pw)
    assert got.item() == pytest.approx(naive_msssm(logits.detach(), joints, weight, t, RS, m, pw), rel=1e-5)


def test_margin_term_vanishes_once_the_mass_reaches_the_margin():
    logits = torch.full((1, 1, 9, 9), -10.0)
    logits[0, 0, 4, 4] = 10.0  # all mass on the ground truth pixel
    joints = torch.tensor([[[4.0, 4.0]]])
    loss = msssm_loss(logits, joints, torch.ones(1, 1), 1.0, [1.0], prob_margin=0.8)
    assert loss.item() == 0.0
    spread = msssm_loss(torch.zeros(1, 1, 9, 9), joints, torch.ones(1, 1), 1.0, [1.0], prob_margin=0.8)
    assert spread.item() == pytest.approx(-math.log((5 / 81) / 0.8), rel=1e-5)  # 5 pixels within r=1


@pytest.mark.parametrize("t", [1.0, 14.0, 15.0, 50.0, 100.0])
@pytest.mark.parametrize("amp", [False, True])
def test_msssm_is_finite_with_finite_gradients_at_high_temperature(t, amp):
    """The notes lost runs to NaN above t = 14; logits of magnitude 30 make t * z ~ 3000."""
    logits, joints, weight = batch(seed=int(t), scale=30.0)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        out = logits * 1.0  # the model's output dtype under autocast
        if amp:
            out = out.to(torch.bfloat16)
        loss = msssm_loss(out, joints, weight, t, RS, 0.8, 1.0) + msssm_loss(out, joints, weight, t, RS)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_mse_ignores_joints_with_zero_weight():
    pred = torch.zeros(1, 2, 4, 4)
    target = torch.ones(1, 2, 4, 4)
    assert mse_loss(pred, target, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(0.5 * 0.5)
    assert mse_loss(pred, target, torch.tensor([[1.0, 1.0]])).item() == pytest.approx(0.5)
