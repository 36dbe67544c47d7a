"""Tables -> markdown, LaTeX (booktabs, the notes' ``& Head & Shou & ... \\\\`` rows), CSV, HTML,
JSON. What a cell and the legend say is decided in :mod:`orchestrator.tables.text`."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from orchestrator.tables.build import Cell, Table
from orchestrator.tables.pivot import Pivot
from orchestrator.tables.text import (FRONT, Style, axis_header, axis_value, cell_text, delta_text, first_header,
                                      legend, show_setting)

__all__ = ["render", "FORMATS", "cell_fields"]

FORMATS = ("md", "latex", "csv", "html", "json")


def _grid(table: Table, fmt: str, style: Style) -> tuple[list[str], list[list[tuple[str, Cell | None]]]]:
    """Headers and rows of (text, the cell it shows, or None for a label) for the text formats."""
    latex = fmt == "latex"
    setting = show_setting(table, style)
    axes = list(table.axes) if setting else list(table.axes[1:])
    heads = [first_header(table, style), *(axis_header(table, a) for a in axes),
             *[(c.latex if latex else c.label) for c in table.columns]]
    if table.baseline:
        heads.append(r"$\Delta$" if latex else f"Δ {table.columns[0].label}")
    counts = style.with_counts(fmt)
    body = []
    for row in table.rows:
        first = (row.label if setting else axis_value(row.axes.get(table.axes[0]))) + (f" {FRONT}" if row.pareto else "")
        line: list[tuple[str, Cell | None]] = [(first, None), *((axis_value(row.axes.get(a)), None) for a in axes)]
        line += [(cell_text(c, d, counts), c) for c, d in zip(row.cells, table.digits)]
        if table.baseline:
            line.append((delta_text(row.delta, table.digits[0] if table.digits else 2), None))
        body.append(line)
    return heads, body


def _pivot_grid(pivot: Pivot, fmt: str, style: Style) -> tuple[list[str], list[list[tuple[str, Cell | None]]]]:
    corner = style.label or f"{axis_header(pivot, pivot.row_axis)} \\ {axis_header(pivot, pivot.col_axis)}"
    heads = [corner, *(axis_value(v) for v in pivot.col_values)]
    counts = style.with_counts(fmt)
    body = [[(axis_value(rv), None), *((cell_text(c, pivot.digits, counts), c) for c in row)]
            for rv, row in zip(pivot.row_values, pivot.cells)]
    return heads, body


def _legend(table: Table | Pivot, fmt: str, style: Style) -> list[str]:
    if isinstance(table, Pivot):
        return legend(table, [table.column], [c for row in table.cells for c in row], fmt, style)
    return legend(table, table.columns, [c for row in table.rows for c in row.cells], fmt, style)


def _marked(text: str, cell: Cell | None, style: Style, bold: str, under: str) -> str:
    if cell is not None and cell.best:
        return bold.format(text)
    if cell is not None and cell.second and style.second:
        return under.format(text)
    return text


def _markdown(heads, body, notes, style: Style) -> str:
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join(["---"] + ["--:"] * (len(heads) - 1)) + "|"]
    lines += ["| " + " | ".join(_marked(t, c, style, "**{}**", "<u>{}</u>") for t, c in row) + " |" for row in body]
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


def _latex_escape(text: str) -> str:
    out = []
    for char in text:
        out.append({"\\": r"$\backslash$", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
                    "$": r"\$", "{": r"\{", "}": r"\}", "±": r"$\pm$", "†": r"$^\dagger$",
                    "‡": r"$^\ddagger$", "≥": r"$\geq$", "Δ": r"$\Delta$", "◆": r"$\diamond$"}.get(char, char))
    return "".join(out)


def _latex(heads, body, notes, style: Style, n_left: int) -> str:
    spec = "l" * n_left + "r" * (len(heads) - n_left)
    out = [r"% needs \usepackage{booktabs}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           " & ".join(h if h.startswith("$") else _latex_escape(h) for h in heads) + r" \\", r"\midrule"]
    out += [" & ".join(_marked(_latex_escape(t), c, style, r"\textbf{{{}}}", r"\underline{{{}}}") for t, c in row)
            + r" \\" for row in body]
    out += [r"\bottomrule", r"\end{tabular}"] + [f"% {n}" for n in notes]
    return "\n".join(out) + "\n"


def _html(heads, body, notes, style: Style) -> str:
    esc = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr></thead>", "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{_marked(esc(t), c, style, '<b>{}</b>', '<u>{}</u>')}</td>" for t, c in row)
            + "</tr>" for row in body]
    out += ["</tbody>", "</table>"] + [f'<p class="legend">{esc(n)}</p>' for n in notes]
    return "\n".join(out) + "\n"


def _num(value: float | None) -> Any:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def cell_fields(cell: Cell) -> dict[str, Any]:
    """The numbers of a cell, for CSV, JSON and DataFrames."""
    test = cell.test
    return {"mean": _num(cell.mean), "std": _num(cell.std), "n": cell.n, "failed": cell.failed, "nan": cell.nan,
            "best": cell.best, "second": cell.second, "ci_half": _num(cell.half),
            "vs": test.against if test else None, "p_value": _num(test.p_value) if test else None,
            "diff": _num(test.diff) if test else None,
            "diff_ci": [_num(test.ci[0]), _num(test.ci[1])] if test and test.ci else None,
            "tie": test.tie if test else None}


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    heads = ["setting", *table.axes]
    for c in table.columns:
        heads += [c.label] + [f"{c.label}_{k}" for k in ("std", "n", "failed", "nan", "p_value", "diff_ci_low",
                                                          "diff_ci_high")]
    if table.baseline:
        heads.append(f"delta_{table.columns[0].label}")
    writer.writerow(heads)
    for row in table.rows:
        values: list[Any] = [row.label, *(axis_value(row.axes.get(a)) for a in table.axes)]
        for cell in row.cells:
            f = cell_fields(cell)
            first = cell.text if cell.text is not None else \
                " ".join(f"{v:g}" for _, v in cell.series) if cell.series else f["mean"]
            ci = f["diff_ci"] or [None, None]
            values += [first, f["std"], cell.n, cell.failed, cell.nan, f["p_value"], *ci]
        if table.baseline:
            values.append(_num(row.delta.mean) if row.delta else None)
        writer.writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def _json(table: Table) -> str:
    rows = []
    for row in table.rows:
        metrics = {}
        for column, cell, digits in zip(table.columns, row.cells, table.digits):
            entry = {**cell_fields(cell), "digits": digits}
            if cell.text is not None:
                entry["value"] = cell.text
            if cell.effective:
                entry["effective"], entry["requested"] = True, cell.requested
            if cell.series:
                entry["series"] = [{"step": s, "mean": _num(v)} for s, v in cell.series]
            metrics[column.key] = entry
        item: dict[str, Any] = {"setting": row.label, "axes": dict(row.axes), "metrics": metrics}
        if len(table.objectives) > 1:
            item["pareto"] = row.pareto
        if table.baseline:
            item["delta"] = _num(row.delta.mean) if row.delta else None
        rows.append(item)
    return _json_rows(rows)


def _pivot_data(pivot: Pivot, fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f"{pivot.row_axis} \\ {pivot.col_axis}", *(axis_value(v) for v in pivot.col_values)])
        for rv, cells in zip(pivot.row_values, pivot.cells):
            writer.writerow([axis_value(rv), *("" if c.mean is None else _num(c.mean) for c in cells)])
        return buf.getvalue()
    rows = [{"row": rv, "col": cv, **cell_fields(c)}
            for rv, row in zip(pivot.row_values, pivot.cells) for cv, c in zip(pivot.col_values, row)]
    return _json_rows(rows)


def _json_rows(rows: list) -> str:
    """A JSON array with one row per line: readable, and each row goes through json's C encoder
    (an indented dump is pure Python: a third of `orch table --format json` on 1,000 rows)."""
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n" if rows else "[]\n"


def render(table: Table | Pivot, fmt: str = "md", style: Style | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    style = style or Style()
    if fmt in ("csv", "json"):
        if isinstance(table, Pivot):
            return _pivot_data(table, fmt)
        return _csv(table) if fmt == "csv" else _json(table)
    if isinstance(table, Pivot):
        heads, body = _pivot_grid(table, fmt, style)
        n_left = 1
    else:
        heads, body = _grid(table, fmt, style)
        n_left = 1 + len(table.axes) - (0 if show_setting(table, style) else 1)
    notes = _legend(table, fmt, style)
    if fmt == "md":
        return _markdown(heads, body, notes, style)
    if fmt == "latex":
        return _latex(heads, body, notes, style, n_left)
    return _html(heads, body, notes, style)
