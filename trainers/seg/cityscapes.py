"""The Cityscapes layout and label ids (no torch): which files make a split, and how the 34
``labelIds`` map to the 19 evaluated train ids (everything else is 255, ignored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainers.seg.labels import EVALUATED, CLASSES, IGNORE, LABEL_IDS

__all__ = ["CLASSES", "LABEL_IDS", "IGNORE", "label_lut", "list_split", "SplitError"]


class SplitError(FileNotFoundError):
    pass


def label_lut() -> np.ndarray:
    """uint8[256]: labelId -> train id, 255 for the ids Cityscapes does not evaluate."""
    lut = np.full(256, IGNORE, dtype=np.uint8)
    for train_id, (_, label_id) in enumerate(EVALUATED):
        lut[label_id] = train_id
    return lut


def list_split(root: str | Path, split: str) -> list[tuple[Path, Path, bool]]:
    """(image, label, label holds train ids) for every ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``,
    sorted; the label is ``*_gtFine_labelTrainIds.png`` when present, else ``*_gtFine_labelIds.png``."""
    root = Path(root)
    image_dir = root / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise SplitError(f"{image_dir} is not a folder; data.root must hold leftImg8bit/{split}/<city>/ "
                         f"and gtFine/{split}/<city>/ (the Cityscapes layout), or be 'synthetic'")
    items = []
    for image in sorted(image_dir.glob("*/*_leftImg8bit.png")):
        stem = image.name[: -len("_leftImg8bit.png")]
        folder = root / "gtFine" / split / image.parent.name
        train_ids = folder / f"{stem}_gtFine_labelTrainIds.png"
        label_ids = folder / f"{stem}_gtFine_labelIds.png"
        if train_ids.is_file():
            items.append((image, train_ids, True))
        elif label_ids.is_file():
            items.append((image, label_ids, False))
        else:
            raise SplitError(f"{image} has no label: expected {label_ids} (or *_labelTrainIds.png)")
    if not items:
        raise SplitError(f"no *_leftImg8bit.png under {image_dir}/<city>/")
    return items
