"""``orch data synth pose3d DIR``: people posed from random 3-D skeletons, seen by random
cameras, drawn as depth-ordered stick figures; no torch.

The on-disk format (also what :mod:`trainers.pose3d.data` reads for a real set):

    DIR/images/*.jpg
    DIR/annot/train.json, DIR/annot/val.json: a list, one entry per person:
      {"image": "train_000001.jpg",              # under images/
       "joints_cam": [[x, y, z], ...],           # 17 joints (skeleton.JOINTS), mm, camera frame:
                                                 #   x right, y down, z forward
       "K": [fx, fy, cx, cy],                    # pixels
       "box": [x, y, w, h]}                      # the person in the image, pixels
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
from PIL import ImageDraw

from trainers._cache import cached_dataset
from trainers.pose.synth import background
from trainers.pose3d.skeleton import LIMBS, random_poses

__all__ = ["synth_pose3d", "synthetic_dataset", "project", "VERSION", "FILES", "SPIN_FILES"]

VERSION = 2
FILES = {"train": "annot/train.json", "val": "annot/val.json", "images": "images"}
SPIN_FILES = {"train": "train.npz", "val": "val.npz", "images": "images"}  # format spin_npz
TWO_D_ONLY = 4  # format spin_npz: every 4th training person has 2-D keypoints only, as COCO's do
_SIDE = {1: "r", 2: "r", 3: "r", 14: "r", 15: "r", 16: "r", 4: "l", 5: "l", 6: "l", 11: "l", 12: "l", 13: "l"}
_COLOURS = {"r": (230, 60, 40), "l": (40, 90, 230), "c": (240, 220, 60)}


def project(joints_cam: np.ndarray, k: tuple[float, float, float, float]) -> np.ndarray:
    """Camera-frame joints (..., 3), mm -> pixels (..., 2)."""
    fx, fy, cx, cy = k
    z = np.maximum(joints_cam[..., 2], 1.0)
    return np.stack([fx * joints_cam[..., 0] / z + cx, fy * joints_cam[..., 1] / z + cy], axis=-1)


def _camera_people(n: int, seed: int, size: int, max_yaw: float) -> list[tuple[np.ndarray, list[float]]]:
    """(joints in the camera frame, K) per person: a body (y up, facing +z) turned to face the
    camera about the x axis, placed 3.5-5.5 m away, a focal length that makes it 45-80% of the image."""
    rng = np.random.default_rng(seed)
    poses = random_poses(n, rng, max_yaw)
    out = []
    for pose in poses:
        depth = rng.uniform(3500, 5500)
        cam = pose * np.array([1.0, -1.0, -1.0])  # a half turn about x: y down, facing the camera
        cam = cam + np.array([rng.uniform(-250, 250), rng.uniform(-150, 150), depth])
        height = np.ptp(cam[:, 1]) / depth  # the person's angular height
        f = rng.uniform(0.45, 0.8) * size / max(height, 0.2)
        k = [float(f), float(f), size / 2 + rng.uniform(-4, 4), size / 2 + rng.uniform(-4, 4)]
        out.append((cam, k))
    return out


def _draw(draw: ImageDraw.ImageDraw, cam: np.ndarray, k: list[float], rng: random.Random) -> None:
    """Limbs far to near (so near ones cover far ones), each as wide as 110 mm at its depth."""
    px = project(cam, k)
    order = sorted(LIMBS, key=lambda ab: -(cam[ab[0], 2] + cam[ab[1], 2]))
    shade = rng.uniform(0.7, 1.0)
    for a, b in order:
        colour = tuple(int(c * shade) for c in _COLOURS[_SIDE.get(b, "c")])
        width = max(1, int(round(k[0] * 110 / ((cam[a, 2] + cam[b, 2]) / 2))))
        draw.line([tuple(px[a]), tuple(px[b])], fill=colour, width=width)
        for p, z in ((px[a], cam[a, 2]), (px[b], cam[b, 2])):
            r = k[0] * 60 / z
            draw.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=colour)
    head = px[10]
    r = k[0] * 110 / cam[10, 2]
    draw.ellipse([head[0] - r, head[1] - r, head[0] + r, head[1] + r], fill=(230, 190, 150))


def _box(px: np.ndarray, size: int) -> list[float]:
    lo, hi = px.min(axis=0), px.max(axis=0)
    pad = 0.1 * (hi - lo).max()
    lo, hi = np.maximum(lo - pad, 0), np.minimum(hi + pad, size - 1)
    return [round(float(v), 2) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def synth_pose3d(out: str | os.PathLike, n_train: int = 2000, n_val: int = 200, seed: int = 0,
                 size: int = 128, max_yaw: float = 180.0, format: str = "folder") -> Path:
    """Write OUT/images/*.jpg and OUT/annot/{train,val}.json (one person per image), or with
    ``format="spin_npz"`` OUT/{train,val}.npz in SPIN's layout (trainers.pose3d.spin)."""
    if format not in ("folder", "spin_npz"):
        raise ValueError(f"format {format!r}: one of folder, spin_npz")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for split, n, offset in (("train", n_train, 0), ("val", n_val, 10_000_000)):
        entries = []
        for i, (cam, k) in enumerate(_camera_people(n, seed * 1_000_003 + offset, size, max_yaw)):
            rng = random.Random(seed * 1_000_003 + offset + i)
            img = background(rng, (size, size))
            _draw(ImageDraw.Draw(img), cam, k, rng)
            name = f"{split}_{i:06d}.jpg"
            img.save(out / "images" / name, quality=92)
            entries.append({"image": name, "joints_cam": np.round(cam, 2).tolist(), "K": [round(v, 3) for v in k],
                            "box": _box(project(cam, k), size)})
        if format == "spin_npz":
            _write_spin(out / SPIN_FILES[split], entries, split == "train")
            continue
        path = out / FILES[split]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries))
    return out


def _write_spin(path: Path, entries: list[dict], train: bool) -> None:
    """The entries as SPIN stores them: 24 joints (those of the 17 filled in, the rest zero
    confidence), 3-D in metres, ``scale`` the crop side / 200 with a padding of 1.2."""
    from trainers.pose3d.spin import TO_17

    n = len(entries)
    part, s3 = np.zeros((n, 24, 3)), np.zeros((n, 24, 4))
    center, scale = np.zeros((n, 2)), np.zeros(n)
    for i, e in enumerate(entries):
        cam = np.asarray(e["joints_cam"])
        part[i, TO_17, :2], part[i, TO_17, 2] = project(cam, e["K"]), 1
        if not (train and i % TWO_D_ONLY == TWO_D_ONLY - 1):  # a 2-D-only person keeps S at zero confidence
            s3[i, TO_17, :3], s3[i, TO_17, 3] = cam / 1000.0, 1
        x, y, w, h = e["box"]
        center[i], scale[i] = (x + w / 2, y + h / 2), max(w, h) * 1.2 / 200
    np.savez(path, imgname=np.array([e["image"] for e in entries]), center=center, scale=scale, part=part, S=s3)


def synthetic_dataset(n_train: int, n_val: int, seed: int = 0, max_yaw: float = 180.0,
                      format: str = "folder") -> Path:
    """``data.root: synthetic``: the cached set (built if missing)."""
    tail = "" if format == "folder" else f"-{format}"
    return cached_dataset(f"pose3d-v{VERSION}-{n_train}-{n_val}-s{seed}-y{max_yaw:g}{tail}",
                          lambda tmp: synth_pose3d(tmp, n_train, n_val, seed, max_yaw=max_yaw, format=format))
