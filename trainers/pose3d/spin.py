"""SPIN's preprocessed data files (``data.format: spin_npz``): one ``.npz`` per split, as SPIN
distributes them and most of its successors reuse, beside the data set's image folders.

Keys read: ``imgname`` (N, image paths relative to ``data.images``), ``center`` (N, 2, px),
``scale`` (N, the crop side / 200 px, SPIN's padding included), ``part`` (N, 24, 3: 2-D keypoints
in px with a visibility) and, where the set has them, ``S`` (N, 24, 4: 3-D joints in metres, camera
frame, with a confidence). A set without ``S`` (COCO, MPII, LSP), or a joint whose confidence is
0, adds to the 2-D loss only; ``pose``, ``shape`` and ``has_smpl`` are ignored (no SMPL here).

SPIN's 24 joints onto the trainer's 17 (Human3.6M's evaluation subset, skeleton.JOINTS):

    pelvis <- 14 Pelvis (MPII)     spine <- 16 Spine (H36M)       l_shoulder <- 9 L shoulder
    r_hip <- 2 R hip               thorax <- 15 Thorax (MPII)     l_elbow <- 10 L elbow
    r_knee <- 1 R knee             neck <- 17 Jaw (H36M)          l_wrist <- 11 L wrist
    r_ankle <- 0 R ankle           head <- 18 Head (H36M)         r_shoulder <- 8 R shoulder
    l_hip <- 3 L hip                                              r_elbow <- 7 R elbow
    l_knee <- 4 L knee                                            r_wrist <- 6 R wrist
    l_ankle <- 5 L ankle

Every problem (a missing key, arrays of the wrong shape, images that do not exist) is a
:class:`SpinError` naming the file and the key, raised before training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["J24", "TO_17", "SpinError", "read_spin", "spin_arrays"]

J24 = ("R ankle", "R knee", "R hip", "L hip", "L knee", "L ankle", "R wrist", "R elbow", "R shoulder",
       "L shoulder", "L elbow", "L wrist", "Neck (LSP)", "Top of head (LSP)", "Pelvis (MPII)", "Thorax (MPII)",
       "Spine (H36M)", "Jaw (H36M)", "Head (H36M)", "Nose", "L eye", "R eye", "L ear", "R ear")
# for each of skeleton.JOINTS, its index in J24
TO_17 = (14, 2, 1, 0, 3, 4, 5, 16, 15, 17, 18, 9, 10, 11, 8, 7, 6)
SHAPES = {"center": (2,), "scale": (), "part": (24, 3), "S": (24, 4)}
REQUIRED = ("imgname", "center", "scale", "part")
IMAGES_CHECKED = 50  # the first images are checked to exist before training; later ones when read


class SpinError(ValueError):
    pass


def read_spin(path: Path, images: Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of a SPIN ``.npz``, checked and mapped onto the 17 joints: ``image`` (N paths),
    ``center``, ``side`` (crop side, px), ``joints2d`` (N, 17, 2 px), ``vis2d`` (N, 17),
    ``joints3d`` (N, 17, 3 mm) and ``has3d`` (N, 17)."""
    if not path.is_file():
        raise SpinError(f"{path}: no such file (data.format spin_npz reads data.train / data.val as .npz "
                        "files relative to data.root)")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SpinError(f"{path}: not a readable .npz ({exc})") from None
    with data:
        missing = [k for k in REQUIRED if k not in data.files]
        if missing:
            raise SpinError(f"{path}: key {missing[0]!r} is missing (it has {', '.join(sorted(data.files))}); a SPIN "
                            f"file has {', '.join(REQUIRED)} and, with 3-D joints, S")
        arrays = {k: data[k][:limit] if limit else data[k] for k in (*REQUIRED, *(("S",) if "S" in data.files else ()))}
    return spin_arrays(path, images, arrays)


def spin_arrays(path: Path, images: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(arrays["imgname"])
    for key, shape in SHAPES.items():
        if key in arrays and arrays[key].shape != (n, *shape):
            raise SpinError(f"{path}: key {key!r} has shape {arrays[key].shape}, expected {(n, *shape)} "
                            f"(one row per imgname, {n} rows)")
    names = [str(v) for v in arrays["imgname"]]
    absent = [p for p in (images / name for name in names[:IMAGES_CHECKED]) if not p.is_file()]
    if absent:
        raise SpinError(f"{path}: key 'imgname': {len(absent)} of the first {min(n, IMAGES_CHECKED)} images do not "
                        f"exist under {images}, e.g. {absent[0]}; point data.images at the folder imgname is "
                        "relative to")
    part = arrays["part"].astype(np.float64)
    out = {"image": np.array([str(images / name) for name in names]),
           "center": arrays["center"].astype(np.float64), "side": arrays["scale"].astype(np.float64) * 200.0,
           "joints2d": part[:, TO_17, :2], "vis2d": (part[:, TO_17, 2] > 0).astype(np.float32)}
    if "S" in arrays:
        s = arrays["S"].astype(np.float64)
        out["joints3d"], out["has3d"] = s[:, TO_17, :3] * 1000.0, (s[:, TO_17, 3] > 0).astype(np.float32)
    else:  # a 2-D set
        out["joints3d"], out["has3d"] = np.zeros((n, 17, 3)), np.zeros((n, 17), np.float32)
    return out
