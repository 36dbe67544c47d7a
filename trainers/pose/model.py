"""SimpleBaseline: a torchvision encoder, stride-2 deconvolutions, a 1x1 conv to heatmaps."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

__all__ = ["PoseNet", "build_model", "count_params", "encoder", "load_pretrained"]


def encoder(name: str) -> tuple[nn.Module, int]:
    """The backbone without its classifier, and its output channels (stride 32)."""
    net = getattr(torchvision.models, name)(weights=None)
    if name.startswith("resnet"):
        body = nn.Sequential(*list(net.children())[:-2])
        return body, net.fc.in_features
    if name.startswith("densenet"):
        return nn.Sequential(net.features, nn.ReLU(inplace=True)), net.classifier.in_features
    if name.startswith("mobilenet"):
        channels = net.features[-1].out_channels if hasattr(net.features[-1], "out_channels") \
            else net.features[-1][0].out_channels
        return net.features, channels
    if name.startswith("shufflenet"):
        body = nn.Sequential(net.conv1, net.maxpool, net.stage2, net.stage3, net.stage4, net.conv5)
        return body, net.conv5[0].out_channels
    raise ValueError(f"unknown backbone {name!r}")


class PoseNet(nn.Module):
    def __init__(self, backbone: str, joints: int, deconv: list[int], kernel: int = 4):
        super().__init__()
        self.encoder, channels = encoder(backbone)
        padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[kernel]
        layers: list[nn.Module] = []
        for out in deconv:
            layers += [nn.ConvTranspose2d(channels, out, kernel, stride=2, padding=padding,
                                          output_padding=output_padding, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.head = nn.Sequential(*layers)
        self.final = nn.Conv2d(channels, joints, kernel_size=1)
        for m in self.head.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.head(self.encoder(x)))


def load_pretrained(model: PoseNet, path: str) -> None:
    """Load backbone weights from a local state_dict (torchvision classification keys work)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"model.pretrained: {path} does not exist; give a local state_dict "
                                "path (orch downloads nothing at run time) or 'none'")
    state = torch.load(p, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    target = model.encoder.state_dict()
    # torchvision names ('layer1.0.conv1.weight') -> Sequential indices, matched by order and shape
    mapped = {}
    mine = [(k, v.shape) for k, v in target.items()]
    theirs = [(k, v) for k, v in state.items() if not k.startswith(("fc.", "classifier."))]
    for (k_mine, shape), (k_theirs, value) in zip(mine, theirs):
        if value.shape != shape:
            raise ValueError(f"model.pretrained: {path}: {k_theirs} has shape {tuple(value.shape)}, "
                             f"the backbone expects {tuple(shape)} at {k_mine}; wrong backbone?")
        mapped[k_mine] = value
    if len(mapped) != len(mine):
        raise ValueError(f"model.pretrained: {path} has {len(theirs)} backbone tensors, the backbone "
                         f"needs {len(mine)}; wrong backbone?")
    model.encoder.load_state_dict(mapped)


def build_model(backbone: str, joints: int, deconv: list[int], kernel: int = 4,
                pretrained: str = "none") -> PoseNet:
    model = PoseNet(backbone, joints, deconv, kernel)
    if pretrained and pretrained != "none":
        load_pretrained(model, pretrained)
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
