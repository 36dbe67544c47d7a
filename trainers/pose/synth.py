"""Synthetic pose datasets: rendered articulated stick figures in the MPII and COCO formats.

Each person has the 16 MPII joints (plus COCO's face points), limbs of varying width drawn
in side-coded colours (left limbs warm, right limbs cool, so left/right is learnable as it is
from real cues), on textured backgrounds with distractor strokes, occluding blocks and
noise, at several scales. The files follow the real formats exactly, so the same loaders
read both: MPII's SimpleBaseline JSON (1-based joints) plus a ``headbox`` per person, and
COCO person-keypoint JSON.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from trainers._cache import cached_dataset
from trainers.pose.skeleton import COCO_JOINTS, COCO_SKELETON

__all__ = ["synth_mpii", "background", "synth_coco", "sample_person", "synthetic_dataset", "write_gt_valid",
           "synthetic_detections", "DETECTIONS"]

VERSION = 2  # bump when the renderer or the files written change, so caches (``data.root: synthetic``) are rebuilt

# (from, to, side) limbs over MPII joint indices; side picks the colour family
LIMBS = ((6, 2, "r"), (6, 3, "l"), (2, 1, "r"), (1, 0, "r"), (3, 4, "l"), (4, 5, "l"),
         (6, 7, "c"), (7, 8, "c"), (7, 12, "r"), (7, 13, "l"), (12, 11, "r"), (11, 10, "r"),
         (13, 14, "l"), (14, 15, "l"))


def _polar(origin, length, angle):
    return origin + length * np.array([math.sin(angle), -math.cos(angle)])


def sample_person(rng: random.Random, height: float, center: np.ndarray) -> dict:
    """Joints (16x2 MPII order, 0-based px), face points and the head circle for one figure."""
    lean = rng.gauss(0, 0.25)  # torso angle from vertical
    up = lean
    j = np.zeros((16, 2))
    j[6] = center + np.array([0.0, 0.08 * height])
    j[7] = _polar(j[6], 0.30 * height, up)
    j[8] = _polar(j[7], 0.06 * height, up + rng.gauss(0, 0.15))
    head_dir = up + rng.gauss(0, 0.3)
    j[9] = _polar(j[8], 0.14 * height, head_dir)
    across = up + math.pi / 2  # towards the figure's left when seen from the front
    for side, sign in (("r", -1), ("l", 1)):
        hip, knee, ankle = (2, 1, 0) if side == "r" else (3, 4, 5)
        sho, elb, wri = (12, 11, 10) if side == "r" else (13, 14, 15)
        j[hip] = _polar(j[6], 0.07 * height, across * 1 if sign > 0 else across + math.pi)
        j[sho] = _polar(j[7], 0.11 * height, across if sign > 0 else across + math.pi)
        thigh = up + math.pi + sign * abs(rng.gauss(0.15, 0.35))
        j[knee] = _polar(j[hip], 0.24 * height, thigh)
        j[ankle] = _polar(j[knee], 0.23 * height, thigh + sign * rng.gauss(0, 0.45) - sign * 0.1)
        arm = up + math.pi + sign * rng.uniform(0.1, 2.6)
        j[elb] = _polar(j[sho], 0.17 * height, arm)
        j[wri] = _polar(j[elb], 0.15 * height, arm + sign * rng.uniform(-0.3, 2.2))
    head_c = (j[8] + j[9]) / 2
    head_r = 0.075 * height
    facing = rng.choice((-1, 1)) * rng.uniform(0.0, 1.0)  # -1 looks to image left, 1 to right
    eye_y = head_c + np.array([0.0, -0.1 * head_r])
    face = {"nose": head_c + np.array([facing * 0.6 * head_r, 0.25 * head_r]),
            "left_eye": eye_y + np.array([(facing * 0.5 + 0.35) * head_r, 0]),
            "right_eye": eye_y + np.array([(facing * 0.5 - 0.35) * head_r, 0]),
            "left_ear": head_c + np.array([(0.95 - 0.4 * max(facing, 0)) * head_r, 0]),
            "right_ear": head_c + np.array([(-0.95 - 0.4 * min(facing, 0)) * head_r, 0])}
    return {"joints": j, "head_c": head_c, "head_r": head_r, "face": face, "height": height,
            "width": max(2.0, rng.uniform(0.035, 0.07) * height)}


def _colour(rng: random.Random, side: str) -> tuple[int, int, int]:
    if side == "l":
        base = (rng.randint(200, 255), rng.randint(40, 140), rng.randint(0, 60))
    elif side == "r":
        base = (rng.randint(0, 60), rng.randint(90, 200), rng.randint(200, 255))
    else:
        v = rng.randint(150, 230)
        base = (v, v, rng.randint(120, 200))
    return base


def background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    top = np.array([rng.randint(0, 255) for _ in range(3)], float)
    bottom = np.array([rng.randint(0, 255) for _ in range(3)], float)
    ramp = np.linspace(0, 1, h)[:, None, None]
    arr = top * (1 - ramp) + bottom * ramp + np.zeros((h, w, 3))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 10)):  # clutter: blocks and distractor strokes
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + rng.uniform(5, w / 3), y0 + rng.uniform(5, h / 3)], fill=colour)
        else:
            draw.line([x0, y0, x0 + rng.uniform(-60, 60), y0 + rng.uniform(-60, 60)], fill=colour,
                      width=rng.randint(1, 6))
    return img


def _draw_person(draw: ImageDraw.ImageDraw, rng: random.Random, person: dict) -> None:
    j, width = person["joints"], person["width"]
    colours = {side: _colour(rng, side) for side in "lrc"}
    for a, b, side in LIMBS:
        w = width * (1.3 if side == "c" else rng.uniform(0.7, 1.1))
        draw.line([tuple(j[a]), tuple(j[b])], fill=colours[side], width=max(1, int(round(w))))
        for p in (j[a], j[b]):
            r = w / 2
            draw.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=colours[side])
    c, r = person["head_c"], person["head_r"]
    skin = (rng.randint(150, 255), rng.randint(110, 200), rng.randint(80, 160))
    draw.ellipse([c[0] - r, c[1] - r * 1.15, c[0] + r, c[1] + r * 1.15], fill=skin)
    for name in ("left_eye", "right_eye", "nose"):
        p = person["face"][name]
        e = max(1.0, r * 0.12)
        draw.ellipse([p[0] - e, p[1] - e, p[0] + e, p[1] + e], fill=(20, 20, 20))


def _render(rng: random.Random, size: tuple[int, int], people: list[dict]) -> Image.Image:
    img = background(rng, size)
    draw = ImageDraw.Draw(img)
    for person in people:
        _draw_person(draw, rng, person)
    if rng.random() < 0.3:  # an occluder in front of someone
        p = rng.choice(people)["joints"][rng.randrange(16)]
        s = rng.uniform(8, 30)
        draw.rectangle([p[0] - s, p[1] - s, p[0] + s, p[1] + s],
                       fill=tuple(rng.randint(0, 255) for _ in range(3)))
    arr = np.asarray(img, dtype=np.float32)
    arr += np.random.default_rng(rng.randrange(2**31)).normal(0, rng.uniform(2, 12), arr.shape)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _inside(p, size, margin=0.0) -> bool:
    return margin <= p[0] < size[0] - margin and margin <= p[1] < size[1] - margin


def _mpii_entry(name: str, person: dict, size) -> dict:
    j = person["joints"]
    vis = [1 if _inside(p, size) else 0 for p in j]
    lo, hi = j.min(axis=0), j.max(axis=0)
    scale = person["height"] * 1.1 / 200.0
    center = (lo + hi) / 2 - np.array([0.0, 15 * scale])  # SimpleBaseline adds 15*scale back
    c, r = person["head_c"], person["head_r"] * 1.15
    return {"image": name, "center": [round(float(v) + 1, 2) for v in center], "scale": round(scale, 4),
            "joints": [[round(float(x) + 1, 2), round(float(y) + 1, 2)] if v else [-1.0, -1.0]
                       for (x, y), v in zip(j, vis)],
            "joints_vis": vis,
            "headbox": [[round(float(c[0] - r) + 1, 2), round(float(c[1] - r) + 1, 2)],
                        [round(float(c[0] + r) + 1, 2), round(float(c[1] + r) + 1, 2)]]}


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def synth_mpii(out: str | os.PathLike, n_train: int = 1600, n_val: int = 200, seed: int = 0,
               size: tuple[int, int] = (256, 256)) -> Path:
    """Write OUT/images/*.jpg, OUT/annot/{train,valid}.json (one person per image) and
    OUT/annot/gt_valid.mat, the ground truth MPII's evaluation reads."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for split, n, offset in (("train", n_train, 0), ("valid", n_val, 10_000_000)):
        entries = []
        for i in range(n):
            rng = random.Random(seed * 1_000_003 + offset + i)
            height = rng.uniform(0.45, 0.95) * size[1]
            center = np.array([rng.uniform(0.35, 0.65) * size[0], rng.uniform(0.4, 0.6) * size[1]])
            person = sample_person(rng, height, center)
            name = f"{split}_{i:06d}.jpg"
            _render(rng, size, [person]).save(out / "images" / name, quality=92)
            entries.append(_mpii_entry(name, person, size))
        _write_json(out / "annot" / f"{split}.json", entries)
        if split == "valid":
            write_gt_valid(out / "annot" / "gt_valid.mat", entries)
    return out


# the joint names of MPII's gt_valid.mat, in its joint order (the reference evaluation looks up 'head')
_MAT_JOINTS = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head", "rwri", "relb",
               "rsho", "lsho", "lelb", "lwri")


def write_gt_valid(path: Path, entries: list[dict]) -> None:
    """MPII's ``annot/gt_valid.mat`` for the validation entries, as the reference evaluation (and
    SimpleBaseline's ``evaluate``) reads it: ``dataset_joints`` (1 x 16 names), ``jnt_missing``
    (16 x N), ``pos_gt_src`` (16 x 2 x N, 1-based pixels) and ``headboxes_src`` (2 x 2 x N)."""
    from scipy.io import savemat  # scipy is a dependency; numpy-only callers never get here

    joints = np.array([e["joints"] for e in entries], dtype=np.float64).reshape(-1, 16, 2)
    visible = np.array([e["joints_vis"] for e in entries], dtype=np.float64).reshape(-1, 16)
    boxes = np.array([e["headbox"] for e in entries], dtype=np.float64).reshape(-1, 2, 2)
    names = np.empty((1, 16), dtype=object)
    for i, name in enumerate(_MAT_JOINTS):
        names[0, i] = np.array([name])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mat")
    savemat(tmp, {"dataset_joints": names, "jnt_missing": (1 - visible).T,
                  "pos_gt_src": np.transpose(joints, (1, 2, 0)), "headboxes_src": np.transpose(boxes, (1, 2, 0))})
    os.replace(tmp, path)


def _coco_person(person: dict, size, image_id: int, ann_id: int) -> dict:
    j, face = person["joints"], person["face"]
    mpii_for = {"left_shoulder": 13, "right_shoulder": 12, "left_elbow": 14, "right_elbow": 11,
                "left_wrist": 15, "right_wrist": 10, "left_hip": 3, "right_hip": 2,
                "left_knee": 4, "right_knee": 1, "left_ankle": 5, "right_ankle": 0}
    kpts, count = [], 0
    for name in COCO_JOINTS:
        p = face[name] if name in face else j[mpii_for[name]]
        if _inside(p, size):
            kpts += [round(float(p[0]), 2), round(float(p[1]), 2), 2]
            count += 1
        else:
            kpts += [0, 0, 0]
    pts = np.vstack([j, np.array(list(face.values()))])
    r = person["head_r"] * 1.15
    lo = np.maximum(np.minimum(pts.min(axis=0), person["head_c"] - r) - person["width"], 0)
    hi = np.minimum(np.maximum(pts.max(axis=0), person["head_c"] + r) + person["width"],
                    np.array(size) - 1)
    w, h = hi - lo
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "bbox": [round(float(v), 2) for v in (lo[0], lo[1], w, h)], "area": round(float(w * h * 0.55), 2),
            "keypoints": kpts, "num_keypoints": count, "segmentation": []}


def synth_coco(out: str | os.PathLike, n_train: int = 800, n_val: int = 100, seed: int = 0,
               size: tuple[int, int] = (320, 256)) -> Path:
    """Write OUT/images/*.jpg, OUT/annotations/person_keypoints_{train,val}.json (one to three
    people per image) and a detector's boxes for the validation images (:data:`DETECTIONS`)."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    category = {"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_JOINTS),
                "skeleton": [list(e) for e in COCO_SKELETON]}
    ann_id = 1
    for split, n, offset in (("train", n_train, 0), ("val", n_val, 10_000_000)):
        images, annotations = [], []
        for i in range(n):
            rng = random.Random(seed * 1_000_003 + offset + i)
            image_id = offset + i + 1
            people = []
            for k in range(rng.choice((1, 1, 2, 3))):
                height = rng.uniform(0.35, 0.9) * size[1]
                cx = (k + rng.uniform(0.3, 0.7)) / 3 * size[0] if k else rng.uniform(0.3, 0.7) * size[0]
                people.append(sample_person(rng, height, np.array([cx, rng.uniform(0.4, 0.6) * size[1]])))
            name = f"{split}_{i:06d}.jpg"
            _render(rng, size, people).save(out / "images" / name, quality=92)
            images.append({"id": image_id, "file_name": name, "width": size[0], "height": size[1],
                           "license": 0})
            for person in people:
                annotations.append(_coco_person(person, size, image_id, ann_id))
                ann_id += 1
        _write_json(out / "annotations" / f"person_keypoints_{split}.json",
                    {"images": images, "annotations": annotations, "categories": [category],
                     "info": {"description": "orch synthetic COCO-format person keypoints"},
                     "licenses": [{"id": 0, "name": "synthetic, generated by orch"}]})
        if split == "val":
            _write_json(out / DETECTIONS, synthetic_detections(annotations, size, seed))
    return out


DETECTIONS = "person_detection_results/COCO_val2017_detections_synthetic.json"


def synthetic_detections(annotations: list[dict], size, seed: int = 0) -> list[dict]:
    """A person detector's output for the validation images, in the JSON SimpleBaseline reads
    (``image_id``, ``category_id``, ``bbox`` [x, y, w, h], ``score``): every person found with a
    jittered box and a high score, plus low-scoring false alarms, so a score threshold matters."""
    rng = random.Random(seed * 7 + 11)
    dets = []
    for ann in annotations:
        x, y, w, h = ann["bbox"]
        jit = [rng.gauss(0, 0.05) for _ in range(4)]
        box = [x + jit[0] * w, y + jit[1] * h, w * (1 + jit[2]), h * (1 + jit[3])]
        dets.append({"image_id": ann["image_id"], "category_id": 1, "score": round(rng.uniform(0.75, 0.99), 4),
                     "bbox": [round(max(0.0, v), 2) for v in box]})
        if rng.random() < 0.5:  # a false alarm somewhere in the same image
            fw, fh = rng.uniform(0.1, 0.3) * size[0], rng.uniform(0.2, 0.5) * size[1]
            dets.append({"image_id": ann["image_id"], "category_id": 1, "score": round(rng.uniform(0.05, 0.6), 4),
                         "bbox": [round(rng.uniform(0, size[0] - fw), 2), round(rng.uniform(0, size[1] - fh), 2),
                                  round(fw, 2), round(fh, 2)]})
    return dets


def synthetic_dataset(dataset: str, n_train: int, n_val: int, seed: int = 0) -> tuple[Path, dict]:
    """``data.root: synthetic``: the cached synthetic set (built if missing) and the annotation
    paths inside it."""
    files = ({"train": "annot/train.json", "val": "annot/valid.json", "images": "images"}
             if dataset == "mpii" else
             {"train": "annotations/person_keypoints_train.json",
              "val": "annotations/person_keypoints_val.json", "images": "images"})
    writer = synth_mpii if dataset == "mpii" else synth_coco
    root = cached_dataset(f"{dataset}-v{VERSION}-{n_train}-{n_val}-s{seed}",
                          lambda tmp: writer(tmp, n_train, n_val, seed))
    return root, files
