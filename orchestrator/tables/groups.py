"""Named groups of metrics, the columns researchers paste: ``pckh``, ``miou``, ``coco``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Column", "expand_metrics", "UnknownMetric", "metric_mode"]

PCKH = [("val/Head", "Head", "Head"), ("val/Shoulder", "Shoulder", "Shou"), ("val/Elbow", "Elbow", "Elb"),
        ("val/Wrist", "Wrist", "Wri"), ("val/Hip", "Hip", "Hip"), ("val/Knee", "Knee", "Knee"),
        ("val/Ankle", "Ankle", "Ank"), ("val/Mean", "Mean", "Mean"), ("val/Mean@0.1", "Mean@0.1", "Mean@0.1")]
COCO = [(f"val/{k}", k, k) for k in ("AP", "AP50", "AP75", "APm", "APl", "AR")]
CITYSCAPES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
              "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
              "motorcycle", "bicycle")
_CLASS_SHORT = {"sidewalk": "Side", "building": "Build", "traffic light": "TLight", "traffic sign": "TSign",
                "vegetation": "Veg", "terrain": "Terr", "person": "Pers", "motorcycle": "Motor", "bicycle": "Bike"}
MIOU_MODES = [("val/mIoU_flip", "mIoU flip"), ("val/mIoU_ms", "mIoU MS"), ("val/mIoU_ms_flip", "mIoU MS+flip")]
_LOWER_IS_BETTER = re.compile(r"loss|err|mpjpe|time|wait|latency|memory", re.I)


class UnknownMetric(Exception):
    pass


@dataclass(frozen=True)
class Column:
    key: str  # metric or param name as logged
    label: str  # markdown / csv / html header
    latex: str  # short header for the notes' `& Head & Shou & ...` rows
    mode: str  # "max" | "min" for metrics, "" for params (never bold)
    is_param: bool = False


def metric_mode(key: str, sweep_metric: str, sweep_mode: str) -> str:
    if key == sweep_metric:
        return sweep_mode
    return "min" if _LOWER_IS_BETTER.search(key) else "max"


def _label(key: str) -> str:
    return key[4:] if key.startswith("val/") else key


def expand_metrics(names: list[str], logged: set[str], params: set[str], sweep_metric: str,
                   sweep_mode: str, per_class: bool = False) -> list[Column]:
    """Turn ``--metric`` values into columns: groups expand, ``Mean`` finds ``val/Mean``,
    params (``model.backbone``) work too; an unknown name lists what exists."""
    columns: list[Column] = []

    def add(key: str, label: str, latex: str, is_param: bool = False) -> None:
        if all(c.key != key for c in columns):
            mode = "" if is_param else metric_mode(key, sweep_metric, sweep_mode)
            columns.append(Column(key, label, latex, mode, is_param))

    for name in names:
        lowered = name.lower()
        if lowered == "pckh":
            for key, label, latex in PCKH:
                add(key, label, latex)
        elif lowered in ("coco", "ap", "oks"):
            for key, label, latex in COCO:
                add(key, label, latex)
        elif lowered == "miou":
            add("val/mIoU", "mIoU", "mIoU")
            for key, label in MIOU_MODES:  # the seg trainer's other evaluation modes, when logged
                if key in logged:
                    add(key, label, label)
            if per_class:
                classes = sorted((k for k in logged if k.startswith("val/iou/")),
                                 key=lambda k: (CITYSCAPES.index(k[8:]) if k[8:] in CITYSCAPES else 99, k))
                for key in classes:
                    add(key, key[8:], _CLASS_SHORT.get(key[8:], key[8:].capitalize()))
        elif name in logged:
            add(name, _label(name), _label(name))
        elif f"val/{name}" in logged:
            add(f"val/{name}", name, name)
        elif name in params:
            add(name, name, name, is_param=True)
        else:
            from orchestrator.spec.errors import did_you_mean

            short = {k[4:] for k in logged if k.startswith("val/")}
            hint = did_you_mean(name, sorted(logged | params | short)) or \
                f"logged metrics: {', '.join(sorted(logged)[:20])}"
            raise UnknownMetric(f"--metric {name}: not a logged metric, group or param; {hint}")
    return columns
