"""``data.root: synthetic``: the generated dataset, written once into a cache folder."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from trainers.pose.synth import synth_coco, synth_mpii

VERSION = 1  # bump when the renderer changes, so caches are rebuilt


def cache_root() -> Path:
    return Path(os.environ.get("ORCH_CACHE", Path.home() / ".cache" / "orch"))


def synthetic_dataset(dataset: str, n_train: int, n_val: int, seed: int = 0) -> tuple[Path, dict]:
    """Path of the synthetic set (built under a lock if missing; concurrent trials wait for the
    first) and the annotation paths inside it."""
    root = cache_root() / "synthetic" / f"{dataset}-v{VERSION}-{n_train}-{n_val}-s{seed}"
    files = ({"train": "annot/train.json", "val": "annot/valid.json", "images": "images"}
             if dataset == "mpii" else
             {"train": "annotations/person_keypoints_train.json",
              "val": "annotations/person_keypoints_val.json", "images": "images"})
    if (root / "DONE").exists():
        return root, files
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "DONE").exists():
            tmp = root.with_name(root.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            (synth_mpii if dataset == "mpii" else synth_coco)(tmp, n_train, n_val, seed)
            (tmp / "DONE").write_text("complete\n")
            shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
    return root, files
