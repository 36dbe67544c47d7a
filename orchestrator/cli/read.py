"""The read commands of ``orch``: runs, status, table, plot, report, diff, clean, ui (registered on
:data:`orchestrator.cli.common.app`). Thin: each calls one library function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.common import _reported, app

TrackingOption = Annotated[Optional[str], typer.Option(
    "--tracking-uri", help="MLflow tracking URI; default $MLFLOW_TRACKING_URI or ./mlflow.db.")]


@app.command()
def runs(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="SWEEP", help="Show this sweep's trials; without it, list the sweeps.")] = None,
    at: Annotated[str, typer.Option(
        "--at", help="Which value of the sweep's metric each trial shows: last (default), best, or step:N.")] = "last",
    tracking_uri: TrackingOption = None,
) -> None:
    """Sweeps in the tracking store, or one sweep's trials with status, the sweep's metric (at the
    step --at picks, which the step column shows) and the compute they used."""
    from orchestrator.cli.console import print_sweep_trials, print_sweeps
    from orchestrator.tables import TableError, parse_at
    from orchestrator.tracking import list_sweeps, read_sweep

    with _reported(TableError, uri=tracking_uri):
        parse_at(at)
        if sweep_name is None:
            print_sweeps(list_sweeps(tracking_uri))
        else:
            print_sweep_trials(read_sweep(sweep_name, tracking_uri), at)


@app.command()
def status(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="[SWEEP]", help="The sweep; default: the most recent one in the store.")] = None,
    pivot: Annotated[Optional[tuple[str, str]], typer.Option(
        "--pivot", metavar="ROW COL", help="The two axes to lay the grid out on; default: the first two.")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """The sweep's grid as a pivot of statuses (done, stopped, diverged, failed, killed, running,
    missing) with counts, and what a resume would run."""
    from orchestrator.cli.console import print_status
    from orchestrator.analysis.status import StatusError, grid_status
    from orchestrator.tracking import read_sweep

    with _reported(StatusError, uri=tracking_uri):
        record = read_sweep(sweep_name, tracking_uri, metrics=[])
        print_status(grid_status(record, pivot), record)


@app.command()
def table(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="[SWEEP]", help="The sweep; default: the most recent one in the store.")] = None,
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", "-m", help="Column(s): a metric (val/Mean or Mean), a group (pckh, miou, coco) "
        "or a param; repeatable. Default: the sweep's metric.")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", help="With miou: add the class IoUs.")] = False,
    pivot: Annotated[Optional[tuple[str, str]], typer.Option(
        "--pivot", metavar="ROW COL", help="A 2-D table of the first metric over two axes.")] = None,
    at: Annotated[Optional[str], typer.Option(
        "--at", help="Which evaluation fills a cell: best (the step where the sweep's metric is best; "
        "default), last, or step:N.")] = None,
    series: Annotated[bool, typer.Option(
        "--series", help="Every evaluation in the cell: 44.12, 48.69, 51.10.")] = False,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", help="Add a delta column against this row (a setting name).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, latex, csv, html or json.")] = "md",
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", help="Write here; default results/<sweep>.<ext>; '-' prints only.")] = None,
    label: Annotated[Optional[str], typer.Option(
        "--label", help="Header of a setting column, e.g. Arch (then shown even where the axis "
        "columns name every row).")] = None,
    counts: Annotated[Optional[bool], typer.Option(
        "--counts/--no-counts", help="(n=K) seeds in the cells; default: yes, except in LaTeX.")] = None,
    second: Annotated[bool, typer.Option("--second", help="Underline the second best of each column.")] = False,
    digits: Annotated[Optional[int], typer.Option(
        "--digits", help="Decimals of every column; default: the metric group's, else from the values.")] = None,
    ci: Annotated[Optional[float], typer.Option(
        "--ci", help="Show mean ± the half-width of this confidence interval (percent, e.g. 95) "
        "instead of ± std.")] = None,
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Significance level: † marks rows whose Welch t-test against the best gives "
        "p ≥ alpha.")] = 0.05,
    top: Annotated[Optional[int], typer.Option(
        "--top", help="Only the K best rows by the sweep metric, best first (for searches).")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """The ablation table of a sweep: one row per setting, seeds as mean ± std (n), the unique best
    in bold, † on rows within seed noise of the best (Welch's t-test, bootstrap CI in JSON/CSV)."""
    from orchestrator.analysis.publish import TableRequest, make_table
    from orchestrator.tables import TableError, UnknownMetric

    request = TableRequest(sweep_name, tuple(metric or ()), per_class, pivot, at, series, baseline, fmt,
                           out, tracking_uri, label, counts, second, digits,
                           None if ci is None else ci / 100, alpha, top)
    with _reported(TableError, UnknownMetric, ValueError, uri=tracking_uri):
        text, path = make_table(request)
    typer.echo(text, nl=False)
    if path is not None:
        sys.stdout.flush()  # the table whole before the note on stderr, when both go to one file
        typer.echo(f"(written to {path})", err=True)


@app.command()
def plot(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="[SWEEP]", help="The sweep; default: the most recent one in the store.")] = None,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", "-m", help="The metric to plot against step; default: the sweep's metric.")] = None,
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", help="PNG path; default results/<sweep>_<metric>[_<kind>].png.")] = None,
    kind: Annotated[str, typer.Option(
        "--kind", help="curves (the metric against step, seeds as a band), history (by trial, with the "
        "best so far: a search's optimisation history) or params (against each searched parameter).")] = "curves",
    tracking_uri: TrackingOption = None,
) -> None:
    """Learning curves (the metric against step per setting, seeds as a mean ± std band), or a
    search's optimisation history and parameters. Saved under results/ and attached to the sweep's
    parent run."""
    from orchestrator.analysis.publish import make_plot
    from orchestrator.tables import UnknownMetric

    with _reported(UnknownMetric, uri=tracking_uri):
        path = make_plot(sweep_name, metric, out, tracking_uri, kind=kind)
    typer.echo(str(path))


@app.command()
def report(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="[SWEEP]", help="The sweep; default: the most recent one in the store.")] = None,
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", help="HTML path; default results/<sweep>_report.html.")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """One self-contained HTML page for a sweep: tables with significance marks, the pivot,
    learning curves, grid status, failures, the best config, compute and code. Saved under
    results/ and attached to the sweep's parent run."""
    from orchestrator.analysis.html_report import make_report

    with _reported(uri=tracking_uri):
        path = make_report(sweep_name, out, tracking_uri)
    typer.echo(str(path))


@app.command()
def clean(
    sweep_name: Annotated[str, typer.Argument(metavar="SWEEP", help="The sweep whose checkpoints go.")],
    checkpoints: Annotated[str, typer.Option(
        "--checkpoints", help="Whose: failed (failed and diverged trials; default), finished (their weights "
        "go: mode: eval and orch diff lose them), or all (a resume then starts killed trials over).")] = "failed",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go and how much it frees; remove nothing.")] = False,
    tracking_uri: TrackingOption = None,
) -> None:
    """Remove a sweep's trial checkpoints (checkpoint.pt in each trial's train.out_dir) and say
    what it freed. The store's runs, metrics, logs and artifacts are never touched."""
    from orchestrator.cli.console import print_cleaned
    from orchestrator.util.checkpoints import CleanError
    from orchestrator.util.checkpoints import clean as remove
    from orchestrator.tracking import read_sweep, resolve_uri
    from orchestrator.tracking.lease import holder

    with _reported(CleanError, uri=tracking_uri):
        uri = resolve_uri(tracking_uri)
        record = read_sweep(sweep_name, uri, metrics=[])
        owner = holder(record.name, uri, dict(record.tags))
        print_cleaned(record, checkpoints, dry_run, remove(record, checkpoints, dry_run, owner.describe() if owner else ""))


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="A run id, or a trial name (its latest run).")],
    run_b: Annotated[str, typer.Argument(help="The run to compare it with.")],
    tracking_uri: TrackingOption = None,
) -> None:
    """What differs between two runs: params, code (git diff between their commits when this
    repository has them, uncommitted patches), environment, data fingerprint, final metrics."""
    from orchestrator.analysis.diff import diff_runs
    from orchestrator.tracking import read_run

    with _reported(uri=tracking_uri):
        a, b = read_run(run_a, tracking_uri), read_run(run_b, tracking_uri)
    typer.echo(diff_runs(a, b), nl=False)


def _sweep_path(sweep: str | None, uri: str) -> str:
    """The UI path of the sweep's view (the most recent sweep by default); the experiments list when
    the store has none."""
    from orchestrator.tracking import SweepNotFound, list_sweeps
    from orchestrator.tracking.ui_view import ui_path

    sweeps = list_sweeps(uri)
    found = [s for s in sweeps if sweep in (None, s.name)]
    if not found:
        if sweep is not None:
            known = ", ".join(sorted({s.name for s in sweeps})) or "none"
            raise SweepNotFound(f"no sweep named {sweep!r} in {uri}; known sweeps: {known}")
        return "/"
    return ui_path(found[0].experiment_id, found[0].name)


@app.command()
def ui(
    sweep_name: Annotated[Optional[str], typer.Argument(
        metavar="[SWEEP]", help="Open on this sweep's trials; default: the most recent sweep.")] = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: TrackingOption = None,
) -> None:
    """Start the MLflow UI on 127.0.0.1 for the current store and print the URL of a sweep's view:
    its trials as rows (Model training view), the swept params, seed, status and metric as columns."""
    import subprocess

    from orchestrator.tracking import resolve_uri

    uri = resolve_uri(tracking_uri)
    with _reported(uri=tracking_uri):
        path = _sweep_path(sweep_name, uri)
    if uri.startswith(("http://", "https://")):
        typer.echo(f"{uri} is an MLflow server: open {uri.rstrip('/')}{path}")
        return
    url = f"http://127.0.0.1:{port}"
    typer.echo(f"MLflow UI for {uri}: open {url}{path}  (Ctrl-C stops it)")
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow) if mlflow.exists() else "mlflow", "ui", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(port)]
    try:
        raise typer.Exit(subprocess.call(command))
    except KeyboardInterrupt:
        raise typer.Exit(0)
