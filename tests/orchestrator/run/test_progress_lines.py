"""The plain progress lines (no live view): a trial's finished line gives its last value and,
when that is not its best, the best and its step; the closing line names where the best came from."""

from __future__ import annotations

import io

from rich.console import Console

from orchestrator.protocol import TrialStatus
from orchestrator.run.progress import SweepProgress


def test_last_and_best_values_are_told_apart():
    out = io.StringIO()
    progress = SweepProgress("s", "val/Mean", "max", 2, 0, 1, Console(file=out, width=200), live=False)
    for name, values in (("p001", [10.0, 13.7, 11.87]), ("p002", [8.0, 9.5])):
        progress.trial_started(name)
        for step, value in enumerate(values, 1):
            progress.trial_metrics(name, {"val/Mean": value}, step)
        progress.trial_ended(name, TrialStatus.FINISHED)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("finished p001  val/Mean=11.87 (last; best 13.7 at step 2)")
    assert lines[1].endswith("finished p002  val/Mean=9.5")  # its last is its best: one number
    assert progress.summary().split("; ")[1] == "best val/Mean 13.7 (p001, step 2)"
