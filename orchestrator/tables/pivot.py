"""A 2-D table of one metric over two axes (``orch table --pivot ROW COL``), the notes'
``pointW \\ margin`` grids. Pure, like :mod:`orchestrator.tables.build`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from orchestrator.analysis.records import SweepRecord, TrialResult
from orchestrator.tables.build import (Cell, TableError, aggregate, check_step, column_digits, finish_column,
                                       parse_at)
from orchestrator.tables.groups import Column

__all__ = ["Pivot", "build_pivot"]


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
    digits: int = 2
    metric: str = ""
    abbrev: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ci: float | None = None
    alpha: float = 0.05


def build_pivot(record: SweepRecord, column: Column, row_axis: str, col_axis: str, at: str = "best",
                digits: int | None = None, ci: float | None = None, alpha: float = 0.05) -> Pivot:
    kind, step = parse_at(at)
    check_step(record, [column], kind, step)
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
    keys = [(rk, ck) for rk in row_values for ck in col_values]
    flat = [aggregate(cells.get(k, []), column, kind, step, record.metric, record.mode) for k in keys]
    places = column_digits(column, flat, digits)
    labels = [f"({row_values[rk]}, {col_values[ck]})" for rk, ck in keys]
    flat = finish_column(flat, column, labels, None, places, ci, alpha)
    width = len(col_values)
    grid = tuple(tuple(flat[i:i + width]) for i in range(0, len(flat), width))
    return Pivot(record.name, row_axis, col_axis, column, tuple(row_values.values()), tuple(col_values.values()),
                 grid, at, places, record.metric, dict(record.abbrev), ci, alpha)
