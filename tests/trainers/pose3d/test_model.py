"""The regressor's outputs: 3-D joints from the mean pose, 2-D keypoints by camera or directly."""

from __future__ import annotations

import torch

from trainers.pose3d.model import Pose3DNet


def test_an_untrained_head_starts_at_the_mean_pose_and_the_camera_projects_it():
    torch.manual_seed(0)
    mean = torch.randn(17, 3) * 0.3
    net = Pose3DNet("resnet18", hidden=32, dropout=0.0, mean_pose=mean).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 64, 64))
    assert out["joints3d"].shape == (2, 17, 3) and out["joints2d"].shape == (2, 17, 2)
    assert torch.allclose(out["joints3d"], mean.expand(2, -1, -1), atol=0.05)  # the refinement starts small
    torch.nn.init.zeros_(net.refine[-1].weight)  # no refinement at all: the start state itself
    with torch.no_grad():
        still = net(torch.randn(2, 3, 64, 64))
    assert torch.allclose(still["joints3d"], mean.expand(2, -1, -1))
    # a weak perspective: the joints' x, y (y down, as in the image) scaled by 0.9, no shift yet
    assert torch.allclose(still["joints2d"], 0.9 * mean[:, :2].expand(2, -1, -1))


def test_direct_keypoints_are_an_output_of_their_own_and_none_without_the_2d_loss():
    direct = Pose3DNet("resnet18", hidden=32, keypoints2d="direct")
    assert direct.start.shape == (17 * 5,) and direct(torch.randn(1, 3, 64, 64))["joints2d"].shape == (1, 17, 2)
    plain = Pose3DNet("resnet18", hidden=32, with_2d=False)
    assert "joints2d" not in plain(torch.randn(1, 3, 64, 64)) and plain.start.shape == (17 * 3,)
