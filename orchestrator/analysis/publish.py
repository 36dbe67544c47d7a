"""Glue between the tracking store and the pure tables/plots: what `orch table` and
`orch plot` call. Reading goes through orchestrator.tracking, rendering through
orchestrator.tables; files are written whole or not at all."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from orchestrator.util.files import write_atomic
from orchestrator.tables import FORMATS, Style, TableError, build_pivot, build_table, expand_metrics, render

__all__ = ["TableRequest", "build", "make_table", "make_plot", "write_atomic", "EXTENSIONS"]

EXTENSIONS = {"md": "md", "latex": "tex", "csv": "csv", "html": "html", "json": "json"}


@dataclass(frozen=True)
class TableRequest:
    sweep: str | None = None
    metrics: tuple[str, ...] = ()
    per_class: bool = False
    pivot: tuple[str, str] | None = None
    at: str | None = None
    series: bool = False
    baseline: str | None = None
    fmt: str = "md"
    out: str | None = None  # None: results/<sweep>.<ext>; "-": print only
    tracking_uri: str | None = None
    label: str | None = None  # the first column's header
    counts: bool | None = None  # (n=K) in cells; None: yes except in LaTeX
    second: bool = False  # underline the second best
    digits: int | None = None  # decimals of every column; None: per column
    ci: float | None = None  # show mean ± this confidence interval's half-width (0.95), not ± std
    alpha: float = 0.05  # significance level of the † marks
    top: int | None = None  # only the K best rows by the sweep metric

    @property
    def style(self) -> Style:
        return Style(self.label, self.counts, self.second)


def _check(req: TableRequest) -> None:
    if req.fmt not in FORMATS:
        raise ValueError(f"--format {req.fmt!r}: one of {', '.join(FORMATS)}")
    if req.ci is not None and not 0 < req.ci < 1:
        raise TableError(f"--ci {req.ci * 100:g}: a confidence level in percent between 0 and 100, e.g. --ci 95")
    if not 0 < req.alpha < 1:
        raise TableError(f"--alpha {req.alpha:g}: a significance level between 0 and 1, e.g. 0.05")
    if req.digits is not None and not 0 <= req.digits <= 8:
        raise TableError(f"--digits {req.digits}: between 0 and 8 decimals")


def build(req: TableRequest, record=None):
    """The Table (or Pivot) a request asks for, from ``record`` or the store."""
    from orchestrator.registry import metric_groups
    from orchestrator.tracking import read_sweep

    _check(req)
    record, left_out = current_trials(record or read_sweep(req.sweep, req.tracking_uri))
    logged = {k for t in record.trials for k in (*t.history, *t.metrics)}
    params = {k for t in record.trials for k in t.params}
    names = [m for m in req.metrics if m not in record.axes]  # an axis has its own column already
    if req.metrics and not names:
        raise TableError(f"--metric {', '.join(req.metrics)}: an axis of sweep {record.name}, which the table "
                         f"shows anyway; name a metric too, e.g. --metric {record.metric}")
    columns = expand_metrics(names or [m for m, _ in record.objectives] or [record.metric], logged, params, record.metric,
                             record.mode, req.per_class, metric_groups(record.trainer))
    columns = [c for c in columns if not (c.is_param and c.key in record.axes)]
    at = req.at or "best"
    if req.pivot:
        return record, build_pivot(record, columns[0], req.pivot[0], req.pivot[1], at, req.digits, req.ci,
                                   req.alpha)
    if req.top is not None and req.top < 1:
        raise TableError(f"--top {req.top}: at least 1 row")
    table = build_table(record, columns, at, req.baseline, req.series, req.digits, req.ci, req.alpha, req.top)
    notes = [left_out] if left_out else []
    if record.search is not None:
        from orchestrator.analysis.searched import importance_line

        notes += [line] if (line := importance_line(record)) else []
    notes += [line] if (line := scaled_lr_line(record)) else []
    table = dataclasses.replace(table, notes=(*table.notes, *notes)) if notes else table
    return record, table


def scaled_lr_line(record) -> str:
    """The legend's word on data-parallel trials whose lr was scaled by the world size
    (``optim.lr_scale``): the file's ``optim.lr`` is not the lr they ran with."""
    ran = sorted({(t.params.get("optim.lr_scale", ""), t.params.get("dist.world_size", ""),
                   t.params.get("optim.lr", ""), t.params["dist.lr"])
                  for t in record.trials if "dist.lr" in t.params})
    if not ran:
        return ""
    each = "; ".join(f"{how}: {float(lr):g} on {n} workers ran as {float(eff):g}" for how, n, lr, eff in ran)
    return f"optim.lr is the one-worker lr, scaled by the number of workers (optim.lr_scale) where set: {each}."


def current_trials(record):
    """The record with only the trials its sweep file plans now (``trials.json`` of the latest
    launch), and a note on the others: runs of an earlier version of the file (a changed default,
    a removed axis value) share the parent, and a table must not average them in as seeds."""
    planned = {p["key"] for p in record.plan if p.get("key")}
    if not planned or record.search is not None:  # a search's points are not planned ahead
        return record, ""
    stale = [t for t in record.trials if t.key not in planned]
    if not stale:
        return record, ""
    names = ", ".join(sorted({t.name for t in stale})[:5]) + (" ..." if len(stale) > 5 else "")
    kept = dataclasses.replace(record, trials=tuple(t for t in record.trials if t.key in planned))
    return kept, (f"Left out: {len(stale)} run(s) of an earlier version of the sweep file ({names}), whose "
                  f"configs the file no longer plans; `orch runs {record.name}` lists them.")


def make_table(req: TableRequest) -> tuple[str, Path | None]:
    """Render the table a request asks for; returns (text, file written or None)."""
    from orchestrator.util.bulk import paused_gc

    with paused_gc():  # 100,000s of history points and 10,000s of cells in a big sweep
        record, table = build(req)
        text = render(table, req.fmt, req.style)
    if req.out == "-":
        return text, None
    path = Path(req.out) if req.out else Path("results") / f"{record.name}.{EXTENSIONS[req.fmt]}"
    write_atomic(path, text)
    return text, path


PLOTS = ("curves", "history", "params")


def make_plot(sweep: str | None, metric: str | None, out: str | None = None,
              tracking_uri: str | None = None, log: bool = True, kind: str = "curves") -> Path:
    """PNG of ``metric``: against step per setting (``curves``), by trial with the best so far
    (``history``), or against each searched parameter (``params``); saved under results/ and
    logged as an artifact of the sweep's parent run."""
    from orchestrator.analysis.plots import plot_png
    from orchestrator.analysis.searched import history_png, params_png
    from orchestrator.tables.groups import UnknownMetric
    from orchestrator.tracking import log_parent_artifact, read_sweep

    if kind not in PLOTS:
        raise UnknownMetric(f"--kind {kind}: one of {', '.join(PLOTS)}")
    record = read_sweep(sweep, tracking_uri)
    metric = metric or record.metric
    logged = {k for t in record.trials for k in t.history}
    if metric not in logged and f"val/{metric}" in logged:
        metric = f"val/{metric}"
    if metric not in logged:
        raise UnknownMetric(f"--metric {metric}: no trial of {record.name} logged it; "
                            f"logged: {', '.join(sorted(logged)) or 'nothing'}")
    slug = metric.replace("/", "_").replace("@", "_at_") + ("" if kind == "curves" else f"_{kind}")
    path = Path(out) if out else Path("results") / f"{record.name}_{slug}.png"
    draw = {"curves": plot_png, "history": history_png, "params": params_png}[kind]
    write_atomic(path, draw(record, metric))
    if log:
        log_parent_artifact(record.run_id, path, tracking_uri, record.artifact_uri)
    return path
