"""``data.root: synthetic`` for pose: the generated MPII or COCO set, cached."""

from __future__ import annotations

from pathlib import Path

from trainers._cache import cached_dataset
from trainers.pose.synth import synth_coco, synth_mpii

VERSION = 1  # bump when the renderer changes, so caches are rebuilt


def synthetic_dataset(dataset: str, n_train: int, n_val: int, seed: int = 0) -> tuple[Path, dict]:
    """Path of the synthetic set (built if missing) and the annotation paths inside it."""
    files = ({"train": "annot/train.json", "val": "annot/valid.json", "images": "images"}
             if dataset == "mpii" else
             {"train": "annotations/person_keypoints_train.json",
              "val": "annotations/person_keypoints_val.json", "images": "images"})
    writer = synth_mpii if dataset == "mpii" else synth_coco
    root = cached_dataset(f"{dataset}-v{VERSION}-{n_train}-{n_val}-s{seed}",
                          lambda tmp: writer(tmp, n_train, n_val, seed))
    return root, files
