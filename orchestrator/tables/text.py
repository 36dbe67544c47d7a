"""What a cell, a header and the legend under a table read: shared by every format.

Marks: **bold** the unique best of a column, underline the unique second best (``--second``),
``†`` a row within seed noise of the column's best (or of ``--baseline``), ``‡`` a param whose
value OOM halving changed (the value shown is the one that ran).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from orchestrator.tables.build import Cell, Table, at_words
from orchestrator.tables.stats import FEW_SEEDS

__all__ = ["Style", "format_number", "axis_value", "cell_text", "delta_text", "first_header", "axis_header",
           "show_setting", "legend", "TIE", "OOM"]

TIE = "†"
OOM = "‡"
FRONT = "◆"


@dataclass(frozen=True)
class Style:
    label: str | None = None  # --label: the first column's header
    counts: bool | None = None  # (n=K) in cells; None: yes except in LaTeX
    second: bool = False  # --second: underline the second best

    def with_counts(self, fmt: str) -> bool:
        return self.counts if self.counts is not None else fmt != "latex"


def format_number(value: float, digits: int | None = None) -> str:
    if math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) >= 1e5:
        return f"{value / 1e6:.2f}M"  # parameter counts
    if digits is not None:
        return f"{value:.{digits}f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.4g}"


def axis_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(axis_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _of(count: int, total: int, what: str) -> str:
    return f"{count} of {total} {what}" if total > 1 else what


def cell_text(cell: Cell, digits: int | None = None, counts: bool = True, pm: str = "±") -> str:
    if cell.text is not None:
        return cell.text + (OOM if cell.effective else "")
    if cell.series:
        return ", ".join(format_number(v, digits) for _, v in cell.series)
    if cell.plain and cell.mean is not None:
        big = cell.mean == int(cell.mean) and abs(cell.mean) >= 1e5
        return (format_number(cell.mean) if big else f"{cell.mean:g}") + (OOM if cell.effective else "")
    total = cell.total or (cell.n + cell.failed + cell.nan)
    notes = ([_of(cell.failed, total, "failed")] if cell.failed else []) + \
            ([_of(cell.nan, total, "diverged")] if cell.nan else [])
    if cell.mean is None:
        if cell.nan:
            return f"nan ({', '.join(notes)})"
        if cell.failed:
            return "failed" if total <= 1 else f"failed ({cell.failed} of {total})"
        return "-"
    text = format_number(cell.mean, digits) + (OOM if cell.effective else "")
    spread = cell.half if cell.half is not None else cell.std
    if spread is not None:
        if digits is not None:
            text += f" {pm} {spread:.{digits}f}"
        else:
            text += f" {pm} " + (f"{spread:.2f}" if abs(cell.mean) >= 1 else f"{spread:.2g}")
    if cell.test is not None and cell.test.tie:
        text += TIE
    shown = ([f"n={cell.n}"] if counts and cell.n > 1 else []) + notes
    return text + (f" ({', '.join(shown)})" if shown else "")


def delta_text(cell: Cell | None, digits: int = 2) -> str:
    if cell is None or cell.mean is None:
        return "-"
    text = f"{cell.mean:+.{digits}f}"
    if cell.test is not None and cell.test.ci is not None:
        low, high = cell.test.ci
        text += f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    return text


def show_setting(table: Table, style: Style | None = None) -> bool:
    """The setting column, unless it only repeats the axis columns beside it: the axes tell every
    row apart and each row's name is made of its axis values (``t7_probMargin0`` beside 7 and 0;
    ``mse`` beside variant mse). A search's points (``p-3fa2``), hand-named rows and a column the
    user named (``--label Arch``) keep it."""
    if not table.axes or not table.rows or (style is not None and style.label):
        return True
    values = [tuple(axis_value(row.axes.get(a)) for a in table.axes) for row in table.rows]
    if len(set(values)) != len(values):
        return True
    return not all(all(v in row.label for v in vs) for row, vs in zip(table.rows, values))


def axis_header(table, axis: str) -> str:
    return table.abbrev.get(axis) or axis


def first_header(table: Table, style: Style) -> str:
    if style.label:
        return style.label
    return "setting" if show_setting(table, style) else axis_header(table, table.axes[0])


def legend(table, columns: Sequence, cells: Sequence[Cell], fmt: str, style: Style) -> list[str]:
    """Lines under the table: what a cell is, what each mark means, and the statistics' caveats."""
    spread = f"{table.ci * 100:g}% confidence interval of the mean (t)" if table.ci else "sample std"
    lines = [f"Cells: {at_words(table.at, table.metric)}; mean ± {spread} over seeds"
             + ("; n = seeds." if style.with_counts(fmt) else ".")]
    if any(c.best for c in cells):
        lines.append("Bold: the best of its column, when unique at the precision shown"
                     + ("; underlined: the second best." if style.second and any(c.second for c in cells) else "."))
    tests = [c.test for c in cells if c.test is not None]
    if any(t.tie for t in tests):
        against = f"the baseline row {table.baseline}" if getattr(table, "baseline", None) else "its column's best"
        lines.append(f"{TIE} not significantly different from {against} (Welch's t-test over seeds, "
                     f"p ≥ {table.alpha:g}).")
    few = [min(t.n, t.n_ref) for t in tests if t.few]
    if few:
        lines.append(f"Note: some comparisons rest on {min(few)} seeds a side (fewer than {FEW_SEEDS}); the "
                     f"t-test has little power there: run more seeds before trusting the {TIE} marks.")
    requested = sorted({c.requested for c in cells if c.effective and c.requested})
    if requested:
        lines.append(f"{OOM} the value that ran: halved after running out of memory (the sweep asked for "
                     f"{', '.join(requested)}).")
    rows = getattr(table, "rows", ())
    if any(r.pareto for r in rows):
        goals = ", ".join(f"{m} ({mode})" for m, mode in table.objectives)
        lines.append(f"{FRONT} on the Pareto front of {goals}: no other row is as good on every objective "
                     "and better on one (means over seeds).")
    if getattr(table, "top", None) is not None:
        lines.append(f"The {len(rows)} best of {table.of} rows by {table.metric} (--top {table.top}).")
    lines += list(getattr(table, "notes", ()))
    lines += [f"{c.label}: {c.note}" for c in columns if c.note]
    return lines
