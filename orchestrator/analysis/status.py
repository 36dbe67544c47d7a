"""Which cells of a sweep's grid are done, failed, diverged, stopped, running or missing, and what a
resume would run (`orch status`). Pure: a SweepRecord in, counts out."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from orchestrator.protocol import DONE_STATUSES, TrialStatus
from orchestrator.analysis.records import SweepRecord

__all__ = ["GridStatus", "grid_status", "StatusError", "ORDER", "LABELS"]

MISSING = "missing"  # in the sweep file, no run in the store yet
# the order and the words a status cell uses
ORDER = (TrialStatus.FINISHED.value, TrialStatus.STOPPED.value, TrialStatus.DIVERGED.value,
         TrialStatus.FAILED.value, TrialStatus.KILLED.value, TrialStatus.RUNNING.value, MISSING)
LABELS = {TrialStatus.FINISHED.value: "done"}


class StatusError(Exception):
    pass


@dataclass(frozen=True)
class GridStatus:
    sweep: str
    row_axis: str | None
    col_axis: str | None
    row_values: tuple[Any, ...]
    col_values: tuple[Any, ...]
    cells: tuple[tuple[Counter, ...], ...]  # status -> trials, per (row value, column value)
    total: Counter  # over the whole sweep
    rerun: Counter  # what `orch sweep` on the same file would run again, by status
    kept: Counter  # what it would keep

    def words(self, counts: Counter) -> str:
        return ", ".join(f"{counts[s]} {LABELS.get(s, s)}" for s in ORDER if counts.get(s)) or "-"


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def grid_status(record: SweepRecord, axes: tuple[str, str] | None = None) -> GridStatus:
    """Statuses over two axes (default: the sweep's first two; one axis gives one column)."""
    if axes is not None:
        for axis in axes:
            if axis not in record.axes:
                raise StatusError(f"--pivot: {axis!r} is not an axis of sweep {record.name}; "
                                  f"axes: {', '.join(record.axes) or 'none'}")
    search = record.search
    drawn = search is not None and search.get("method") == "optuna"  # points with no grid to lay out
    row_axis, col_axis = axes or ((None, None) if drawn else (list(record.axes) + [None, None])[:2])
    found = {t.key: t for t in record.trials}
    entries = [(dict(t.axes), t.status.value) for t in record.trials]
    entries += [(dict(p.get("axes") or {}), MISSING) for p in record.plan if p.get("key") not in found]
    if drawn:  # the points not asked for yet
        done = sum(t.status in DONE_STATUSES for t in record.trials)
        entries += [({}, MISSING)] * max(0, int(search.get("num_samples", 0)) - done
                                         - sum(t.status not in DONE_STATUSES for t in record.trials))
    rows: dict[str, Any] = {}
    cols: dict[str, Any] = {}
    cells: dict[tuple[str, str], Counter] = {}
    for point, status in entries:
        r, c = point.get(row_axis) if row_axis else "", point.get(col_axis) if col_axis else ""
        rows.setdefault(_key(r), r)
        cols.setdefault(_key(c), c)
        cells.setdefault((_key(r), _key(c)), Counter())[status] += 1
    grid = tuple(tuple(cells.get((rk, ck), Counter()) for ck in cols) for rk in rows)
    total = Counter(status for _, status in entries)
    planned = {p.get("key") for p in record.plan} or set(found)  # trials the file no longer has stay as they are
    now = Counter(t.status.value for t in record.trials if t.key in planned) + Counter({MISSING: total[MISSING]})
    done = {s.value for s in DONE_STATUSES}
    kept = Counter({s: n for s, n in now.items() if s in done and n})
    rerun = Counter({s: n for s, n in now.items() if s not in done and n})
    return GridStatus(record.name, row_axis, col_axis, tuple(rows.values()), tuple(cols.values()), grid,
                      total, rerun, kept)
