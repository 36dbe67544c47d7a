"""Top-down crops: the affine map from an image to the network input, and back.

Coordinates are pixel indices (pixel centres at integers, 0-based). A person is a
``center`` and a box size ``scale * 200`` px (MPII's convention; COCO boxes are turned into
the same form). The crop fits the box into the input with uniform scaling, rotated by
``rotation`` degrees about the centre, optionally mirrored.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

try:  # OpenCV decodes and warps faster; a box with only torch (a GPU image) falls back to PIL
    import cv2

    cv2.setNumThreads(1)  # one loader worker, one core: no thread pool per worker process
    _REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
except ImportError:  # pragma: no cover - exercised where OpenCV is absent
    cv2 = None

PIXEL_STD = 200.0  # MPII's scale unit: box size / 200

__all__ = ["crop_matrix", "apply", "invert", "warp", "box_to_center_scale", "flip_joints"]


def crop_matrix(center, scale, rotation: float, out_hw: tuple[int, int], flip: bool = False) -> np.ndarray:
    """2x3 matrix taking image pixel coordinates to crop coordinates."""
    out_h, out_w = out_hw
    sw, sh = (scale, scale) if np.ndim(scale) == 0 else scale
    k = min(out_w / (sw * PIXEL_STD), out_h / (sh * PIXEL_STD))
    a = math.radians(rotation)
    cos, sin = math.cos(a) * k, math.sin(a) * k
    # rotate counter-clockwise on screen (y down) by `rotation`, scale by k, centre in the output
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = np.array([(out_w - 1) / 2, (out_h - 1) / 2]) - m[:, :2] @ np.asarray(center, float)
    if flip:
        m[0] = -m[0]
        m[0, 2] += out_w - 1
    return m


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (..., 2) points through a 2x3 matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def invert(m: np.ndarray) -> np.ndarray:
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def warp(image: Image.Image, m: np.ndarray, out_hw: tuple[int, int]) -> Image.Image:
    """Resample ``image`` into the crop. PIL samples at pixel centres (index + 0.5), so the
    index-space inverse is conjugated by that half-pixel shift."""
    inv = invert(m)
    shift = inv[:, :2].sum(axis=1) * 0.5
    coeffs = inv.copy()
    coeffs[:, 2] = inv[:, 2] - shift + 0.5
    out_h, out_w = out_hw
    return image.transform((out_w, out_h), Image.AFFINE, tuple(coeffs.ravel()),
                           resample=Image.BILINEAR, fillcolor=(0, 0, 0))


def read_crop(path: str, m: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """The crop ``m`` maps ``path``'s image into, as ``out_hw`` x 3 uint8 RGB. With OpenCV: the
    JPEG is decoded at 1/2 or 1/4 of its size when the crop shrinks it at least that much (libjpeg's
    DCT scaling: less to decode, no upsampling after it), then one warpAffine; without it, PIL."""
    if cv2 is None:
        with Image.open(path) as img:
            return np.asarray(warp(img.convert("RGB"), m, out_hw))
    shrink = 1.0 / math.sqrt(abs(float(np.linalg.det(m[:, :2]))) or 1.0)  # source pixels per crop pixel
    r = 4 if shrink >= 4 else 2 if shrink >= 2 else 1
    image = cv2.imread(str(path), _REDUCED[r] | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if r > 1:  # pixel i of the reduced image covers full pixels r*i .. r*i + r - 1
        m = np.concatenate([m[:, :2] * r, (m[:, 2] + m[:, :2].sum(axis=1) * (r - 1) / 2)[:, None]], axis=1)
    out_h, out_w = out_hw
    crop = cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop[..., ::-1]  # BGR -> RGB (a view; the caller's transpose copies it)


def box_to_center_scale(box, aspect: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """COCO [x, y, w, h] -> centre and per-axis scale with the input's aspect (w / h), padded."""
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w * 0.5, y + h * 0.5])
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h]) / PIXEL_STD * padding


def flip_joints(joints: np.ndarray, vis: np.ndarray, pairs) -> tuple[np.ndarray, np.ndarray]:
    """Swap left/right joint indices (coordinates are mirrored by the crop matrix)."""
    joints, vis = joints.copy(), vis.copy()
    for a, b in pairs:
        joints[[a, b]] = joints[[b, a]]
        vis[[a, b]] = vis[[b, a]]
    return joints, vis
