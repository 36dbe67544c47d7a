"""BiSeNet V1 (Yu et al., 2018): a spatial path that keeps 1/8 resolution, a context path on a
torchvision ResNet with attention-refinement modules on the 1/16 and 1/32 features plus a global
average context, a feature-fusion module, a main head and two auxiliary heads."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

__all__ = ["BiSeNet", "build_model", "count_params", "backbone_parameters"]

_WIDTHS = {"resnet18": (128, 256, 512), "resnet34": (128, 256, 512), "resnet50": (512, 1024, 2048),
           "resnet101": (512, 1024, 2048)}


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _resize(x: torch.Tensor, size, mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=False if mode == "bilinear" else None)


class AttentionRefinement(nn.Module):
    """3x3 conv, then a channel attention from the globally pooled features."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.attention = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Sigmoid())

    def forward(self, x):
        x = self.conv(x)
        return x * self.attention(x.mean((2, 3), keepdim=True))


class ContextPath(nn.Module):
    def __init__(self, backbone: str, upsample: str, pretrained: str = "none"):
        super().__init__()
        net = getattr(torchvision.models, backbone)(weights=None)
        if pretrained != "none":
            _load_backbone(net, pretrained)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
        self.layer2, self.layer3, self.layer4 = net.layer2, net.layer3, net.layer4
        _, c16, c32 = _WIDTHS[backbone]
        self.arm16, self.arm32 = AttentionRefinement(c16, 128), AttentionRefinement(c32, 128)
        self.global_context = ConvBNReLU(c32, 128, kernel=1)
        self.head32, self.head16 = ConvBNReLU(128, 128), ConvBNReLU(128, 128)
        self.upsample = upsample

    def forward(self, x):
        f8 = self.layer2(self.stem(x))
        f16 = self.layer3(f8)
        f32 = self.layer4(f16)
        context = self.global_context(f32.mean((2, 3), keepdim=True))
        up32 = self.head32(_resize(self.arm32(f32) + context, f16.shape[-2:], self.upsample))
        up16 = self.head16(_resize(self.arm16(f16) + up32, f8.shape[-2:], self.upsample))
        return up16, up32  # 1/8 and 1/16, 128 channels each


class SpatialPath(nn.Sequential):
    def __init__(self, widths: list[int]):
        a, b, c = widths
        super().__init__(ConvBNReLU(3, a, kernel=7, stride=2), ConvBNReLU(a, b, stride=2),
                         ConvBNReLU(b, c, stride=2))


class FeatureFusion(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, cout, kernel=1)
        self.attention = nn.Sequential(nn.Conv2d(cout, cout // 4, 1), nn.ReLU(inplace=True),
                                       nn.Conv2d(cout // 4, cout, 1), nn.Sigmoid())

    def forward(self, spatial, context):
        x = self.conv(torch.cat([spatial, context], dim=1))
        return x + x * self.attention(x.mean((2, 3), keepdim=True))


class Head(nn.Module):
    def __init__(self, cin: int, mid: int, classes: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.classifier = nn.Conv2d(mid, classes, 1)

    def forward(self, x):
        return self.classifier(self.conv(x))


class BiSeNet(nn.Module):
    """``forward`` returns the main logits at input size; in training mode with aux heads, a tuple
    (main, aux from the 1/8 context features, aux from the 1/16 ones), all at input size."""

    def __init__(self, classes: int = 19, backbone: str = "resnet18", sp_channels=(64, 64, 128),
                 aux: bool = True, upsample: str = "bilinear", pretrained: str = "none"):
        super().__init__()
        self.context = ContextPath(backbone, upsample, pretrained)
        self.spatial = SpatialPath(list(sp_channels))
        self.fusion = FeatureFusion(sp_channels[-1] + 128, 256)
        self.head = Head(256, 256, classes)
        self.aux_heads = nn.ModuleList([Head(128, 64, classes), Head(128, 64, classes)]) if aux else None
        self.upsample = upsample

    def forward(self, x):
        size = x.shape[-2:]
        c8, c16 = self.context(x)
        s8 = self.spatial(x)
        if s8.shape[-2:] != c8.shape[-2:]:  # odd input sizes round differently in the two paths
            s8 = _resize(s8, c8.shape[-2:], self.upsample)
        out = _resize(self.head(self.fusion(s8, c8)), size, self.upsample)
        if self.training and self.aux_heads is not None:
            return (out, _resize(self.aux_heads[0](c8), size, self.upsample),
                    _resize(self.aux_heads[1](c16), size, self.upsample))
        return out


def backbone_parameters(model: BiSeNet) -> set[int]:
    """ids of the ResNet's parameters (the rest are 'heads' for optim.head_lr_factor)."""
    ctx = model.context
    return {id(p) for m in (ctx.stem, ctx.layer2, ctx.layer3, ctx.layer4) for p in m.parameters()}


def _load_backbone(net: nn.Module, path: str) -> None:
    if not Path(path).is_file():
        raise FileNotFoundError(f"model.pretrained: {path} is not a file; give a local torchvision "
                                "ResNet state_dict (nothing is downloaded), or 'none'")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    missing, _ = net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
    if [k for k in missing if not k.startswith("fc.")]:
        raise ValueError(f"model.pretrained: {path} is missing {len(missing)} backbone weights, e.g. "
                         f"{missing[0]}; is it a state_dict of the same ResNet?")


def build_model(cfg) -> BiSeNet:
    m = cfg.model
    return BiSeNet(19, m.backbone, list(m.sp_channels), m.aux, m.upsample, m.pretrained)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
