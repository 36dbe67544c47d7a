"""BiSeNet's outputs, and the evaluation modes' stitching (sliding window, flip, scales)."""

import contextlib
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from trainers.seg.evaluate import evaluate, predict
from trainers.seg.model import BiSeNet, backbone_parameters, count_params


def test_outputs_at_input_size_with_and_without_aux_heads():
    torch.manual_seed(0)
    model = BiSeNet(19, "resnet18", [16, 16, 32], aux=True)
    x = torch.randn(2, 3, 70, 90)  # not a multiple of 32: both paths still meet
    main, aux8, aux16 = model(x)
    assert main.shape == aux8.shape == aux16.shape == (2, 19, 70, 90)
    model.eval()
    assert model(x).shape == (2, 19, 70, 90)
    plain = BiSeNet(19, "resnet18", [16, 16, 32], aux=False)
    assert isinstance(plain.train()(x), torch.Tensor)
    assert count_params(plain) < count_params(model)
    wide = BiSeNet(19, "resnet18", [64, 64, 128], aux=False)
    assert count_params(wide) > count_params(plain)
    resnet = set(map(id, model.context.layer4.parameters())) | set(map(id, model.context.stem.parameters()))
    assert resnet <= backbone_parameters(model)
    assert not backbone_parameters(model) & set(map(id, model.head.parameters()))


def test_nearest_and_bilinear_differ_with_the_same_weights():
    torch.manual_seed(0)
    bilinear = BiSeNet(19, "resnet18", [16, 16, 32], aux=False, upsample="bilinear").eval()
    nearest = BiSeNet(19, "resnet18", [16, 16, 32], aux=False, upsample="nearest").eval()
    nearest.load_state_dict(bilinear.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = bilinear(x), nearest(x)
    assert a.shape == b.shape and not torch.allclose(a, b)
    # nearest upsampling by 8 makes 8x8 blocks of equal logits
    assert torch.equal(b[..., 0:8, 0:8], b[..., 0:1, 0:1].expand_as(b[..., 0:8, 0:8]))


def pointwise(seed=0):
    """A 1x1 conv: no spatial context, so any tiling of the image must give the same answer."""
    torch.manual_seed(seed)
    return nn.Conv2d(3, 19, 1)


def test_sliding_window_stitches_back_the_whole_image():
    model, x = pointwise(), torch.randn(2, 3, 37, 61)
    whole = predict(model, x, [1.0], flip=False)
    assert whole.shape == (2, 19, 37, 61)
    assert torch.allclose(whole.sum(1), torch.ones(2, 37, 61), atol=1e-5)
    for window, stride in (((16, 20), 0.5), ((37, 61), 2 / 3), ((50, 80), 1.0), ((10, 7), 1.0)):
        assert torch.allclose(predict(model, x, [1.0], False, window, stride), whole, atol=1e-5), window


def test_flip_and_scales_average_probabilities():
    model, x = pointwise(), torch.randn(1, 3, 32, 48)
    ss = predict(model, x, [1.0], flip=False)
    assert torch.allclose(predict(model, x, [1.0], flip=True), 2 * ss, atol=1e-5)  # sums, argmax unchanged
    ms = predict(model, x, [0.5, 1.0, 1.5], flip=True)
    assert ms.shape == ss.shape and torch.allclose(ms.sum(1), torch.full((1, 32, 48), 6.0), atol=1e-4)


def test_evaluate_reports_each_mode_and_only_present_classes():
    model = pointwise()
    labels = torch.zeros(2, 24, 40, dtype=torch.long)
    labels[:, :12] = 10  # sky over road
    labels[:, :, :4] = 255
    items = [{"image": torch.randn(3, 24, 40), "label": labels[i], "index": i} for i in range(2)]
    cfg = SimpleNamespace(eval=SimpleNamespace(scales=[0.75, 1.0], scale=1.0, crop=None, stride=2 / 3),
                          train=SimpleNamespace(channels_last=False))
    metrics = evaluate(model, [items], torch.device("cpu"), contextlib.nullcontext, cfg, ["ss", "ms_flip"])
    assert metrics["val/mIoU"] == metrics["val/mIoU_ss"] and "val/mIoU_ms_flip" in metrics
    assert all(0 <= metrics[k] <= 100 for k in metrics if k.startswith("val/"))
    per_class = {k for k in metrics if k.startswith("val/iou/")}
    assert {"val/iou/road", "val/iou/sky"} <= per_class
    assert not any(math.isnan(v) for v in metrics.values())  # no NaN for absent classes: they are left out


def test_oracle_scores_100():
    class Oracle(nn.Module):
        def forward(self, x):  # channel 0 of the image holds the class id
            return nn.functional.one_hot(x[:, 0].round().long(), 19).permute(0, 3, 1, 2).float() * 50

    label = torch.randint(0, 19, (1, 16, 16))
    image = torch.stack([label[0].float()] * 3)
    cfg = SimpleNamespace(eval=SimpleNamespace(scales=[1.0], scale=1.0, crop=[8, 8], stride=0.5),
                          train=SimpleNamespace(channels_last=False))
    metrics = evaluate(Oracle(), [[{"image": image, "label": label[0], "index": 0}]], torch.device("cpu"),
                       contextlib.nullcontext, cfg, ["ss", "flip"])
    assert metrics["val/mIoU"] == pytest.approx(100.0)
