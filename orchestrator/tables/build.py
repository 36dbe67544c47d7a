"""TrialResults -> a table: one row per setting (seeds collapsed), one column per metric.

Pure: dataclasses, the statistics module and (for significance, only when some row has two seeds)
scipy. Every decision a reader sees is made here: which step fills a cell, the precision of each
column, the unique best and second best, which rows are within seed noise of the best.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Mapping, Sequence

from orchestrator.protocol import COMPUTE_PREFIX, DESCRIPTIVE_PREFIXES, PARAM_PREFIX_OOM, TrialStatus
from orchestrator.analysis.records import SweepRecord, TrialResult
from orchestrator.tables.groups import Column
from orchestrator.tables.stats import Comparison, ci_half_width, compare

__all__ = ["Cell", "Row", "Table", "TableError", "build_table", "parse_at", "aggregate", "column_digits",
           "mark_ranks", "add_significance", "finish_column", "check_step", "trial_value", "trial_score", "at_words",
           "pareto_front"]


class TableError(Exception):
    pass


_STEP = itemgetter(0)


@dataclass  # not frozen: a big table builds 10,000s, and a frozen dataclass's __init__ costs 4x
class Cell:
    mean: float | None = None  # over the seeds with a finite value
    std: float | None = None  # sample standard deviation (n - 1); None for one value
    n: int = 0  # seeds behind mean and std
    failed: int = 0
    nan: int = 0  # diverged seeds, or non-finite values
    text: str | None = None  # a param that is not a number, or params that differ between seeds
    series: tuple[tuple[int, float], ...] = ()  # --series: (step, mean over seeds)
    best: bool = False  # the unique best of its column at the column's precision
    second: bool = False  # the unique second best
    values: tuple[float, ...] = ()  # the per-seed values behind mean and std
    total: int = 0  # seeds of the setting, whatever became of them
    effective: bool = False  # a param that OOM halving changed: the value shown is the one that ran
    requested: str | None = None  # ... and the one the sweep asked for
    test: Comparison | None = None  # against the column's best row (or --baseline)
    half: float | None = None  # --ci: half-width of the confidence interval of the mean
    plain: bool = False  # one value, not a statistic (a param, a model size): printed as it is


@dataclass(frozen=True)
class Row:
    label: str  # the setting: trial name without the seed part
    axes: Mapping[str, Any]
    cells: tuple[Cell, ...]
    delta: Cell | None = None  # --baseline: first column minus the baseline row's
    pareto: bool = False  # a multi-objective sweep: no other row is as good on every objective and better on one


@dataclass(frozen=True)
class Table:
    sweep: str
    axes: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    at: str
    baseline: str | None = None
    series: bool = False
    digits: tuple[int, ...] = ()  # decimals per column
    metric: str = ""  # the sweep's metric: --at best reads each trial where it is best
    abbrev: Mapping[str, str] = dataclasses.field(default_factory=dict)  # axis -> short header
    ci: float | None = None  # --ci level (0.95) when ± is a confidence interval
    alpha: float = 0.05
    objectives: tuple[tuple[str, str], ...] = ()  # several: the Pareto front is marked
    top: int | None = None  # --top K: the K best rows by the sweep metric, of ``of`` rows
    of: int = 0
    notes: tuple[str, ...] = ()  # more legend lines (a search's parameter importances)


def parse_at(at: str) -> tuple[str, int | None]:
    if at in ("best", "last"):
        return at, None
    if at.startswith("step:") and at[5:].isdigit():
        return "step", int(at[5:])
    raise TableError(f"--at {at!r}: expected best, last or step:N")


def at_words(at: str, metric: str) -> str:
    """What ``--at`` means, in words, for headers and legends."""
    if at == "best":
        return f"each trial at the step where {metric or 'the sweep metric'} is best"
    if at == "last":
        return "each trial at its last step"
    return f"each trial at step {at[5:]} (or its latest value before it)"


def _point_at(history: Sequence[tuple[int, float]], step: int | None) -> tuple[int | None, float | None]:
    """(step, value) logged at ``step``, or the latest one before it (a metric logged less often);
    the last one when ``step`` is None. Histories are in step order, one point per step."""
    if not history:
        return (None, None)
    if step is None:
        return history[-1]
    i = bisect_right(history, step, key=_STEP)  # a binary search: histories of 100s of epochs
    return history[i - 1] if i else (None, None)


def chosen_step(trial: TrialResult, at: str, step: int | None, metric: str, mode: str) -> int | None:
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


def trial_value(trial: TrialResult, key: str, at: str, metric: str, mode: str) -> tuple[int | None, float | None]:
    """(the step, the value) of ``key`` that ``--at`` picks for one trial: what `orch runs` shows."""
    kind, step = parse_at(at)
    history = trial.history.get(key, ())
    if not history:
        return None, trial.metrics.get(key)
    return _point_at(history, chosen_step(trial, kind, step, metric, mode))


def trial_score(trial: TrialResult, key: str, record: SweepRecord) -> float | None:
    """A trial's value of ``key`` as its table row reads it (``--at best``); None for a trial that
    failed, diverged or was killed, or has no finite value."""
    if trial.status in (TrialStatus.FAILED, TrialStatus.DIVERGED, TrialStatus.KILLED):
        return None
    value = trial_value(trial, key, "best", record.metric, record.mode)[1]
    return value if value is not None and math.isfinite(value) else None


def _param_value(trial: TrialResult, key: str) -> tuple[float | str | None, bool]:
    """A param as it ran: the OOM-halved value when halving changed it (and True)."""
    halved = trial.params.get(f"{PARAM_PREFIX_OOM}{key}")
    raw = halved if halved is not None else trial.params.get(key)
    try:
        return (float(raw) if raw is not None else None), halved is not None
    except ValueError:
        return raw, halved is not None


def _metric_value(trial: TrialResult, column: Column, at: str, step: int | None, metric: str,
                  mode: str, steps: Mapping[str, int | None] | None = None) -> float | None:
    history = trial.history.get(column.key)
    if not history or column.key.startswith(COMPUTE_PREFIX):  # compute/: a total, not a curve
        return trial.metrics.get(column.key)
    chosen = steps[trial.run_id] if steps is not None else chosen_step(trial, at, step, metric, mode)
    return _point_at(history, chosen)[1]


def chosen_steps(trials: Sequence[TrialResult], at: str, step: int | None, metric: str,
                 mode: str) -> dict[str, int | None]:
    """:func:`chosen_step` of each trial (by run id), worked out once for all of a table's columns."""
    return {t.run_id: chosen_step(t, at, step, metric, mode) for t in trials}


def _param_cell(trials: list[TrialResult], column: Column) -> Cell:
    found = [_param_value(t, column.key) for t in trials]
    values = [v for v, _ in found if v is not None]
    effective = any(e for _, e in found)
    requested = next((t.params.get(column.key) for t in trials
                      if f"{PARAM_PREFIX_OOM}{column.key}" in t.params), None)
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1 and not isinstance(distinct[0], str):
        return Cell(distinct[0], None, 1, total=len(trials), effective=effective, requested=requested, plain=True)
    if not distinct:
        return Cell(total=len(trials))
    text = ", ".join(v if isinstance(v, str) else f"{v:g}" for v in distinct)
    return Cell(text=text, n=len(trials), total=len(trials), effective=effective, requested=requested)


def aggregate(trials: list[TrialResult], column: Column, at: str, step: int | None, metric: str,
              mode: str, series: bool = False, steps: Mapping[str, int | None] | None = None) -> Cell:
    """One cell: the trials of one setting (its seeds) in one column (``steps``: their
    :func:`chosen_steps`, when the caller has them)."""
    if column.is_param:
        return _param_cell(trials, column)
    descriptive = column.key.startswith(DESCRIPTIVE_PREFIXES)  # a model's size does not diverge
    values: list[float] = []
    failed = nan = 0
    failed_status, diverged_status = TrialStatus.FAILED, TrialStatus.DIVERGED
    for trial in trials:
        status = trial.status
        if status == failed_status and not descriptive:
            failed += 1
            continue
        value = _metric_value(trial, column, at, step, metric, mode, steps)
        if (status == diverged_status and not descriptive) or (value is not None and not math.isfinite(value)):
            nan += 1
        elif value is not None:
            values.append(value)
    if descriptive and values and len(set(values)) == 1 and not failed and not nan:
        return Cell(values[0], None, 1, total=len(trials))
    mean = math.fsum(values) / len(values) if values else None  # statistics.fmean, without its checks
    # sample std in floats (statistics.stdev is exact, with Fractions: 5x slower on 10,000 cells)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    points: tuple[tuple[int, float], ...] = ()
    if series:
        by_step: dict[int, list[float]] = {}
        for trial in trials:
            if trial.status in (TrialStatus.FAILED, TrialStatus.DIVERGED):
                continue
            for s, v in trial.history.get(column.key, ()):
                if math.isfinite(v):
                    by_step.setdefault(s, []).append(v)
        points = tuple((s, statistics.fmean(vs)) for s, vs in sorted(by_step.items()))
    return Cell(mean, std, len(values), failed, nan, series=points, values=tuple(values), total=len(trials))


def column_digits(column: Column, cells: Sequence[Cell], override: int | None = None) -> int:
    """One precision per column: ``--digits``, else the metric group's, else 2 decimals, or three
    significant digits of the smallest value when the column holds values below 1 (losses)."""
    if override is not None:
        return override
    if column.digits is not None:
        return column.digits
    small = [abs(c.mean) for c in cells if c.mean is not None and math.isfinite(c.mean) and 0 < abs(c.mean) < 1]
    if not small:
        return 2
    return max(2, min(6, 2 - math.floor(math.log10(min(small)))))


def mark_ranks(cells: list[Cell], mode: str, digits: int) -> list[Cell]:
    """Bold the best and underline the second best, each only when unique at the shown precision:
    no mark on ties or on a constant column, none on params (``mode`` "")."""
    if not mode:
        return cells
    rounded = [round(c.mean, digits) if c.mean is not None and math.isfinite(c.mean) else None for c in cells]
    shown = sorted({v for v in rounded if v is not None}, reverse=mode == "max")
    if len(shown) < 2:
        return cells
    count = {v: rounded.count(v) for v in shown[:2]}
    out = []
    for cell, value in zip(cells, rounded):
        best = value == shown[0] and count[shown[0]] == 1
        second = value == shown[1] and count[shown[1]] == 1 and count[shown[0]] == 1
        # a copy only for the (at most two) cells whose marks change: 10,000s of cells in a big sweep
        out.append(cell if (best, second) == (cell.best, cell.second) else
                   dataclasses.replace(cell, best=best, second=second))
    return out


def add_significance(cells: list[Cell], labels: list[str], mode: str, reference: int | None,
                     level: float, alpha: float) -> list[Cell]:
    """Compare every cell's seeds with those of ``reference``, default: the unique best (after
    :func:`mark_ranks`; a column without one, ties or constant, has no best to be near)."""
    if not mode or sum(1 for c in cells if len(c.values) >= 2) < 2:
        return cells
    if reference is None:
        reference = next((i for i, c in enumerate(cells) if c.best and len(c.values) >= 2), None)
    if reference is None:
        return cells
    ref = cells[reference]
    return [dataclasses.replace(c, test=compare(c.values, ref.values, labels[reference], level, alpha, labels[i]))
            if i != reference else c for i, c in enumerate(cells)]


def _group(record: SweepRecord) -> dict[str, list[TrialResult]]:
    groups: dict[str, list[TrialResult]] = {}
    for trial in record.trials:
        groups.setdefault(trial.setting, []).append(trial)
    return groups


def check_step(record: SweepRecord, columns: Sequence[Column], kind: str, step: int | None) -> None:
    """``--at step:N`` past every history is an error, not a silent last value."""
    if kind != "step":
        return
    steps = [s for t in record.trials for c in columns if not c.is_param for s, _ in t.history.get(c.key, ())]
    if steps and step > max(steps):
        raise TableError(f"--at step:{step}: no trial logged that far; the last step logged is {max(steps)}")


def finish_column(cells: list[Cell], column: Column, labels: list[str], reference: int | None,
                  digits: int, ci: float | None, alpha: float, series: bool = False) -> list[Cell]:
    """A column's marks: unique best and second, significance against ``reference`` (default:
    the best), and the confidence half-widths with ``ci``."""
    cells = mark_ranks(cells, column.mode, digits)
    if not series:
        cells = add_significance(cells, labels, column.mode, reference, ci or 0.95, alpha)
    if ci is not None:
        cells = [dataclasses.replace(c, half=ci_half_width(c.std, c.n, ci)) for c in cells]
    return cells


def _means(record: SweepRecord, groups: dict[str, list[TrialResult]], key: str, mode: str, kind: str,
           step: int | None) -> dict[str, float | None]:
    column = Column(key, key, key, mode)
    return {label: aggregate(trials, column, kind, step, record.metric, record.mode).mean
            for label, trials in groups.items()}


def _top(record: SweepRecord, groups: dict, kind: str, step: int | None, top: int) -> dict:
    """The ``top`` best settings by the sweep metric, best first (no value: last)."""
    means = _means(record, groups, record.metric, record.mode, kind, step)
    sign = -1 if record.mode == "max" else 1
    order = sorted(groups, key=lambda g: (means[g] is None or not math.isfinite(means[g]),
                                          sign * means[g] if means[g] is not None and math.isfinite(means[g]) else 0))
    return {g: groups[g] for g in order[:top]}


def pareto_front(record: SweepRecord, groups: dict, kind: str, step: int | None) -> set[str]:
    """Settings no other setting dominates over the sweep's objectives (means over seeds)."""
    objectives = record.objectives
    means = [_means(record, groups, key, mode, kind, step) for key, mode in objectives]
    points = {}
    for label in groups:
        values = [m[label] for m in means]
        if all(v is not None and math.isfinite(v) for v in values):
            points[label] = [v if mode == "max" else -v for v, (_, mode) in zip(values, objectives)]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return {g for g, p in points.items() if not any(dominates(q, p) for h, q in points.items() if h != g)}


def build_table(record: SweepRecord, columns: Sequence[Column], at: str = "best",
                baseline: str | None = None, series: bool = False, digits: int | None = None,
                ci: float | None = None, alpha: float = 0.05, top: int | None = None) -> Table:
    kind, step = parse_at(at)
    check_step(record, columns, kind, step)
    groups = _group(record)
    everything = len(groups)
    if top is not None:
        groups = _top(record, groups, kind, step, top)
    front = pareto_front(record, groups, kind, step) if len(record.objectives) > 1 else set()
    labels = list(groups)
    if baseline is not None and baseline not in groups:
        raise TableError(f"--baseline {baseline!r}: no such row; rows: {', '.join(labels)}")
    reference = labels.index(baseline) if baseline is not None else None
    steps = chosen_steps(record.trials, kind, step, record.metric, record.mode)
    grid = [[aggregate(trials, c, kind, step, record.metric, record.mode, series, steps) for trials in groups.values()]
            for c in columns]
    places = tuple(column_digits(c, cells, digits) for c, cells in zip(columns, grid))
    grid = [finish_column(cells, c, labels, reference, d, ci, alpha, series)
            for c, cells, d in zip(columns, grid, places)]
    rows = [Row(label, dict(trials[0].axes), tuple(grid[j][i] for j in range(len(columns))), pareto=label in front)
            for i, (label, trials) in enumerate(groups.items())]
    if reference is not None and columns:
        ref = rows[reference].cells[0].mean
        rows = [dataclasses.replace(r, delta=Cell(
            mean=(r.cells[0].mean - ref) if r.cells[0].mean is not None and ref is not None else None, n=1,
            test=r.cells[0].test)) for r in rows]
    return Table(record.name, record.axes, tuple(columns), tuple(rows), at, baseline, series, places,
                 record.metric, dict(record.abbrev), ci, alpha, tuple(record.objectives), top, everything)
