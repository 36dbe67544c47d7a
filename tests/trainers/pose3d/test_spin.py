"""SPIN's preprocessed .npz (data.format: spin_npz), for real files the synthetic writer makes in
that layout: its keys, the 24 -> 17 joint map, 2-D-only people in the 2-D loss only, and bad files
refused before training with the file and the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orchestrator.cli.datasets import write_dataset
from trainers.pose3d.config import check
from trainers.pose3d.data import Pose3DDataset, load_people
from trainers.pose3d.skeleton import JOINTS
from trainers.pose3d.spin import J24, TO_17, SpinError, read_spin
from trainers.pose3d.synth import TWO_D_ONLY, project, synth_pose3d


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    root = tmp_path_factory.mktemp("spin")
    synth_pose3d(root / "folder", 12, 4, size=96)
    synth_pose3d(root / "npz", 12, 4, size=96, format="spin_npz")
    return root


def test_the_synthetic_set_in_spins_layout_has_its_keys_and_shapes(tmp_path):
    written, _, n_train, _ = write_dataset("pose3d", tmp_path / "out", 8, 4, options={"format": "spin_npz"})
    with np.load(written / "train.npz") as data:
        assert set(data.files) >= {"imgname", "center", "scale", "part", "S"}
        assert data["part"].shape == (8, 24, 3) and data["S"].shape == (8, 24, 4) and data["center"].shape == (8, 2)
    assert (written / "images" / str(np.load(written / "val.npz")["imgname"][0])).is_file()


def test_the_24_joints_map_onto_the_17_by_name():
    names = dict(zip(JOINTS, (J24[i] for i in TO_17)))
    assert names["pelvis"] == "Pelvis (MPII)" and names["r_ankle"] == "R ankle" and names["l_wrist"] == "L wrist"
    assert names["thorax"] == "Thorax (MPII)" and names["head"] == "Head (H36M)" and len(set(TO_17)) == 17


def test_npz_people_match_the_folder_formats_and_2d_only_people_add_to_the_2d_loss_only(spin):
    folder = load_people(str(spin / "folder"), "annot/train.json", "images")
    npz = load_people(str(spin / "npz"), "train.npz", "images", fmt="spin_npz")
    assert len(npz) == len(folder) == 12
    for i, (a, b) in enumerate(zip(folder, npz)):
        assert np.allclose(b.joints2d, a.joints2d, atol=1e-6) and b.vis2d.all()
        assert b.has3d.any() == (i % TWO_D_ONLY != TWO_D_ONLY - 1)
        if b.has3d.all():
            assert np.allclose(b.joints_cam, a.joints_cam, atol=1e-3)
    item = Pose3DDataset(npz, 64, 1.0, True, 0.1, 0.05)[TWO_D_ONLY - 1]
    assert item["has3d"].sum() == 0 and item["vis2d"].sum() == 17
    assert np.allclose(project(folder[0].joints_cam, tuple(
        __import__("json").loads((spin / "folder/annot/train.json").read_text())[0]["K"])), npz[0].joints2d, atol=1e-6)


def test_the_masked_losses_are_the_plain_means_when_every_joint_is_annotated():
    from orchestrator.registry import build_config
    from trainers.pose3d.train import _loss

    cfg = build_config("pose3d", {})
    out = {"joints3d": torch.randn(4, 17, 3), "joints2d": torch.randn(4, 17, 2)}
    batch = {"joints3d": torch.randn(4, 17, 3), "joints2d": torch.randn(4, 17, 2),
             "has3d": torch.ones(4, 17), "vis2d": torch.ones(4, 17)}
    total, l3, l2 = _loss(cfg, out, batch)
    assert l3 == pytest.approx(float((out["joints3d"] - batch["joints3d"]).abs().mean()), rel=1e-5)
    assert l2 == pytest.approx(float((out["joints2d"] - batch["joints2d"]).abs().mean()), rel=1e-5)
    batch["has3d"][1:] = 0  # only the first person has 3-D joints
    _, only, _ = _loss(cfg, out, batch)
    assert only == pytest.approx(float((out["joints3d"][0] - batch["joints3d"][0]).abs().mean()), rel=1e-5)


def _bad(spin, tmp_path, **change):
    data = dict(np.load(spin / "npz" / "train.npz"))
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    np.savez(tmp_path / "bad.npz", **data)
    return tmp_path / "bad.npz"


def test_bad_files_name_the_file_and_the_key(spin, tmp_path):
    images = spin / "npz" / "images"
    with pytest.raises(SpinError, match=r"bad.npz: key 'part' is missing"):
        read_spin(_bad(spin, tmp_path, part=None), images)
    with pytest.raises(SpinError, match=r"bad.npz: key 'S' has shape \(12, 17, 4\), expected \(12, 24, 4\)"):
        read_spin(_bad(spin, tmp_path, S=np.zeros((12, 17, 4))), images)
    with pytest.raises(SpinError, match=r"key 'imgname': 12 of the first 12 images do not exist under .*elsewhere"):
        read_spin(_bad(spin, tmp_path), tmp_path / "elsewhere")
    problems = check({"data.format": "spin_npz", "data.root": str(tmp_path), "data.train": "bad.npz",
                      "data.val": "absent.npz", "data.images": "nowhere"})
    assert [k for k, _ in problems] == ["data.train"] and "imgname" in problems[0][1]  # an absent file: the trial says
    assert check({"data.format": "spin_npz", "data.root": "synthetic"}) == []
