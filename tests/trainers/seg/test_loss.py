"""OhemCELoss against the formula, written out in float64 with explicit log-softmax."""

import math

import pytest
import torch

from trainers.seg.loss import OhemCELoss, make_loss


def formula(logits, labels, thresh, ignore=255):
    logp = logits.double().log_softmax(1)
    losses = []
    for b in range(labels.shape[0]):
        for y in range(labels.shape[1]):
            for x in range(labels.shape[2]):
                t = int(labels[b, y, x])
                losses.append(0.0 if t == ignore else -float(logp[b, t, y, x]))
    n_min = int((labels != ignore).sum()) // 16
    hard = [v for v in losses if v > -math.log(thresh)]
    if len(hard) < n_min:
        hard = sorted(losses, reverse=True)[:n_min]
    return sum(hard) / len(hard), len(hard), n_min


def batch(scale, seed=0, classes=5):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, classes, 12, 10, generator=g) * scale
    labels = torch.randint(0, classes, (2, 12, 10), generator=g)
    labels[:, :3] = 255
    return logits, labels


def test_threshold_branch():
    logits, labels = batch(scale=1.0)  # near-uniform predictions: most pixels are hard
    want, kept, n_min = formula(logits, labels, 0.7)
    assert kept > n_min
    assert float(OhemCELoss(0.7, 255)(logits, labels)) == pytest.approx(want, rel=1e-5)


def test_n_min_branch():
    logits, labels = batch(scale=1.0)
    # make the model confident and right on all but a handful of pixels
    confident = torch.nn.functional.one_hot(labels.clamp(max=4), 5).permute(0, 3, 1, 2).float() * 20
    confident[0, :, 5, :3] = logits[0, :, 5, :3]
    want, kept, n_min = formula(confident, labels, 0.7)
    assert kept == n_min and n_min == (labels != 255).sum() // 16
    assert float(OhemCELoss(0.7, 255)(confident, labels)) == pytest.approx(want, rel=1e-5)


def test_gradient_flows_and_all_ignored_gives_zero_not_nan():
    logits, labels = batch(scale=3.0)
    logits.requires_grad_(True)
    OhemCELoss()(logits, labels).backward()
    assert logits.grad.abs().sum() > 0 and logits.grad[:, :, :3].abs().sum() == 0  # ignored rows
    empty = torch.full_like(labels, 255)
    assert float(OhemCELoss()(logits, empty).detach()) == 0.0


class _L:
    def __init__(self, name):
        self.name, self.thresh, self.ignore_index = name, 0.7, 255


@pytest.mark.parametrize("name", ["ce", "ohem"])
def test_aux_heads_add_weighted_losses(name):
    logits, labels = batch(scale=2.0)
    a, b = batch(scale=2.0, seed=1)[0], batch(scale=2.0, seed=2)[0]
    single = make_loss(_L(name), 0.4)
    main, _ = single(logits, labels)
    total, main_again = single((logits, a, b), labels)
    assert float(main_again) == pytest.approx(float(main))
    assert float(total) == pytest.approx(float(main + 0.4 * (single(a, labels)[0] + single(b, labels)[0])), rel=1e-6)
