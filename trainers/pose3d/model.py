"""A top-down 3-D pose regressor in the manner of HMR/SPIN: a torchvision encoder, global
pooling, and an MLP that refines the pose iteratively from the mean pose, predicting
root-relative 3-D joints (m) and, optionally, the 2-D keypoints in the crop."""

from __future__ import annotations

import torch
from torch import nn

from trainers.pose.model import encoder, load_pretrained

__all__ = ["Pose3DNet", "build_model"]


class Pose3DNet(nn.Module):
    def __init__(self, backbone: str, joints: int = 17, n_iter: int = 3, hidden: int = 1024,
                 dropout: float = 0.5, with_2d: bool = True, mean_pose: torch.Tensor | None = None):
        super().__init__()
        self.encoder, channels = encoder(backbone)
        self.joints, self.n_iter, self.with_2d = joints, n_iter, with_2d
        self.state_size = joints * 3 + (joints * 2 if with_2d else 0)
        self.refine = nn.Sequential(
            nn.Linear(channels + self.state_size, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, self.state_size))
        nn.init.xavier_uniform_(self.refine[-1].weight, gain=0.01)  # start near the mean pose
        nn.init.zeros_(self.refine[-1].bias)
        start = torch.zeros(self.state_size)
        if mean_pose is not None:
            start[:joints * 3] = mean_pose.reshape(-1)
        self.register_buffer("start", start)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(x).mean(dim=(2, 3))
        state = self.start.expand(x.shape[0], -1).to(features.dtype)
        for _ in range(self.n_iter):
            state = state + self.refine(torch.cat([features, state], dim=1))
        out = {"joints3d": state[:, :self.joints * 3].reshape(-1, self.joints, 3)}
        if self.with_2d:
            out["joints2d"] = state[:, self.joints * 3:].reshape(-1, self.joints, 2)
        return out


def build_model(cfg_model, with_2d: bool, mean_pose: torch.Tensor | None = None) -> Pose3DNet:
    model = Pose3DNet(cfg_model.backbone, 17, cfg_model.n_iter, cfg_model.hidden, cfg_model.dropout,
                      with_2d, mean_pose)
    if cfg_model.pretrained and cfg_model.pretrained != "none":
        load_pretrained(model, cfg_model.pretrained)
    return model
