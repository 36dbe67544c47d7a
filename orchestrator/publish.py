"""Glue between the tracking store and the pure tables/plots: what `orch table` and
`orch plot` call. Reading goes through orchestrator.tracking, rendering through
orchestrator.tables; files are written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.tables import FORMATS, build_pivot, build_table, expand_metrics, render

__all__ = ["TableRequest", "make_table", "make_plot", "write_atomic", "EXTENSIONS"]

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


def write_atomic(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)
    os.replace(tmp, path)


def make_table(req: TableRequest) -> tuple[str, Path | None]:
    """Render the table a request asks for; returns (text, file written or None)."""
    from orchestrator.registry import metric_groups
    from orchestrator.tracking import read_sweep

    if req.fmt not in FORMATS:
        raise ValueError(f"--format {req.fmt!r}: one of {', '.join(FORMATS)}")
    record = read_sweep(req.sweep, req.tracking_uri)
    logged = {k for t in record.trials for k in (*t.history, *t.metrics)}
    params = {k for t in record.trials for k in t.params}
    columns = expand_metrics(list(req.metrics) or [record.metric], logged, params, record.metric,
                             record.mode, req.per_class, metric_groups(record.trainer))
    at = req.at or "best"
    if req.pivot:
        table = build_pivot(record, columns[0], req.pivot[0], req.pivot[1], at)
    else:
        table = build_table(record, columns, at, req.baseline, req.series)
    text = render(table, req.fmt)
    if req.out == "-":
        return text, None
    path = Path(req.out) if req.out else Path("results") / f"{record.name}.{EXTENSIONS[req.fmt]}"
    write_atomic(path, text)
    return text, path


def make_plot(sweep: str | None, metric: str | None, out: str | None = None,
              tracking_uri: str | None = None, log: bool = True) -> Path:
    """PNG of ``metric`` against step per setting; saved under results/ and logged as an
    artifact of the sweep's parent run."""
    from orchestrator.plots import plot_png
    from orchestrator.tables.groups import UnknownMetric
    from orchestrator.tracking import log_parent_artifact, read_sweep

    record = read_sweep(sweep, tracking_uri)
    metric = metric or record.metric
    logged = {k for t in record.trials for k in t.history}
    if metric not in logged and f"val/{metric}" in logged:
        metric = f"val/{metric}"
    if metric not in logged:
        raise UnknownMetric(f"--metric {metric}: no trial of {record.name} logged it; "
                            f"logged: {', '.join(sorted(logged)) or 'nothing'}")
    slug = metric.replace("/", "_").replace("@", "_at_")
    path = Path(out) if out else Path("results") / f"{record.name}_{slug}.png"
    write_atomic(path, plot_png(record, metric))
    if log:
        log_parent_artifact(record.run_id, path, tracking_uri)
    return path
