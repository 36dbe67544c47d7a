"""`orch report SWEEP`: one self-contained HTML page per sweep (no file or script it loads from
elsewhere): the results table with significance marks, the pivot, learning curves with seed bands,
the grid status, failures and divergences with their messages, the best config as YAML, the
compute used and the code it ran. Written under results/ and attached to the parent run."""

from __future__ import annotations

import base64
import datetime
import html
from pathlib import Path

from orchestrator.protocol import Tag, TrialStatus
from orchestrator.analysis.records import SweepRecord

__all__ = ["report_html", "make_report"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; } th, td { padding: .25em .7em; border-bottom: 1px solid #eee; }
th { background: #f6f6f6; text-align: left; } td { font-variant-numeric: tabular-nums; white-space: nowrap; }
section > table { display: block; overflow-x: auto; }
.legend, .meta { color: #555; margin: .2em 0; } pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
.finished { color: #17803d; } .failed { color: #c0262d; } .diverged { color: #b07800; }
.stopped, .killed { color: #8a3ea8; } .running { color: #1769aa; } .missing { color: #888; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _tables(record: SweepRecord) -> str:
    from orchestrator.analysis.publish import TableRequest, build
    from orchestrator.registry import metric_groups
    from orchestrator.tables import Style, TableError, render

    group = next((g.name for g in metric_groups(record.trainer).values()
                  if any(c.key == record.metric for c in g.columns)), None)
    req = TableRequest(record.name, (group,) if group else (), fmt="html", out="-")
    parts = [render(build(req, record)[1], "html", Style(second=True))]
    if len(record.axes) >= 2:
        pivot = TableRequest(record.name, (), pivot=(record.axes[0], record.axes[1]), fmt="html", out="-")
        try:
            parts.append(f"<h3>{html.escape(record.metric)} over {html.escape(record.axes[0])} and "
                         f"{html.escape(record.axes[1])}</h3>" + render(build(pivot, record)[1], "html"))
        except TableError as exc:
            parts.append(f'<p class="meta">No pivot: {html.escape(str(exc))}</p>')
    return "\n".join(parts)


def _plots(record: SweepRecord) -> str:
    from orchestrator.analysis.plots import plot_png

    from orchestrator.analysis.searched import history_png, params_png

    logged = {k for t in record.trials for k in t.history}
    drawn = [(plot_png, record.metric, "against step"), (plot_png, "train/loss", "against step")]
    if record.search is not None:
        drawn += [(history_png, record.metric, "by trial"), (params_png, record.metric, "against each parameter")]
    out = []
    for draw, metric, what in drawn:
        if metric in logged:
            data = base64.b64encode(draw(record, metric)).decode()
            out.append(f'<img alt="{html.escape(metric)} {what}" src="data:image/png;base64,{data}">')
    return "\n".join(out) or '<p class="meta">No trial logged a history yet.</p>'


def _grid(record: SweepRecord) -> str:
    from orchestrator.analysis.status import LABELS, ORDER, grid_status
    from orchestrator.tables.text import axis_value

    grid = grid_status(record)

    def cell(counts) -> str:
        return ", ".join(f'<span class="{s}">{counts[s]} {LABELS.get(s, s)}</span>' for s in ORDER
                         if counts.get(s)) or "-"

    corner = " \\ ".join(a for a in (grid.row_axis, grid.col_axis) if a) or "trials"
    heads = "".join(f"<th>{html.escape(axis_value(v) if grid.col_axis else 'status')}</th>" for v in grid.col_values)
    rows = "".join(f"<tr><td>{html.escape(axis_value(v) if grid.row_axis else 'all')}</td>"
                   + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>"
                   for v, row in zip(grid.row_values, grid.cells))
    resume = (f"A resume would run {sum(grid.rerun.values())}: {grid.words(grid.rerun)}."
              if grid.rerun else "A resume would run nothing: every trial is done.")
    return (f"<table><thead><tr><th>{html.escape(corner)}</th>{heads}</tr></thead><tbody>{rows}</tbody></table>"
            f'<p class="meta">{html.escape(resume)}</p>')


def _problems(record: SweepRecord) -> str:
    bad = [t for t in record.trials if t.status in (TrialStatus.FAILED, TrialStatus.DIVERGED, TrialStatus.KILLED)]
    if not bad:
        return '<p class="meta">None: no trial failed, diverged or was killed.</p>'
    rows = "".join(f'<tr><td>{html.escape(t.name)}</td><td class="{t.status.value}">{t.status.value}</td>'
                   f"<td>{html.escape(t.message or '-')}</td></tr>" for t in bad)
    return f"<table><thead><tr><th>trial</th><th>status</th><th>message</th></tr></thead><tbody>{rows}</tbody></table>"


def _best_config(record: SweepRecord) -> str:
    import yaml

    from orchestrator.protocol import PARAM_PREFIX_OOM, typed_param
    from orchestrator.sweepfile.model import nest
    from orchestrator.tables.build import trial_score

    scored = [(v, t) for t in record.trials if (v := trial_score(t, record.metric, record)) is not None]
    if not scored:
        return '<p class="meta">No trial has a finite value of the sweep metric yet.</p>'
    value, best = (max if record.mode == "max" else min)(scored, key=lambda vt: vt[0])
    params = {k: typed_param(v) for k, v in best.params.items() if not k.startswith(PARAM_PREFIX_OOM)}
    params.update({k[len(PARAM_PREFIX_OOM):]: typed_param(v) for k, v in best.params.items() if k.startswith(PARAM_PREFIX_OOM)})
    text = yaml.safe_dump(nest(params), sort_keys=False)
    return (f'<p class="meta">{html.escape(best.name)}: {html.escape(record.metric)} = {value:.4g} '
            f"(run {html.escape(best.run_id)})</p><pre>{html.escape(text)}</pre>")


def report_html(record: SweepRecord) -> str:
    """The page, from a record read with every metric's history."""
    from orchestrator.cli.console import compute_words

    tags = record.tags
    commit = tags.get(Tag.GIT_COMMIT) or tags.get(Tag.SOURCE_COMMIT) or "unknown (not a git checkout)"
    dirty = " with uncommitted changes" if tags.get(Tag.GIT_DIRTY) == "true" else ""
    started = datetime.datetime.fromtimestamp(record.start_time / 1000).strftime("%Y-%m-%d %H:%M")
    meta = [f"trainer {record.trainer}; metric {record.metric} ({record.mode}); {len(record.trials)} of "
            f"{record.planned} trials in the store; parent run {record.run_id} ({record.status.lower()}), "
            f"started {started}", f"code: {commit}{dirty}"]
    description = tags.get(Tag.NOTE, "")
    sections = [_section("Results", _tables(record), "results"),
                _section("Learning curves", _plots(record), "curves"),
                _section("Grid status", _grid(record), "status"),
                _section("Failures and divergences", _problems(record), "failures"),
                _section("Best configuration", _best_config(record), "best"),
                _section("Compute", f'<p class="meta">{html.escape(compute_words(record) or "not recorded")}</p>',
                         "compute")]
    head = "".join(f'<p class="meta">{html.escape(m)}</p>' for m in meta)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(record.name)} '
            f"- orch report</title><style>{_CSS}</style></head><body>\n<h1>{html.escape(record.name)}</h1>"
            + (f"<p>{html.escape(description)}</p>" if description else "") + head + "\n"
            + "\n".join(sections) + "\n</body></html>\n")


def make_report(sweep: str | None, out: str | None = None, tracking_uri: str | None = None,
                log: bool = True) -> Path:
    from orchestrator.analysis.publish import write_atomic
    from orchestrator.tracking import log_parent_artifact, read_sweep

    record = read_sweep(sweep, tracking_uri)
    path = Path(out) if out else Path("results") / f"{record.name}_report.html"
    write_atomic(path, report_html(record))
    if log:
        log_parent_artifact(record.run_id, path, tracking_uri, record.artifact_uri)
    return path
