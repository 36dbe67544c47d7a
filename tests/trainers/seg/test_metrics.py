"""confusion_matrix and miou against a plain numpy implementation written from the definition."""

import math

import numpy as np
import pytest
import torch

from trainers.seg.metrics import confusion_matrix, miou

C = 19


def naive(pred: np.ndarray, target: np.ndarray, classes: int, ignore: int = 255):
    conf = np.zeros((classes, classes), dtype=np.int64)
    for t, p in zip(target.ravel(), pred.ravel()):
        if t != ignore:
            conf[t, p] += 1
    ious = []
    for c in range(classes):
        tp = conf[c, c]
        fp = conf[:, c].sum() - tp
        fn = conf[c, :].sum() - tp
        ious.append(tp / (tp + fp + fn) if tp + fp + fn else None)
    present = [v for v in ious if v is not None]
    return conf, 100 * sum(present) / len(present), ious


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_definition_with_ignore_pixels_and_absent_classes(seed):
    rng = np.random.default_rng(seed)
    # classes 3, 7 and 11 never appear anywhere; 12 appears only in predictions (a false positive)
    allowed = np.array([c for c in range(C) if c not in (3, 7, 11, 12)])
    target = rng.choice(allowed, size=(2, 37, 53))
    target[rng.random(target.shape) < 0.2] = 255
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.choice(allowed, size=target.shape))
    pred[pred == 255] = 0
    pred[0, 0, :5] = 12
    want_conf, want_miou, want_ious = naive(pred, target, C)

    conf = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), C, ignore_index=255)
    assert conf.dtype == torch.int64 and conf.shape == (C, C)
    assert np.array_equal(conf.numpy(), want_conf)
    assert conf.sum() == (target != 255).sum()  # every labelled pixel counted once, ignored ones never
    mean, per_class = miou(conf)
    assert mean == pytest.approx(want_miou, abs=1e-9)
    for got, want in zip(per_class, want_ious):
        assert (math.isnan(got) and want is None) or got == pytest.approx(100 * want, abs=1e-9)
    assert per_class[12] == 0.0  # predicted but never true: union > 0, IoU 0, counted in the mean
    assert all(math.isnan(per_class[c]) for c in (3, 7, 11))


def test_perfect_and_hand_computed_cases():
    target = torch.tensor([[0, 0, 1, 1, 255]])
    assert miou(confusion_matrix(target.clamp(max=1), target, 3))[0] == pytest.approx(100.0)
    pred = torch.tensor([[0, 1, 1, 1, 2]])
    # class 0: tp 1, fn 1 -> 1/2; class 1: tp 2, fp 1 -> 2/3; class 2 only under the ignored pixel
    mean, per_class = miou(confusion_matrix(pred, target, 3))
    assert per_class[:2] == pytest.approx([50.0, 200 / 3]) and math.isnan(per_class[2])
    assert mean == pytest.approx((50 + 200 / 3) / 2)


def test_accumulating_batches_equals_one_big_matrix():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randint(0, C, (4, 20, 20), generator=g), torch.randint(0, C, (4, 20, 20), generator=g)
    parts = sum(confusion_matrix(pred[i], target[i], C) for i in range(4))
    assert torch.equal(parts, confusion_matrix(pred, target, C))
