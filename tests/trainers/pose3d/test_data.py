"""The synthetic 3-D set's format and what the loader makes of it: crops, targets, mirroring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainers.pose3d.data import Pose3DDataset, load_people
from trainers.pose3d.skeleton import FLIP_PAIRS, JOINTS, LIMBS
from trainers.pose3d.synth import FILES, project, synth_pose3d


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synth_pose3d(tmp_path_factory.mktemp("pose3d"), 24, 8, seed=3)


def test_the_set_is_in_the_documented_format(synthetic):
    entries = json.loads((synthetic / FILES["train"]).read_text())
    assert len(entries) == 24 and len(json.loads((synthetic / FILES["val"]).read_text())) == 8
    for e in entries:
        joints = np.array(e["joints_cam"])
        assert joints.shape == (len(JOINTS), 3) and (joints[:, 2] > 3000).all()  # in front of the camera
        bones = [np.linalg.norm(joints[a] - joints[b]) for a, b in LIMBS]
        assert 80 < min(bones) and max(bones) < 600  # mm, a person's proportions
        x, y, w, h = e["box"]
        px = project(joints, e["K"])
        assert (px >= [x - 1, y - 1]).all() and (px <= [x + w + 1, y + h + 1]).all()
        assert (synthetic / "images" / e["image"]).is_file()
    again = synth_pose3d(synthetic.parent / "again", 24, 8, seed=3)
    assert (again / FILES["train"]).read_text() == (synthetic / FILES["train"]).read_text()  # seeded


def test_targets_are_root_relative_metres_and_crop_coordinates(synthetic):
    people = load_people(str(synthetic), FILES["val"], "images")
    ds = Pose3DDataset(people, 64, 1.2, train=False)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64)
    expected = (people[0].joints_cam - people[0].joints_cam[0]) / 1000
    assert np.allclose(item["joints3d"].numpy(), expected, atol=1e-6)
    assert (item["joints2d"].abs() < 1 / 1.2 + 1e-3).all()  # the box sits inside the enlarged crop


def test_a_mirrored_training_crop_mirrors_the_pose_and_swaps_sides(synthetic):
    people = load_people(str(synthetic), FILES["train"], "images")
    plain = Pose3DDataset(people, 64, 1.2, train=False)[5]
    ds = Pose3DDataset(people, 64, 1.2, train=True)  # no scale or shift jitter: only the mirror varies
    flipped = None
    for epoch in range(1, 20):
        ds.set_epoch(0, epoch)
        item = ds[5]
        if not np.allclose(item["joints3d"], plain["joints3d"]):
            flipped = item
            break
    assert flipped is not None, "no epoch mirrored item 5"
    order = list(range(len(JOINTS)))
    for a, b in FLIP_PAIRS:
        order[a], order[b] = b, a
    assert np.allclose(flipped["joints3d"].numpy(), plain["joints3d"].numpy()[order] * [-1, 1, 1], atol=1e-6)
    assert np.allclose(flipped["joints2d"].numpy(), plain["joints2d"].numpy()[order] * [-1, 1], atol=1e-5)
    assert np.allclose(flipped["image"].numpy(), plain["image"].numpy()[:, :, ::-1], atol=1e-5)


def test_a_malformed_annotation_names_the_file_and_entry(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"image": "x.jpg", "joints_cam": [[0, 0, 1]] * 16,
                                                  "K": [1, 1, 0, 0], "box": [0, 0, 1, 1]}]))
    with pytest.raises(ValueError, match=r"a\.json: entry 0: joints_cam has shape \(16, 3\)"):
        load_people(str(tmp_path), "a.json", "images")
