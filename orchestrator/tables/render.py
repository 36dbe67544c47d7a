"""Tables -> markdown, LaTeX (the notes' ``& Head & Shou & ... \\\\`` rows), CSV, HTML, JSON."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from orchestrator.tables.build import Cell, Pivot, Table

__all__ = ["render", "FORMATS", "format_number", "cell_text"]

FORMATS = ("md", "latex", "csv", "html", "json")


def format_number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) >= 1e5:
        return f"{value / 1e6:.2f}M"  # parameter counts
    if abs(value) >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.4g}"


def _axis_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_axis_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def cell_text(cell: Cell, pm: str = "±") -> str:
    if cell.text is not None:
        return cell.text
    if cell.series:
        return ", ".join(format_number(v) for _, v in cell.series)
    notes = ([f"{cell.failed} failed"] if cell.failed else []) + ([f"{cell.nan} nan"] if cell.nan else [])
    if cell.mean is None:
        return "nan" if cell.nan else "failed" if cell.failed else "-"
    text = format_number(cell.mean)
    if cell.std is not None:
        std = f"{cell.std:.2f}" if abs(cell.mean) >= 1 else f"{cell.std:.2g}"
        text += f" {pm} {std}"
    if cell.n > 1 or notes:
        text += " (" + ", ".join([f"n={cell.n}"] + notes) + ")"
    return text


def _delta_text(cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return "-"
    return f"{cell.mean:+.2f}"


def _headers(table: Table, latex: bool = False) -> list[str]:
    heads = ["setting", *table.axes, *[(c.latex if latex else c.label) for c in table.columns]]
    if table.baseline:
        heads.append(f"Δ {table.columns[0].label}" if not latex else r"$\Delta$")
    return heads


def _notes(table: Table, mark: str = "") -> list[str]:
    return [f"{mark}{c.label}: {c.note}" for c in table.columns if c.note]


def _markdown(table: Table) -> str:
    lines = ["| " + " | ".join(_headers(table)) + " |",
             "|" + "|".join(["---"] + ["--:"] * (len(_headers(table)) - 1)) + "|"]
    for row in table.rows:
        cells = [f"**{cell_text(c)}**" if c.best else cell_text(c) for c in row.cells]
        extra = [_delta_text(row.delta)] if table.baseline else []
        lines.append("| " + " | ".join([row.label, *(_axis_value(row.axes.get(a)) for a in table.axes),
                                        *cells, *extra]) + " |")
    notes = _notes(table, "- ")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    out = []
    for char in text:
        out.append({"\\": r"$\backslash$", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
                    "$": r"\$", "{": r"\{", "}": r"\}", "±": r"$\pm$"}.get(char, char))
    return "".join(out)


def _latex(table: Table) -> str:
    heads = _headers(table, latex=True)
    spec = "l" + "l" * len(table.axes) + "r" * (len(heads) - 1 - len(table.axes))
    out = [rf"\begin{{tabular}}{{{spec}}}", " & ".join(_latex_escape(h) if "$" not in h else h
                                                      for h in heads) + r" \\", r"\hline"]
    for row in table.rows:
        cells = [rf"\textbf{{{_latex_escape(cell_text(c))}}}" if c.best else _latex_escape(cell_text(c))
                 for c in row.cells]
        extra = [_latex_escape(_delta_text(row.delta))] if table.baseline else []
        out.append(" & ".join([_latex_escape(row.label),
                               *(_latex_escape(_axis_value(row.axes.get(a))) for a in table.axes),
                               *cells, *extra]) + r" \\")
    out.append(r"\end{tabular}")
    return "\n".join(out) + "\n"


def _num(value: float | None) -> Any:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    heads = ["setting", *table.axes]
    for c in table.columns:
        heads += [c.label, f"{c.label}_std", f"{c.label}_n", f"{c.label}_failed", f"{c.label}_nan"]
    if table.baseline:
        heads.append(f"delta_{table.columns[0].label}")
    writer.writerow(heads)
    for row in table.rows:
        values: list[Any] = [row.label, *(_axis_value(row.axes.get(a)) for a in table.axes)]
        for cell in row.cells:
            first = cell.text if cell.text is not None else \
                " ".join(format_number(v) for _, v in cell.series) if cell.series else _num(cell.mean)
            values += [first, _num(cell.std), cell.n, cell.failed, cell.nan]
        if table.baseline:
            values.append(_num(row.delta.mean) if row.delta else None)
        writer.writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def _html(table: Table) -> str:
    esc = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in _headers(table)) + "</tr></thead>",
           "<tbody>"]
    for row in table.rows:
        tds = [f"<td>{esc(row.label)}</td>"] + [f"<td>{esc(_axis_value(row.axes.get(a)))}</td>"
                                                for a in table.axes]
        tds += [f"<td><b>{esc(cell_text(c))}</b></td>" if c.best else f"<td>{esc(cell_text(c))}</td>"
                for c in row.cells]
        if table.baseline:
            tds.append(f"<td>{esc(_delta_text(row.delta))}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out) + "\n"


def _json(table: Table) -> str:
    rows = []
    for row in table.rows:
        metrics = {}
        for column, cell in zip(table.columns, row.cells):
            entry: dict[str, Any] = {"mean": _num(cell.mean), "std": _num(cell.std), "n": cell.n,
                                     "failed": cell.failed, "nan": cell.nan, "best": cell.best}
            if cell.text is not None:
                entry["value"] = cell.text
            if cell.series:
                entry["series"] = [{"step": s, "mean": _num(v)} for s, v in cell.series]
            metrics[column.key] = entry
        item: dict[str, Any] = {"setting": row.label, "axes": dict(row.axes), "metrics": metrics}
        if table.baseline:
            item["delta"] = _num(row.delta.mean) if row.delta else None
        rows.append(item)
    return json.dumps(rows, indent=1) + "\n"


def _pivot_rows(pivot: Pivot) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    heads = [f"{pivot.row_axis} \\ {pivot.col_axis}", *(_axis_value(v) for v in pivot.col_values)]
    body = [[(_axis_value(rv), False), *((cell_text(c), c.best) for c in row)]
            for rv, row in zip(pivot.row_values, pivot.cells)]
    return heads, body


def _render_pivot(pivot: Pivot, fmt: str) -> str:
    heads, body = _pivot_rows(pivot)
    if fmt == "md":
        lines = ["| " + " | ".join(heads) + " |", "|" + "|".join(["---"] + ["--:"] * (len(heads) - 1)) + "|"]
        lines += ["| " + " | ".join(f"**{t}**" if b else t for t, b in row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        out = [rf"\begin{{tabular}}{{l{'r' * (len(heads) - 1)}}}",
               " & ".join(_latex_escape(h) for h in heads) + r" \\", r"\hline"]
        out += [" & ".join(rf"\textbf{{{_latex_escape(t)}}}" if b else _latex_escape(t) for t, b in row)
                + r" \\" for row in body]
        return "\n".join(out + [r"\end{tabular}"]) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(heads)
        for row, cells in zip(body, pivot.cells):
            writer.writerow([row[0][0], *("" if c.mean is None else _num(c.mean) for c in cells)])
        return buf.getvalue()
    if fmt == "html":
        esc = html.escape
        out = ["<table>", "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr></thead>"]
        out += ["<tr>" + "".join(f"<td><b>{esc(t)}</b></td>" if b else f"<td>{esc(t)}</td>" for t, b in row)
                + "</tr>" for row in body]
        return "\n".join(out + ["</table>"]) + "\n"
    rows = [{"row": rv, "col": cv, "mean": _num(c.mean), "std": _num(c.std), "n": c.n, "failed": c.failed,
             "nan": c.nan, "best": c.best}
            for rv, row in zip(pivot.row_values, pivot.cells) for cv, c in zip(pivot.col_values, row)]
    return json.dumps(rows, indent=1) + "\n"


def render(table: Table | Pivot, fmt: str = "md") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if isinstance(table, Pivot):
        return _render_pivot(table, fmt)
    return {"md": _markdown, "latex": _latex, "csv": _csv, "html": _html, "json": _json}[fmt](table)
