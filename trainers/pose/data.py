"""MPII (SimpleBaseline JSON) and COCO person-keypoint datasets as top-down crops.

A sample is one person: the crop (normalised CHW float tensor), Gaussian target heatmaps
with per-joint weights, and what evaluation needs to map predictions back (the crop
matrix, ground truth in image pixels, visibility, head size or COCO ids).
"""

from __future__ import annotations

import json
import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainers.pose import transforms as T
from trainers.pose.skeleton import COCO_FLIP_PAIRS, COCO_JOINTS, MPII_FLIP_PAIRS

STRIDE = 4  # output stride of SimpleBaseline's head (three stride-2 deconvolutions on stride 32)

__all__ = ["Person", "PoseDataset", "load_mpii", "load_coco", "heatmaps", "DataError"]


class DataError(ValueError):
    """A dataset file is missing or malformed; the message names the file."""


@dataclass
class Person:
    image: str  # absolute path
    center: np.ndarray  # 2, 0-based px
    scale: np.ndarray  # 2, box size / 200 (w, h)
    joints: np.ndarray  # J x 2, 0-based px
    vis: np.ndarray  # J, 1 = annotated
    head_size: float = 0.0  # MPII: 0.6 x head-box diagonal
    image_id: int = 0  # COCO
    score: float = 1.0  # detection score (1 for ground-truth boxes)
    area: float = 0.0


def _read_json(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def _headboxes(path: str, n: int) -> np.ndarray | None:
    """Head boxes (N x 2 x 2) from MPII's gt_valid.mat or a JSON list, else None."""
    if not path:
        return None
    p = Path(path)
    if p.suffix == ".mat":
        from scipy.io import loadmat  # lazy: only real MPII evaluation needs it

        boxes = np.transpose(loadmat(p)["headboxes_src"], (2, 0, 1))
    else:
        boxes = np.asarray(_read_json(p), dtype=np.float64)
    if len(boxes) < n:
        raise DataError(f"{p}: {len(boxes)} head boxes for {n} people")
    return boxes


def load_mpii(root: str | os.PathLike, annot: str, images: str, headboxes: str = "",
              limit: int | None = None) -> list[Person]:
    """People from a SimpleBaseline ``annot/*.json``: joints are MATLAB 1-based, ``joints_vis``
    marks annotated joints; ``center``/``scale`` get SimpleBaseline's adjustment (centre 15*scale
    lower, box 1.25x)."""
    root = Path(root)
    path = root / annot
    entries = _read_json(path)
    if limit:
        entries = entries[:limit]
    boxes = _headboxes(str(root / headboxes) if headboxes else "", len(entries))
    people, warned = [], False
    for i, e in enumerate(entries):
        try:
            s = float(e["scale"])
            c = np.asarray(e["center"], dtype=np.float64) - 1
            joints = np.asarray(e["joints"], dtype=np.float64).reshape(16, 2) - 1
            vis = np.asarray(e["joints_vis"], dtype=np.float64).reshape(16)
            image = str(root / images / e["image"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: entry {i} lacks or mangles {exc}; expected image, center, scale, "
                            "16 joints and joints_vis") from None
        if e["center"][0] != -1:  # MPII marks a missing centre with -1
            c[1] += 15 * s
        box = boxes[i] if boxes is not None else e.get("headbox")
        if box is not None:
            (x1, y1), (x2, y2) = np.asarray(box, dtype=np.float64)
            head = 0.6 * math.hypot(x2 - x1, y2 - y1)
        else:
            if not warned:
                warnings.warn(f"{path}: no head boxes (set data.headboxes to gt_valid.mat); PCKh "
                              "uses 0.6 x 1.41 x the neck-to-head-top distance instead", stacklevel=2)
                warned = True
            head = 0.6 * math.sqrt(2) * float(np.linalg.norm(joints[9] - joints[8]))
        people.append(Person(image, c, np.array([s, s]) * 1.25, joints, vis, head))
    return people


def load_coco(root: str | os.PathLike, annot: str, images: str, boxes: str = "gt",
              det_score: float = 0.0, aspect: float = 0.75, limit: int | None = None,
              train: bool = False, det_max: int = 0) -> tuple[list[Person], str]:
    """Top-down people from COCO person keypoints: ground-truth boxes (annotated people only,
    as SimpleBaseline), or every person detection scoring at least ``det_score`` (each image's
    ``det_max`` best of them when it is set)."""
    root = Path(root)
    path = root / annot
    doc = _read_json(path)
    files = {img["id"]: str(root / images / img["file_name"]) for img in doc.get("images", [])}
    people = []
    if boxes == "gt" or train:
        for a in doc.get("annotations", []):
            if a.get("iscrowd") or a.get("num_keypoints", 0) == 0 or a["image_id"] not in files:
                continue
            k = np.asarray(a["keypoints"], dtype=np.float64).reshape(len(COCO_JOINTS), 3)
            c, s = T.box_to_center_scale(a["bbox"], aspect)
            people.append(Person(files[a["image_id"]], c, s, k[:, :2], (k[:, 2] > 0).astype(float),
                                 image_id=a["image_id"], area=float(a.get("area", 0))))
    else:
        dets = _read_json(Path(boxes) if os.path.isabs(boxes) else root / boxes)
        kept: dict[int, int] = {}
        for d in sorted(dets, key=lambda d: -float(d["score"])):
            if d.get("category_id", 1) != 1 or d["score"] < det_score or d["image_id"] not in files:
                continue
            if det_max and kept.get(d["image_id"], 0) >= det_max:
                continue
            kept[d["image_id"]] = kept.get(d["image_id"], 0) + 1
            c, s = T.box_to_center_scale(d["bbox"], aspect)
            zeros = np.zeros((len(COCO_JOINTS), 2))
            people.append(Person(files[d["image_id"]], c, s, zeros, zeros[:, 0].copy(),
                                 image_id=d["image_id"], score=float(d["score"]),
                                 area=float(d["bbox"][2]) * float(d["bbox"][3])))
    return people[:limit] if limit else people, str(path)


def heatmaps(joints: np.ndarray, vis: np.ndarray, hm_hw: tuple[int, int], sigma: float):
    """Gaussian targets centred on the sub-pixel joint position (heatmap pixel indices) and
    weights: 1 for annotated joints whose Gaussian touches the heatmap."""
    h, w = hm_hw
    target = np.zeros((len(joints), h, w), dtype=np.float32)
    weight = vis.astype(np.float32).copy()
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    for j, (x, y) in enumerate(joints):
        if weight[j] <= 0 or not (-3 * sigma <= x < w + 3 * sigma and -3 * sigma <= y < h + 3 * sigma):
            weight[j] = 0
            continue
        # the 2-D Gaussian is the outer product of two 1-D ones: h + w exponentials, not h * w
        np.outer(np.exp(-((ys - y) ** 2) / (2 * sigma**2)), np.exp(-((xs - x) ** 2) / (2 * sigma**2)),
                 out=target[j])
    return target, weight


class PoseDataset(torch.utils.data.Dataset):
    def __init__(self, people: list[Person], input_hw, sigma: float, train: bool, flip_pairs,
                 scale_factor: float = 0.25, rotation: float = 30.0, flip: bool = True,
                 half_body: float = 0.0, stride: int = STRIDE):
        self.people, self.input_hw, self.sigma, self.train = people, tuple(input_hw), sigma, train
        self.flip_pairs, self.scale_factor, self.rotation = flip_pairs, scale_factor, rotation
        self.flip, self.half_body = flip, half_body
        self.stride = stride
        self.hm_hw = (self.input_hw[0] // stride, self.input_hw[1] // stride)
        self.seed, self.epoch = 0, 0  # augmentation draws depend on (seed, epoch, index) only

    def set_epoch(self, seed: int, epoch: int) -> None:
        self.seed, self.epoch = seed, epoch

    def __len__(self) -> int:
        return len(self.people)

    def _augment(self, p: Person, rng: random.Random):
        center, scale, rot, flip = p.center.copy(), p.scale.copy(), 0.0, False
        if rng.random() < self.half_body and p.vis.sum() > 8:
            center, scale = self._half_body(p, rng) or (center, scale)
        sf = self.scale_factor
        scale *= min(max(rng.gauss(1, sf), 1 - sf), 1 + sf) if sf else 1
        if self.rotation and rng.random() < 0.6:
            rot = min(max(rng.gauss(0, self.rotation), -2 * self.rotation), 2 * self.rotation)
        flip = self.flip and rng.random() < 0.5
        return center, scale, rot, flip

    def _half_body(self, p: Person, rng: random.Random):
        upper = (7, 8, 9, 10, 11, 12, 13, 14, 15) if len(p.joints) == 16 else tuple(range(11))
        pick = [j for j in (upper if rng.random() < 0.5 else
                            [j for j in range(len(p.joints)) if j not in upper]) if p.vis[j] > 0]
        if len(pick) < 3:
            return None
        pts = p.joints[pick]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        size = (hi - lo).max() * 1.5
        return (lo + hi) / 2, np.array([size, size]) / T.PIXEL_STD

    def __getitem__(self, index: int):
        p = self.people[index]
        rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
        if self.train:
            center, scale, rot, flip = self._augment(p, rng)
        else:
            center, scale, rot, flip = p.center, p.scale, 0.0, False
        m = T.crop_matrix(center, scale, rot, self.input_hw, flip)
        crop = T.read_crop(p.image, m, self.input_hw)  # uint8 until the device: trainers._torch.as_input
        joints, vis = p.joints, p.vis
        if flip:
            joints, vis = T.flip_joints(joints, vis, self.flip_pairs)
        in_crop = T.apply(m, joints)
        hm_pts = (in_crop + 0.5) / self.stride - 0.5
        target, weight = heatmaps(hm_pts, vis, self.hm_hw, self.sigma)
        return {"image": torch.from_numpy(crop.transpose(2, 0, 1).copy()), "target": torch.from_numpy(target),
                "weight": torch.from_numpy(weight), "matrix": torch.from_numpy(m),
                "joints": torch.from_numpy(p.joints), "vis": torch.from_numpy(p.vis),
                "hm_joints": torch.from_numpy(hm_pts.astype(np.float32)),
                "head_size": torch.tensor(p.head_size), "index": index, "flipped": flip}


def flip_pairs(dataset: str):
    return MPII_FLIP_PAIRS if dataset == "mpii" else COCO_FLIP_PAIRS
