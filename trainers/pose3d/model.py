"""A top-down 3-D pose regressor in the manner of HMR/SPIN: a torchvision encoder, global
pooling, and an MLP that refines the pose iteratively from the mean pose, predicting
root-relative 3-D joints (m) and, for the 2-D loss, the keypoints in the crop: either the joints
projected by a predicted weak-perspective camera (scale, shift; SPIN's way, the 2-D loss then
trains the 3-D joints themselves) or a 2-D output of their own."""

from __future__ import annotations

import torch
from torch import nn

from trainers.pose.model import encoder, load_pretrained

__all__ = ["Pose3DNet", "build_model"]


class Pose3DNet(nn.Module):
    def __init__(self, backbone: str, joints: int = 17, n_iter: int = 3, hidden: int = 1024,
                 dropout: float = 0.5, with_2d: bool = True, mean_pose: torch.Tensor | None = None,
                 keypoints2d: str = "camera"):
        super().__init__()
        self.encoder, channels = encoder(backbone)
        self.joints, self.n_iter, self.with_2d = joints, n_iter, with_2d
        self.camera = with_2d and keypoints2d == "camera"
        self.state_size = joints * 3 + ((3 if self.camera else joints * 2) if with_2d else 0)
        self.refine = nn.Sequential(
            nn.Linear(channels + self.state_size, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, self.state_size))
        nn.init.xavier_uniform_(self.refine[-1].weight, gain=0.01)  # start near the mean pose
        nn.init.zeros_(self.refine[-1].bias)
        start = torch.zeros(self.state_size)
        if mean_pose is not None:
            start[:joints * 3] = mean_pose.reshape(-1)
        if self.camera:
            start[joints * 3] = 0.9  # a 1.8 m person spans most of a crop of side [-1, 1]
        self.register_buffer("start", start)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(x).mean(dim=(2, 3))
        state = self.start.expand(x.shape[0], -1).to(features.dtype)
        for _ in range(self.n_iter):
            state = state + self.refine(torch.cat([features, state], dim=1))
        joints3d = state[:, :self.joints * 3].reshape(-1, self.joints, 3)
        out = {"joints3d": joints3d}
        rest = state[:, self.joints * 3:]
        if self.camera:  # weak perspective: x, y (camera frame: y down, as in the image) scaled and shifted
            out["joints2d"] = rest[:, None, :1] * joints3d[..., :2] + rest[:, None, 1:]
        elif self.with_2d:
            out["joints2d"] = rest.reshape(-1, self.joints, 2)
        return out


def build_model(cfg_model, with_2d: bool, mean_pose: torch.Tensor | None = None) -> Pose3DNet:
    model = Pose3DNet(cfg_model.backbone, 17, cfg_model.n_iter, cfg_model.hidden, cfg_model.dropout,
                      with_2d, mean_pose, cfg_model.keypoints2d)
    if cfg_model.pretrained and cfg_model.pretrained != "none":
        load_pretrained(model, cfg_model.pretrained)
    return model
