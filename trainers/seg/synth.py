"""``orch data synth cityscapes OUT``: street scenes in the exact Cityscapes layout.

Each scene is drawn as a label map (Cityscapes ``labelIds``: sky, buildings with windows, a road
in perspective with lane marks, sidewalks, walls, fences, terrain, trees, poles with signs and
lights, cars, trucks, buses, people, riders on bicycles and motorcycles, the ego vehicle's bonnet)
and, at the same time, as an image: class colours jittered per scene and per object, textures
(tiles, windows, foliage noise), shading and sensor noise. Shapes and contexts carry the class,
colours overlap between classes, so a model has something to learn. numpy and PIL only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from trainers.seg.cityscapes import LABEL_IDS

__all__ = ["synth_cityscapes", "write_synthetic", "render_scene", "CITIES"]

CITIES = {"train": ("aachen", "bochum", "bremen"), "val": ("frankfurt", "lindau", "munster")}
_BASE = {"road": (128, 64, 128), "sidewalk": (170, 150, 160), "building": (110, 100, 95),
         "wall": (140, 130, 115), "fence": (150, 140, 120), "pole": (90, 90, 90),
         "traffic light": (40, 40, 30), "traffic sign": (220, 200, 30), "vegetation": (70, 120, 40),
         "terrain": (140, 150, 90), "sky": (110, 160, 220), "person": (150, 60, 60), "rider": (200, 40, 40),
         "car": (30, 40, 130), "truck": (40, 60, 80), "bus": (200, 180, 60), "train": (60, 100, 110),
         "motorcycle": (40, 20, 90), "bicycle": (100, 30, 40), "unlabeled": (20, 20, 20),
         "ego vehicle": (30, 30, 35)}
_TEXTURE = {"vegetation": 40.0, "terrain": 25.0, "road": 8.0, "sidewalk": 10.0, "building": 12.0, "wall": 10.0}


class _Canvas:
    """Draws every shape twice: its class id into the label map, its colour into the image."""

    def __init__(self, h: int, w: int, rng: np.random.Generator):
        self.h, self.w, self.rng = h, w, rng
        self.label = Image.new("L", (w, h), LABEL_IDS["sky"])
        self.image = Image.new("RGB", (w, h), _BASE["sky"])
        self.dl, self.di = ImageDraw.Draw(self.label), ImageDraw.Draw(self.image)
        self.tint = rng.integers(-20, 21, size=3)

    def colour(self, name: str, spread: int = 15) -> tuple[int, int, int]:
        base = np.array(_BASE[name]) + self.tint + self.rng.integers(-spread, spread + 1, size=3)
        return tuple(int(v) for v in np.clip(base, 0, 255))

    def polygon(self, name: str, points, colour=None, label: bool = True) -> None:
        points = [(float(x), float(y)) for x, y in points]
        if label:
            self.dl.polygon(points, fill=LABEL_IDS[name])
        self.di.polygon(points, fill=colour or self.colour(name))

    def rect(self, name: str, x0, y0, x1, y1, colour=None, label: bool = True) -> None:
        self.polygon(name, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, label)

    def ellipse(self, name: str, x0, y0, x1, y1, colour=None) -> None:
        box = [float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1))]
        self.dl.ellipse(box, fill=LABEL_IDS[name])
        self.di.ellipse(box, fill=colour or self.colour(name))


def _buildings(c: _Canvas, horizon: float, vx: float) -> None:
    x = -c.rng.uniform(0, 0.1) * c.w
    while x < c.w:
        width = c.rng.uniform(0.08, 0.25) * c.w
        near_centre = abs(x + width / 2 - vx) < 0.15 * c.w
        if near_centre and c.rng.random() < 0.5:
            x += width * 0.6  # a gap: sky down to the horizon
            continue
        top = c.rng.uniform(0.02, 0.25 if not near_centre else 0.35) * c.h
        colour = c.colour("building", 35)
        c.rect("building", x, top, x + width, c.h, colour)
        window = tuple(int(v * 0.55) for v in colour)
        step_x, step_y = c.rng.uniform(0.025, 0.05) * c.w, c.rng.uniform(0.05, 0.09) * c.h
        for wy in np.arange(top + step_y * 0.5, horizon - step_y * 0.5, step_y):
            for wx in np.arange(x + step_x * 0.4, x + width - step_x * 0.6, step_x):
                c.rect("building", wx, wy, wx + step_x * 0.5, wy + step_y * 0.55, window, label=False)
        x += width


def _ground(c: _Canvas, horizon: float, vx: float) -> tuple[float, float]:
    """Terrain, sidewalks, walls/fences and the road; returns the road's bottom edges."""
    h, w, rng = c.h, c.w, c.rng
    if rng.random() < 0.5:
        c.rect("terrain", 0, horizon + 0.05 * h, w * rng.uniform(0.1, 0.3), h)
    left, right = w * rng.uniform(-0.3, 0.15), w * rng.uniform(0.85, 1.3)
    top_l, top_r = vx - 0.02 * w, vx + 0.02 * w
    walk = rng.uniform(0.2, 0.45) * w
    c.polygon("sidewalk", [(top_l - 0.03 * w, horizon), (top_l, horizon), (left, h), (left - walk, h)])
    c.polygon("sidewalk", [(top_r, horizon), (top_r + 0.03 * w, horizon), (right + walk, h), (right, h)])
    if rng.random() < 0.6:  # a wall or fence along one sidewalk's outer edge
        name = "wall" if rng.random() < 0.5 else "fence"
        side = -1 if rng.random() < 0.5 else 1
        x_far, x_near = vx + side * 0.05 * w, (left - walk) if side < 0 else (right + walk)
        height = rng.uniform(0.06, 0.14) * h
        y_near = h * rng.uniform(0.75, 0.95)
        x_near_at = x_far + (x_near - x_far) * (y_near - horizon) / (h - horizon)
        colour = c.colour(name)
        c.polygon(name, [(x_far, horizon - 0.01 * h), (x_near_at, y_near - height), (x_near_at, y_near),
                         (x_far, horizon)], colour)
        if name == "fence":  # slats: the image shows the stripes, the label is the whole fence
            for t in np.linspace(0.05, 0.95, 12):
                xs = x_far + (x_near_at - x_far) * t
                c.rect(name, xs, horizon - 0.01 * h + (y_near - height - horizon) * t, xs + 1.5,
                       horizon + (y_near - horizon) * t, (40, 40, 40), label=False)
    c.polygon("road", [(top_l, horizon), (top_r, horizon), (right, h), (left, h)])
    for t0 in np.arange(rng.uniform(0, 0.2), 1.0, 0.2):  # dashed centre line, part of the road
        t1 = t0 + 0.08
        c.polygon("road", [(vx, horizon + (h - horizon) * t0 ** 2), (vx + 2 + 6 * t0, horizon + (h - horizon) * t0 ** 2),
                           (vx + 2 + 6 * t1, horizon + (h - horizon) * t1 ** 2), (vx, horizon + (h - horizon) * t1 ** 2)],
                  (225, 225, 225), label=False)
    return left, right


def _tree(c: _Canvas, x: float, y: float, size: float) -> None:
    c.rect("vegetation", x - size * 0.06, y - size * 1.2, x + size * 0.06, y, c.colour("pole", 10))
    c.ellipse("vegetation", x - size * 0.5, y - size * 2.0, x + size * 0.5, y - size * 0.9)


def _pole(c: _Canvas, x: float, y: float, size: float) -> None:
    top = y - size * 2.2
    c.rect("pole", x - max(1.0, size * 0.03), top, x + max(1.0, size * 0.03), y)
    if c.rng.random() < 0.5:
        c.rect("traffic sign", x - size * 0.18, top - size * 0.3, x + size * 0.18, top + size * 0.02)
    else:
        c.rect("traffic light", x - size * 0.08, top - size * 0.4, x + size * 0.08, top)
        lamp = [(230, 40, 30), (240, 200, 40), (40, 220, 80)][int(c.rng.integers(3))]
        c.ellipse("traffic light", x - size * 0.05, top - size * 0.35, x + size * 0.05, top - size * 0.25, lamp)


def _person(c: _Canvas, x: float, y: float, size: float, name: str = "person") -> None:
    clothes = tuple(int(v) for v in c.rng.integers(20, 230, size=3))
    c.rect(name, x - size * 0.1, y - size * 0.5, x - size * 0.02, y, c.colour(name, 40))
    c.rect(name, x + size * 0.02, y - size * 0.5, x + size * 0.1, y, c.colour(name, 40))
    c.rect(name, x - size * 0.14, y - size * 1.05, x + size * 0.14, y - size * 0.45, clothes)
    c.ellipse(name, x - size * 0.09, y - size * 1.28, x + size * 0.09, y - size * 1.06, (210, 170, 140))


def _vehicle(c: _Canvas, x: float, y: float, size: float) -> None:
    r = c.rng.random()
    name = "car" if r < 0.7 else "truck" if r < 0.82 else "bus" if r < 0.94 else "train"
    length, height = {"car": (1.6, 0.55), "truck": (2.0, 1.1), "bus": (2.4, 1.2), "train": (3.5, 1.1)}[name]
    body = tuple(int(v) for v in c.rng.integers(10, 240, size=3)) if name == "car" else c.colour(name, 30)
    x0, x1 = x - size * length / 2, x + size * length / 2
    c.rect(name, x0, y - size * height, x1, y - size * 0.1, body)
    if name == "car":
        c.polygon(name, [(x0 + size * 0.3, y - size * height), (x1 - size * 0.3, y - size * height),
                         (x1 - size * 0.45, y - size * 0.9), (x0 + size * 0.45, y - size * 0.9)],
                  (60, 80, 100))
    else:  # windows along the side
        for wx in np.arange(x0 + size * 0.1, x1 - size * 0.3, size * 0.35):
            c.rect(name, wx, y - size * height * 0.9, wx + size * 0.25, y - size * height * 0.6, (50, 70, 90), label=False)
    for wx in (x0 + size * 0.3, x1 - size * 0.3):
        c.ellipse(name, wx - size * 0.14, y - size * 0.25, wx + size * 0.14, y + size * 0.02, (15, 15, 15))


def _two_wheeler(c: _Canvas, x: float, y: float, size: float) -> None:
    name = "bicycle" if c.rng.random() < 0.6 else "motorcycle"
    for wx in (x - size * 0.3, x + size * 0.3):
        c.ellipse(name, wx - size * 0.2, y - size * 0.4, wx + size * 0.2, y, c.colour(name, 20))
    c.rect(name, x - size * 0.3, y - size * 0.3, x + size * 0.3, y - size * 0.2, c.colour(name, 20))
    _person(c, x, y - size * 0.35, size * 0.8, "rider")


def render_scene(h: int, w: int, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """(RGB image, labelIds map) of one street scene."""
    c = _Canvas(h, w, rng)
    horizon, vx = rng.uniform(0.38, 0.5) * h, rng.uniform(0.35, 0.65) * w
    sky_top, sky_bottom = np.array(c.colour("sky", 20)), np.array([225, 230, 235])
    grad = np.linspace(0, 1, h)[:, None, None]
    c.image.paste(Image.fromarray(np.broadcast_to(sky_top * (1 - grad) + sky_bottom * grad, (h, w, 3)).astype(np.uint8)))
    _buildings(c, horizon, vx)
    left, right = _ground(c, horizon, vx)
    things = []
    for _ in range(int(rng.integers(2, 7))):  # trees and poles on the sidewalks
        t = rng.uniform(0.05, 1.0)
        side = -1 if rng.random() < 0.5 else 1
        edge = (left if side < 0 else right)
        x = vx + (edge - vx) * t + side * rng.uniform(0.02, 0.1) * w * t
        things.append((horizon + (h - horizon) * t, x, "tree" if rng.random() < 0.5 else "pole"))
    for _ in range(int(rng.integers(1, 6))):  # vehicles on the road
        t = rng.uniform(0.1, 0.9)
        lo, hi = vx + (left - vx) * t, vx + (right - vx) * t
        things.append((horizon + (h - horizon) * t, rng.uniform(lo, hi), "vehicle"))
    for _ in range(int(rng.integers(0, 5))):  # people on the sidewalks, riders on the road's edge
        t = rng.uniform(0.1, 1.0)
        side = -1 if rng.random() < 0.5 else 1
        edge = (left if side < 0 else right)
        kind = "two_wheeler" if rng.random() < 0.3 else "person"
        offset = -side * 0.05 * w * t if kind == "two_wheeler" else side * rng.uniform(0.02, 0.12) * w * t
        things.append((horizon + (h - horizon) * t, vx + (edge - vx) * t + offset, kind))
    for y, x, kind in sorted(things):  # far to near, so near things cover far ones
        size = 0.4 * (y - horizon) + 2.0
        {"tree": _tree, "pole": _pole, "vehicle": _vehicle, "person": _person,
         "two_wheeler": _two_wheeler}[kind](c, x, y, size)
    if rng.random() < 0.5:  # the ego vehicle's bonnet: labelled, but not evaluated
        top = h * rng.uniform(0.88, 0.95)
        c.polygon("ego vehicle", [(0, h), (0.1 * w, top), (0.9 * w, top), (w, h)])
    return _finish(c), c.label


def _finish(c: _Canvas) -> Image.Image:
    """Textures where the class calls for them, shading, blur and sensor noise."""
    rng = c.rng
    img = np.asarray(c.image, dtype=np.float32)
    label = np.asarray(c.label)
    h, w = label.shape
    for name, strength in _TEXTURE.items():
        mask = label == LABEL_IDS[name]
        if mask.any():
            small = rng.normal(0, strength, size=(max(h // 4, 1), max(w // 4, 1), 1)).astype(np.float32)
            coarse = np.asarray(Image.fromarray(small[..., 0]).resize((w, h), Image.BILINEAR))[..., None]
            fine = rng.normal(0, strength * 0.5, size=(h, w, 1)).astype(np.float32)
            img = np.where(mask[..., None], img + coarse + fine, img)
    tiles = (label == LABEL_IDS["sidewalk"]) & (((np.arange(w)[None, :] // 6) + (np.arange(h)[:, None] // 4)) % 2 == 0)
    img[tiles] *= 0.9
    img *= rng.uniform(0.75, 1.2) * (1 - 0.25 * np.linspace(0, 1, w)[None, :, None] * rng.uniform(-1, 1))
    img = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(img, dtype=np.float32) + rng.normal(0, 5, size=(h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def synth_cityscapes(out: str | Path, n_train: int = 200, n_val: int = 40, seed: int = 0,
                     size: tuple[int, int] = (256, 512)) -> Path:
    """Write ``leftImg8bit/{train,val}/<city>/<city>_SSSSSS_FFFFFF_leftImg8bit.png`` and the
    matching ``gtFine/.../*_gtFine_labelIds.png``; the same seed writes the same files."""
    out = Path(out)
    h, w = size
    for split, count in (("train", n_train), ("val", n_val)):
        rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        for i in range(count):
            city = CITIES[split][i % len(CITIES[split])]
            stem = f"{city}_{i // len(CITIES[split]):06d}_{19:06d}"
            image, label = render_scene(h, w, rng)
            for kind, suffix, picture in (("leftImg8bit", "leftImg8bit", image), ("gtFine", "gtFine_labelIds", label)):
                folder = out / kind / split / city
                folder.mkdir(parents=True, exist_ok=True)
                picture.save(folder / f"{stem}_{suffix}.png")
    (out / "README.synthetic.json").write_text(json.dumps(
        {"generator": "orch data synth cityscapes", "seed": seed, "train": n_train, "val": n_val,
         "size": [h, w]}, indent=1) + "\n")
    return out


def write_synthetic(out: str | Path, n_train: int, n_val: int, seed: int = 0, size: str = "256x512") -> Path:
    """``orch data synth cityscapes``: :func:`synth_cityscapes` with the size given as ``HxW``."""
    h, _, w = str(size).lower().partition("x")
    if not (h.isdigit() and w.isdigit() and int(h) >= 32 and int(w) >= 32):
        raise ValueError(f"size {size!r}: expected HxW, both at least 32, e.g. 256x512")
    return synth_cityscapes(out, n_train, n_val, seed, (int(h), int(w)))
