"""People with 3-D joints: the annotation format of :mod:`trainers.pose3d.synth`, square crops
around each person's box, root-relative 3-D targets (m) and 2-D targets in crop coordinates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trainers.pose3d.skeleton import FLIP_PAIRS, JOINTS, ROOT
from trainers.pose3d.synth import project

__all__ = ["Person", "load_people", "Pose3DDataset", "MEAN", "STD"]

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # ImageNet, as torchvision encoders expect
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class Person:
    image: Path
    joints_cam: np.ndarray  # (17, 3) mm, camera frame; rows where has3d is 0 are not used
    joints2d: np.ndarray  # (17, 2) image px
    box: tuple[float, float, float, float]  # x, y, w, h px
    vis2d: np.ndarray = field(default_factory=lambda: np.ones(len(JOINTS), np.float32))  # 2-D keypoints annotated
    has3d: np.ndarray = field(default_factory=lambda: np.ones(len(JOINTS), np.float32))  # 3-D joints annotated


def load_people(root: str, annot: str, images: str, limit: int | None = None, fmt: str = "folder") -> list[Person]:
    """The people of a split: ``folder`` (trainers/pose3d/synth.py's JSON: camera-frame joints,
    intrinsics, a box) or ``spin_npz`` (SPIN's preprocessed .npz, :mod:`trainers.pose3d.spin`)."""
    if fmt == "spin_npz":
        return _spin_people(Path(root) / annot, Path(root) / images, limit)
    path = Path(root) / annot
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no annotation file (data.root {root}, data.train/val {annot})")
    entries = json.loads(path.read_text())
    people = []
    for i, e in enumerate(entries[:limit] if limit else entries):
        joints = np.asarray(e["joints_cam"], dtype=np.float64)
        if joints.shape != (len(JOINTS), 3):
            raise ValueError(f"{path}: entry {i}: joints_cam has shape {joints.shape}, expected "
                             f"({len(JOINTS)}, 3) in the order of trainers/pose3d/skeleton.py")
        people.append(Person(Path(root) / images / e["image"], joints, project(joints, tuple(e["K"])),
                             tuple(e["box"])))
    return people


def _spin_people(path: Path, images: Path, limit: int | None) -> list[Person]:
    from trainers.pose3d.spin import read_spin

    a = read_spin(path, images, limit)
    return [Person(Path(a["image"][i]), a["joints3d"][i], a["joints2d"][i],
                   (a["center"][i][0] - a["side"][i] / 2, a["center"][i][1] - a["side"][i] / 2, a["side"][i], a["side"][i]),
                   a["vis2d"][i], a["has3d"][i]) for i in range(len(a["image"]))]


class Pose3DDataset(torch.utils.data.Dataset):
    """Item: ``image`` (3, S, S) normalised, ``joints3d`` (17, 3) root-relative in metres,
    ``joints2d`` (17, 2) in the crop, [-1, 1]. Training crops jitter in scale and position and are
    mirrored half the time (the 3-D pose mirrored with them, left and right swapped)."""

    def __init__(self, people: list[Person], size: int, box_scale: float, train: bool,
                 scale_jitter: float = 0.0, shift_jitter: float = 0.0):
        self.people, self.size, self.box_scale, self.train = people, size, box_scale, train
        self.scale_jitter, self.shift_jitter = scale_jitter, shift_jitter
        self.epoch_seed = 0

    def set_epoch(self, seed: int, epoch: int) -> None:
        self.epoch_seed = seed * 1_000_003 + epoch

    def __len__(self) -> int:
        return len(self.people)

    def _crop(self, person: Person, rng: np.random.Generator | None) -> tuple[np.ndarray, float]:
        x, y, w, h = person.box
        side = max(w, h) * self.box_scale
        cx, cy = x + w / 2, y + h / 2
        if rng is not None:
            side *= 1 + rng.uniform(-self.scale_jitter, self.scale_jitter)
            cx, cy = cx + rng.uniform(-1, 1) * self.shift_jitter * side, cy + rng.uniform(-1, 1) * self.shift_jitter * side
        return np.array([cx - side / 2, cy - side / 2]), side

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        person = self.people[index]
        # each item draws from its own stream: the same with any number of loader workers
        rng = np.random.default_rng([self.epoch_seed, index]) if self.train else None
        corner, side = self._crop(person, rng)
        with Image.open(person.image) as img:
            # an affine crop: a box reaching past the image edge is padded with black
            crop = img.convert("RGB").transform((self.size, self.size), Image.EXTENT,
                                                (corner[0], corner[1], corner[0] + side, corner[1] + side),
                                                Image.BILINEAR)
        pixels = np.asarray(crop, dtype=np.float32) / 255.0
        joints2d = (person.joints2d - corner) / side * 2 - 1
        joints3d = (person.joints_cam - person.joints_cam[ROOT]) / 1000.0
        vis2d, has3d = person.vis2d, person.has3d * person.has3d[ROOT]  # root-relative needs the root
        if rng is not None and rng.random() < 0.5:
            pixels, joints2d, joints3d = pixels[:, ::-1], joints2d * [-1, 1], joints3d * [-1, 1, 1]
            order = list(range(len(JOINTS)))
            for a, b in FLIP_PAIRS:
                order[a], order[b] = b, a
            joints2d, joints3d, vis2d, has3d = joints2d[order], joints3d[order], vis2d[order], has3d[order]
        image = (pixels - MEAN) / STD
        return {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "joints3d": torch.tensor(joints3d, dtype=torch.float32),
                "joints2d": torch.tensor(joints2d, dtype=torch.float32),
                "vis2d": torch.tensor(vis2d, dtype=torch.float32), "has3d": torch.tensor(has3d, dtype=torch.float32)}
