"""TrialResults -> a table: one row per setting (seeds collapsed), one column per metric.

Pure: dataclasses and the statistics module only.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from orchestrator.protocol import TrialStatus
from orchestrator.results import SweepRecord, TrialResult
from orchestrator.tables.groups import Column

__all__ = ["Cell", "Row", "Table", "Pivot", "TableError", "build_table", "build_pivot", "parse_at"]


class TableError(Exception):
    pass


@dataclass(frozen=True)
class Cell:
    mean: float | None = None  # over the seeds with a finite value
    std: float | None = None  # sample standard deviation (n - 1); None for one value
    n: int = 0
    failed: int = 0
    nan: int = 0  # diverged seeds, or non-finite values
    text: str | None = None  # a param that is not a number
    series: tuple[tuple[int, float], ...] = ()  # --series: (step, mean over seeds)
    best: bool = False


@dataclass(frozen=True)
class Row:
    label: str  # the setting: trial name without the seed part
    axes: Mapping[str, Any]
    cells: tuple[Cell, ...]
    delta: Cell | None = None  # --baseline: first column minus the baseline row's


@dataclass(frozen=True)
class Table:
    sweep: str
    axes: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    at: str
    baseline: str | None = None
    series: bool = False


@dataclass(frozen=True)
class Pivot:
    sweep: str
    row_axis: str
    col_axis: str
    column: Column
    row_values: tuple[Any, ...]
    col_values: tuple[Any, ...]
    cells: tuple[tuple[Cell, ...], ...]
    at: str


def parse_at(at: str) -> tuple[str, int | None]:
    if at in ("best", "last"):
        return at, None
    if at.startswith("step:") and at[5:].isdigit():
        return "step", int(at[5:])
    raise TableError(f"--at {at!r}: expected best, last or step:N")


def _value_at(history: Sequence[tuple[int, float]], step: int | None) -> float | None:
    """The value logged at ``step``, or the latest one before it (a metric logged less often)."""
    value = None
    for s, v in history:
        if step is not None and s > step:
            break
        value = v
    return value


def _chosen_step(trial: TrialResult, at: str, step: int | None, metric: str, mode: str) -> int | None:
    """Which evaluation of a trial fills its cells: with ``best``, the step where the sweep's
    metric is best, so a row reads like one line of the per-epoch table; None means the last."""
    if at == "step":
        return step
    history = trial.history.get(metric, ())
    finite = [(s, v) for s, v in history if math.isfinite(v)]
    if at == "last" or not finite:
        return None
    pick = max if mode == "max" else min
    return pick(finite, key=lambda sv: sv[1])[0]


def _trial_value(trial: TrialResult, column: Column, at: str, step: int | None, metric: str,
                 mode: str) -> float | str | None:
    if column.is_param:
        raw = trial.params.get(column.key)
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return raw
    history = trial.history.get(column.key)
    if not history:
        return trial.metrics.get(column.key)
    chosen = _chosen_step(trial, at, step, metric, mode)
    if at == "step" and not any(s <= step for s, _ in history):
        return None
    return _value_at(history, chosen)


def _aggregate(trials: list[TrialResult], column: Column, at: str, step: int | None, metric: str,
               mode: str, series: bool) -> Cell:
    values: list[float] = []
    failed = nan = 0
    texts: set[str] = set()
    for trial in trials:
        if trial.status == TrialStatus.FAILED and not column.is_param:
            failed += 1
            continue
        value = _trial_value(trial, column, at, step, metric, mode)
        if isinstance(value, str):
            texts.add(value)
        elif trial.status == TrialStatus.DIVERGED and not column.is_param or \
                (value is not None and not math.isfinite(value)):
            nan += 1
        elif value is not None:
            values.append(value)
    if texts:
        return Cell(text=", ".join(sorted(texts)), n=len(trials))
    if column.is_param and values and len(set(values)) == 1:
        return Cell(values[0], None, 1)  # a setting's param: one value, however many seeds
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) > 1 else None
    points: tuple[tuple[int, float], ...] = ()
    if series and not column.is_param:
        by_step: dict[int, list[float]] = {}
        for trial in trials:
            if trial.status in (TrialStatus.FAILED, TrialStatus.DIVERGED):
                continue
            for s, v in trial.history.get(column.key, ()):
                if math.isfinite(v):
                    by_step.setdefault(s, []).append(v)
        points = tuple((s, statistics.fmean(vs)) for s, vs in sorted(by_step.items()))
    return Cell(mean, std, len(values), failed, nan, series=points)


def _group(record: SweepRecord) -> dict[str, list[TrialResult]]:
    groups: dict[str, list[TrialResult]] = {}
    for trial in record.trials:
        groups.setdefault(trial.setting, []).append(trial)
    return groups


def _mark_best(rows: list[Row], columns: Sequence[Column]) -> list[Row]:
    for i, column in enumerate(columns):
        means = [r.cells[i].mean for r in rows if r.cells[i].mean is not None]
        if not column.mode or len(means) < 2:
            continue
        best = max(means) if column.mode == "max" else min(means)
        for r_index, row in enumerate(rows):
            if row.cells[i].mean == best:
                cells = list(row.cells)
                cells[i] = _replace(cells[i], best=True)
                rows[r_index] = _replace(row, cells=tuple(cells))
    return rows


def _replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def _check_step(record: SweepRecord, columns: Sequence[Column], kind: str, step: int | None) -> None:
    """``--at step:N`` past every history is an error, not a silent last value."""
    if kind != "step":
        return
    steps = [s for t in record.trials for c in columns if not c.is_param for s, _ in t.history.get(c.key, ())]
    if steps and step > max(steps):
        raise TableError(f"--at step:{step}: no trial logged that far; the last step logged is {max(steps)}")


def build_table(record: SweepRecord, columns: Sequence[Column], at: str = "best",
                baseline: str | None = None, series: bool = False) -> Table:
    kind, step = parse_at(at)
    _check_step(record, columns, kind, step)
    rows = []
    for setting, trials in _group(record).items():
        cells = tuple(_aggregate(trials, c, kind, step, record.metric, record.mode, series)
                      for c in columns)
        rows.append(Row(setting, dict(trials[0].axes), cells))
    rows = _mark_best(rows, columns)
    if baseline is not None:
        base = next((r for r in rows if r.label == baseline), None)
        if base is None:
            raise TableError(f"--baseline {baseline!r}: no such row; rows: {', '.join(r.label for r in rows)}")
        ref = base.cells[0].mean
        rows = [_replace(r, delta=Cell(mean=(r.cells[0].mean - ref) if r.cells[0].mean is not None
                                       and ref is not None else None, n=1)) for r in rows]
    return Table(record.name, record.axes, tuple(columns), tuple(rows), at, baseline, series)


def build_pivot(record: SweepRecord, column: Column, row_axis: str, col_axis: str,
                at: str = "best") -> Pivot:
    kind, step = parse_at(at)
    _check_step(record, [column], kind, step)
    for axis in (row_axis, col_axis):
        if axis not in record.axes:
            raise TableError(f"--pivot: {axis!r} is not an axis of sweep {record.name}; "
                             f"axes: {', '.join(record.axes) or 'none'}")
    others = [a for a in record.axes if a not in (row_axis, col_axis)]
    cells: dict[tuple[str, str], list[TrialResult]] = {}
    row_values: dict[str, Any] = {}
    col_values: dict[str, Any] = {}
    settings: dict[tuple[str, str], set[str]] = {}
    for trial in record.trials:
        r, c = trial.axes.get(row_axis), trial.axes.get(col_axis)
        rk, ck = repr(r), repr(c)
        row_values.setdefault(rk, r)
        col_values.setdefault(ck, c)
        cells.setdefault((rk, ck), []).append(trial)
        settings.setdefault((rk, ck), set()).add(trial.setting)
    if any(len(s) > 1 for s in settings.values()):
        raise TableError(f"--pivot {row_axis} {col_axis}: other axes vary too ({', '.join(others)}), so a "
                         "cell would mix settings; pivot on a sweep (or profile) where only these two vary")
    grid = tuple(tuple(_aggregate(cells.get((rk, ck), []), column, kind, step, record.metric,
                                  record.mode, False) for ck in col_values) for rk in row_values)
    flat = [cell.mean for row in grid for cell in row if cell.mean is not None]
    if column.mode and len(flat) > 1:
        best = max(flat) if column.mode == "max" else min(flat)
        grid = tuple(tuple(_replace(c, best=True) if c.mean == best else c for c in row) for row in grid)
    return Pivot(record.name, row_axis, col_axis, column, tuple(row_values.values()),
                 tuple(col_values.values()), grid, at)
