"""Output presets: what the field's training and evaluation scripts print, as parser sets.

``parse: simplebaseline`` in a command sweep stands for the parsers below; ``metrics:`` then
adds parsers of your own. Each preset is documented with the lines it reads (docs/sweeps.md).
Names go through the trainers' metric groups (``Shou`` -> ``val/Shoulder``, ``coco/AP .5`` ->
``val/AP50``), so ``orch table --metric pckh|coco|miou`` fills every column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Preset", "PRESETS"]

_LOSS = r"Loss (?P<loss>[\d.]+) \((?P<loss_avg>[\d.]+)\)"


@dataclass(frozen=True)
class Preset:
    parsers: tuple[dict, ...]
    step_regex: str
    rename: dict[str, str] = field(default_factory=dict)  # parsed name -> stored name
    reads: str = ""  # what it reads, for the docs and `orch trainers command`


PRESETS = {
    # Microsoft's SimpleBaseline and HRNet: `Epoch: [e][i/n] ... Loss x (avg)`, `Test: [i/n] ...
    # Loss x (avg)`, and the per-epoch `| Arch | Head | ... | Mean | Mean@0.1 |` table, whose
    # Mean@0.1 is the reference script's (threshold 0.11): stored as val/Mean@0.1_ref
    "simplebaseline": Preset(
        ({"type": "markdown", "prefix": "val/"},
         {"type": "regex", "pattern": _LOSS, "prefix": "train/", "after": r"^Epoch: \[", "before": r"^Test: "},
         {"type": "regex", "pattern": _LOSS, "prefix": "val/", "after": r"^Test: ", "before": r"^Epoch: \["}),
        r"Epoch: \[(\d+)\]", {"val/Mean@0.1": "val/Mean@0.1_ref"},
        "the per-epoch PCKh table (Mean@0.1 as val/Mean@0.1_ref), train/loss from Epoch lines, val/loss from Test lines"),
    # MMEngine (mmpose, mmseg, mmdet): `Epoch(val) [10][50/50]    coco/AP: 0.71  coco/AP .5: 0.90 ...`,
    # `Epoch(train) [10][100/500]  lr: 1e-03 ... loss: 0.0012`; fractions become percentages
    "mmpose": Preset(
        ({"type": "pairs", "match": r"(?:Epoch|Iter)\(val\)\s+\[(?P<step>\d+)\](?:\[[\d/]+\])?", "prefix": "val/",
          "scale": 100},
         {"type": "regex", "pattern": r"(?:Epoch|Iter)\(train\).*?\sloss: (?P<loss>[\d.eE+-]+)", "prefix": "train/"}),
        r"(?:Epoch|Iter)\((?:train|val)\)\s+\[(\d+)\]", {},
        "Epoch(val)/Iter(val) lines (PCK, PCKh and parts, coco/AP..., mIoU as percentages), train loss"),
    # detectron2: `copypaste: Task: keypoints` then `copypaste: AP,AP50,...` and the values;
    # the step is the `iter: N` of its event lines
    "detectron2": Preset(
        ({"type": "copypaste", "prefix": "val/", "task": "keypoints"},
         {"type": "regex", "pattern": r"iter: (?P<step>\d+)\s+total_loss: (?P<loss>[\d.]+)", "prefix": "train/"}),
        r"iter: (\d+)", {},
        "copypaste: blocks (keypoints task as val/AP..., other tasks as val/<task>/AP...), total_loss"),
    # PoseTrack's evaluator: `& Head & Shou & ... & Total\\` AP rows, then the MOTA block with two
    # header rows (mota/Head ... motp/Total, prec/Total, rec/Total)
    "poseval": Preset(({"type": "latex", "prefix": "val/"},), r"Epoch:?\s*\[(\d+)\]", {},
                      "LaTeX AP rows and the MOTA/MOTP/Prec/Rec block under its own names"),
    # CoinCheung's BiSeNet: `single mIOU is: 0.7544`, `single scale crop mIOU is: ...`,
    # `ms flip mIOU is: ...`, `ms crop mIOU is: ...`; fractions become percentages
    "bisenet": Preset(
        ({"type": "regex", "pattern": r"single mIOU is: (?P<mIoU>[\d.]+)", "prefix": "val/", "scale": 100},
         {"type": "regex", "pattern": r"single scale crop mIOU is: (?P<mIoU_ss_crop>[\d.]+)", "prefix": "val/",
          "scale": 100},
         {"type": "regex", "pattern": r"ms flip mIOU is: (?P<mIoU_ms_flip>[\d.]+)", "prefix": "val/", "scale": 100},
         {"type": "regex", "pattern": r"ms crop mIOU is: (?P<mIoU_ms_flip_crop>[\d.]+)", "prefix": "val/",
          "scale": 100},
         {"type": "regex", "pattern": r"iter: (?P<step>\d+)/\d+.*?loss: (?P<loss>[\d.]+)", "prefix": "train/"}),
        r"iter: (\d+)/\d+", {},
        "the four mIOU lines (single scale, crop, ms flip, ms crop) as percentages, and iteration losses"),
}
