"""Cityscapes' evaluated classes and label ids: plain constants (no numpy), so the trainer's
declaration can name its table columns without importing anything heavy."""

from __future__ import annotations

__all__ = ["CLASSES", "LABEL_IDS", "IGNORE", "CLASS_LATEX", "EVALUATED"]

IGNORE = 255
# (name, labelId) of the 19 evaluated classes, in train-id order
EVALUATED = (("road", 7), ("sidewalk", 8), ("building", 11), ("wall", 12), ("fence", 13), ("pole", 17),
              ("traffic light", 19), ("traffic sign", 20), ("vegetation", 21), ("terrain", 22), ("sky", 23),
              ("person", 24), ("rider", 25), ("car", 26), ("truck", 27), ("bus", 28), ("train", 31),
              ("motorcycle", 32), ("bicycle", 33))
CLASSES = tuple(name for name, _ in EVALUATED)
LABEL_IDS = {name: label_id for name, label_id in EVALUATED} | {"unlabeled": 0, "ego vehicle": 1}
# short LaTeX headers for the per-class columns; the others are the name capitalised
CLASS_LATEX = {"sidewalk": "Side", "building": "Build", "traffic light": "TLight", "traffic sign": "TSign",
               "vegetation": "Veg", "terrain": "Terr", "person": "Pers", "motorcycle": "Motor", "bicycle": "Bike"}
