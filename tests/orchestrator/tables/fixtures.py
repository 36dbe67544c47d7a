"""Fixed TrialResults shaped like the notes' msssm ablation: pointMaxW x probMargin, 2 seeds."""

from __future__ import annotations

import math

from orchestrator.analysis.records import SweepRecord, TrialResult

JOINTS = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]
OFFSET = {"Head": 6.0, "Shoulder": 4.5, "Elbow": -0.5, "Wrist": -5.0, "Hip": 0.5, "Knee": -2.5,
          "Ankle": -6.0, "Mean": 0.0, "Mean@0.1": -50.0}


def _history(base: float, seed: int, status: str) -> dict[str, tuple]:
    out = {}
    for joint in JOINTS:
        points = []
        for step in (1, 2, 3):
            value = base + OFFSET[joint] + 2.0 * step + 0.25 * seed - (3.0 if step == 3 and base > 85 else 0)
            if status == "diverged" and step == 2:
                value = math.nan
            points.append((step, value))
            if status == "diverged" and step == 2:
                break
        out[f"val/{joint}"] = tuple(points)
    out["train/loss"] = tuple((s, 1.0 / (s + seed + base / 100)) for s in (1, 2, 3))
    return out


def trial(w: float, m: float, seed: int, base: float, status: str = "finished") -> TrialResult:
    setting = f"p{w:g}m{m:g}"
    history = _history(base, seed, status) if status != "failed" else {"val/Mean": ((1, base),)}
    return TrialResult(
        run_id=f"run-{setting}-{seed}", name=f"{setting}_s{seed}", setting=setting, key=f"k{setting}{seed}",
        seed=seed, status=status, axes={"pointMaxW": w, "probMargin": m},
        params={"pointMaxW": str(w), "probMargin": str(m), "model.backbone": "resnet50",
                "model/params": "34000000"},
        metrics={k: v[-1][1] for k, v in history.items()}, history=history)


def record() -> SweepRecord:
    trials = (
        trial(0, 0, 0, 80), trial(0, 0, 1, 80),
        trial(0, 0.8, 0, 84), trial(0, 0.8, 1, 84),
        trial(1, 0, 0, 86), trial(1, 0, 1, 86, "failed"),
        trial(1, 0.8, 0, 83, "diverged"), trial(1, 0.8, 1, 83, "diverged"),
    )
    return SweepRecord(name="msssm_margin", run_id="parent", experiment_id="1", status="FINISHED",
                       start_time=0, trainer="pose", metric="val/Mean", mode="max",
                       axes=("pointMaxW", "probMargin"), planned=8, trials=trials)
