"""Rich rendering for the CLI: trial tables, trainer schemas, problem reports."""

from __future__ import annotations

import dataclasses
from typing import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.protocol import TrialStatus
from orchestrator.sweepfile.errors import Problem

STATUS_STYLE = {TrialStatus.FINISHED: "green", TrialStatus.DIVERGED: "yellow", TrialStatus.FAILED: "red",
                TrialStatus.STOPPED: "magenta", TrialStatus.KILLED: "magenta", TrialStatus.RUNNING: "cyan",
                "pending": "dim", "done before": "dim green"}


def trials_text(n: int) -> str:
    """"1 trial", "4 trials"."""
    return f"{n} trial" + ("" if n == 1 else "s")


WHOLE = 100_000  # the width when output goes to a pipe or a file: values whole, rows on one line


def console(stderr: bool = False) -> Console:
    """Rich output for the terminal; piped or redirected, as wide as any line is, so that no cell
    is cut (`orch trainers pose | grep mobilenet_v3_small` finds it)."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out.width = WHOLE
    return out


def wide_console() -> Console:
    """For tables: piped to a file or a script, keep one line per row."""
    return console()


MAX_PROBLEMS_SHOWN = 12
MAX_PROBLEM_CHARS = 400


def print_problems(problems: Iterable[Problem], file: str) -> None:
    problems = list(problems)
    out = console(stderr=True)
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        text = problem.render()
        if len(text) > MAX_PROBLEM_CHARS:
            text = text[:MAX_PROBLEM_CHARS - 20] + f"... ({len(text)} characters)"
        out.print(Text.assemble(("error:", "bold red"), " ", text), soft_wrap=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        out.print(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more", markup=False, soft_wrap=True)
    noun = "problem" if len(problems) == 1 else "problems"
    out.print(f"{len(problems)} {noun} in {file}; nothing was launched.", soft_wrap=True, markup=False)


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(map(_short, value)) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_resources(r) -> str:
    """``1 cpu, 1 gpu, 16G``; a data-parallel trial's per worker: ``2 workers x (1 cpu, 1 gpu)``."""
    gpu = r.gpu / r.workers if r.workers > 1 else r.gpu
    parts = [f"{r.cpu:g} cpu"] + ([f"{gpu:g} gpu"] if gpu else [])
    parts += [f"{r.memory / 1e9:g}G"] if r.memory else []
    parts += [f"{v:g} {k}" for k, v in r.custom.items()]
    return f"{r.workers} workers x ({', '.join(parts)})" if r.workers > 1 else ", ".join(parts)


def _goals(spec) -> str:
    objectives = spec.objectives or ((spec.metric, spec.mode),)
    words = ", ".join(f"{m} ({mode})" for m, mode in objectives)
    return f"objectives {words}" if len(objectives) > 1 else f"metric {words}"


def _print_search(spec) -> None:
    search = spec.search
    out = wide_console()
    space = "; ".join(f"{d.key}: {d.describe()}" for d in search.space)
    if search.adaptive:
        base = search.base
        out.print(f"{spec.name}: search with optuna ({search.sampler}), {search.num_samples} points, seed "
                  f"{search.seed}, each suggested while earlier ones finish; trainer {spec.trainer}, "
                  f"{_goals(spec)}, experiment {spec.experiment!r}", soft_wrap=True)
        out.print(f"space: {space}", soft_wrap=True)
        out.print(f"every point starts from: {', '.join(f'{k}={v!r}' for k, v in base.config.items() if k not in {d.key for d in search.space})}",
                  soft_wrap=True, markup=False)
        return
    out.print(f"search: random, {search.num_samples} points drawn under seed {search.seed} (the same on every "
              f"run), each crossed with every grid cell and seed; space: {space}", soft_wrap=True)


def print_trials(spec) -> None:
    if spec.search is not None:
        _print_search(spec)
        if spec.search.adaptive:
            return
    table = Table(title=f"{spec.name}: {trials_text(len(spec.trials))} of trainer {spec.trainer}",
                  title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("name", no_wrap=True)
    for axis in spec.axes:
        table.add_column(axis)
    if len(spec.seeds) > 1:
        table.add_column("seed", justify="right")
    table.add_column("resources")
    table.add_column("key", style="dim")
    for i, trial in enumerate(spec.trials, 1):
        res = describe_resources(spec.resources_of(trial))
        row = [str(i), trial.name] + [_short(trial.axes[a]) for a in spec.axes]
        if len(spec.seeds) > 1:
            row.append(str(trial.seed))
        table.add_row(*row, res, trial.key)
    out = wide_console()
    out.print(table)
    out.print(f"{len(spec.trials)} trials; {_goals(spec)}; experiment {spec.experiment!r}")


def print_trainers() -> None:
    from orchestrator.registry import available, get_trainer

    table = Table(title="registered trainers", title_justify="left")
    table.add_column("name")
    table.add_column("metric")
    table.add_column("description")
    for name in available():
        trainer = get_trainer(name)
        table.add_row(name, f"{trainer.metric} ({trainer.mode})", trainer.description)
    console().print(table)


def print_trainer(name: str) -> None:
    from orchestrator.registry import get_trainer
    from orchestrator.sweepfile.schema import Schema, type_name

    trainer = get_trainer(name)
    schema = Schema(trainer.config)
    table = Table(title=f"trainer {name}: {trainer.description}", title_justify="left")
    for column in ("parameter", "type", "default", "help"):
        table.add_column(column)
    for key, info in schema.params.items():
        default = "(required)" if info.default is dataclasses.MISSING else _short(info.default)
        bounds = [f"{op} {v:g}" for op, v in ((">=", info.ge), (">", info.gt), ("<=", info.le))
                  if v is not None]
        help_text = info.help + (f" [{', '.join(bounds)}]" if bounds else "")
        if info.choices is not None:  # the values it takes, shown where people look first
            help_text += f" [one of: {', '.join(_short(c) for c in info.choices)}]"
        table.add_row(*(Text(cell) for cell in (key, type_name(info.type), default, help_text)))
    out = console()
    out.print(table)
    for group in trainer.groups:
        heads = ", ".join(c.header for c in group.columns)
        names = "/".join((group.name, *group.aliases))
        out.print(f"table group {names}: {heads}" + (f"  ({group.description})" if group.description else ""),
                  markup=False, highlight=False)
    for dataset in trainer.datasets:
        out.print(f"data set {dataset.name}: orch data synth {dataset.name} DIR  ({dataset.description})",
                  markup=False, highlight=False)


def print_datasets(found) -> None:
    table = Table(title="synthetic data sets (orch data synth NAME DIR)", title_justify="left")
    for column in ("name", "trainer", "default size", "options", "what"):
        table.add_column(column)
    for trainer, d in found:
        options = ", ".join(f"{k}={v[0]} ({v[1]})" for k, v in d.options.items()) or "-"
        table.add_row(*(Text(c) for c in (d.name, trainer, f"{d.train} train, {d.val} val {d.unit}",
                                            options, d.description)))
    wide_console().print(table)


def print_sweeps(sweeps) -> None:
    import datetime

    table = Table(title="sweeps", title_justify="left")
    for column in ("sweep", "trainer", "trials", "metric", "status", "started", "parent run"):
        table.add_column(column)
    for s in sweeps:
        started = datetime.datetime.fromtimestamp(s.start_time / 1000).strftime("%Y-%m-%d %H:%M")
        table.add_row(s.name, s.trainer, str(s.planned), f"{s.metric} ({s.mode})", s.status.lower(),
                      started, s.run_id)
    wide_console().print(table)


def print_sweep_trials(record, at: str = "last") -> None:
    import math

    from orchestrator.tables.build import trial_value

    counts: dict[str, int] = {}
    for t in record.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    table = Table(title=f"{record.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
                  title_justify="left")
    table.add_column("trial", no_wrap=True)
    for axis in record.axes:
        table.add_column(axis)
    table.add_column("status")
    where = {"last": "last step", "best": "best step"}.get(at, at.replace(":", " "))
    table.add_column(f"{record.metric} ({where})", justify="right")
    table.add_column("step", justify="right")
    table.add_column("run id", style="dim")
    for t in record.trials:
        step, value = trial_value(t, record.metric, at, record.metric, record.mode)
        shown = "-" if value is None else "nan" if math.isnan(value) else f"{value:.4g}"
        style = STATUS_STYLE.get(t.status, "")
        table.add_row(t.name, *[_short(t.axes.get(a)) for a in record.axes],
                      f"[{style}]{t.status}[/]", shown, "-" if step is None else str(step), t.run_id)
    wide_console().print(table)
    from orchestrator.tables.build import at_words

    console().print(f"[dim]{record.metric}: {at_words(at, record.metric)} (--at best|last|step:N)[/]")
    used = compute_words(record)
    if used:
        console().print(f"compute: {used}", soft_wrap=True)
    _data_bound_line(record)
    _disk_line(record)


def _data_bound_line(record) -> None:
    from orchestrator.protocol import Tag

    bound = [(t.name, float(t.tags[Tag.DATA_WAIT])) for t in record.trials if t.tags.get(Tag.DATA_WAIT)]
    if bound:
        names = ", ".join(f"{name} ({share:.0%})" for name, share in bound)
        console().print(f"[yellow]data-bound[/] (over a quarter of the step time waiting for data): {names}; "
                        "raise data.workers, or feed smaller or locally cached images", soft_wrap=True, highlight=False)


def _disk_line(record) -> None:
    from orchestrator.util.checkpoints import disk_use

    words = disk_use(record).words(record.name)
    if words:
        console().print(words, soft_wrap=True, highlight=False, markup=False)


def print_cleaned(record, which: str, dry_run: bool, done) -> None:
    """`orch clean`: what went (or would go), what it freed, what stayed and why."""
    from orchestrator.util.checkpoints import human

    verb = "would remove" if dry_run else "removed"
    if done.removed:
        console().print(f"{record.name}: {verb} the checkpoints of {len(done.removed)} trial(s) ({which}), "
                        f"{human(done.freed)}{' to free' if dry_run else ' freed'}:", soft_wrap=True, highlight=False)
        table = Table(show_header=False, box=None, pad_edge=False)
        for name, folder, size in done.removed:
            table.add_row(name, folder, human(size))
        wide_console().print(table)
    else:
        console().print(f"{record.name}: no {which} trial has a checkpoint on this machine; nothing to remove",
                        soft_wrap=True, highlight=False)
    if done.kept:
        kept = ", ".join(f"{n} {s}" for s, n in sorted(done.kept.items()))
        more = "; --checkpoints all removes them too" if which != "all" else ""
        console().print(f"kept: the checkpoints of {kept} trial(s){more}", soft_wrap=True, highlight=False)
    if dry_run:
        console().print("--dry-run: nothing removed", style="dim")


def compute_words(record) -> str:
    """``0.42 GPU-h, 1.70 CPU-h, 0:05:12 of trial time, peak GPU memory 3.2 GB`` for a sweep."""
    import datetime

    from orchestrator.protocol import Compute

    totals = Compute.totals(t.metrics for t in record.trials)
    if not totals:
        return ""
    parts = [f"{totals.get(Compute.GPU_HOURS, 0.0):.2f} GPU-h", f"{totals.get(Compute.CPU_HOURS, 0.0):.2f} CPU-h",
             f"{datetime.timedelta(seconds=round(totals.get(Compute.WALL_S, 0.0)))} of trial time"]
    if Compute.PEAK_GPU_MEMORY_GB in totals:
        parts.append(f"peak GPU memory {totals[Compute.PEAK_GPU_MEMORY_GB]:.1f} GB")
    return ", ".join(parts)


def print_status(grid, record) -> None:
    """`orch status`: the grid as a pivot of statuses, then what a resume would run."""
    styles = {"finished": "green", "missing": "dim", **{str(k): v for k, v in STATUS_STYLE.items()}}

    def cell(counts) -> str:
        from orchestrator.analysis.status import LABELS, ORDER

        parts = [f"[{styles.get(s, '')}]{counts[s]} {LABELS.get(s, s)}[/]" for s in ORDER if counts.get(s)]
        return ", ".join(parts) or "[dim]-[/]"

    title = f"{grid.sweep}: {sum(grid.total.values())} trials: {grid.words(grid.total)}"
    corner = " \\ ".join(a for a in (grid.row_axis, grid.col_axis) if a) or "trials"
    console().print(title, soft_wrap=True)
    table = Table()
    table.add_column(corner, no_wrap=True)
    for value in grid.col_values:
        table.add_column(_short(value) if grid.col_axis else "status")
    for value, row in zip(grid.row_values, grid.cells):
        table.add_row(_short(value) if grid.row_axis else "all", *(cell(c) for c in row))
    wide_console().print(table)
    rerun, kept = sum(grid.rerun.values()), sum(grid.kept.values())
    running = grid.rerun.get("running", 0)
    line = (f"a resume (`orch sweep` on the same file) would run {rerun} trial(s): {grid.words(grid.rerun)}"
            if rerun else "a resume would run nothing: every trial is done")
    line += f"; it keeps {kept} ({grid.words(grid.kept)})" if kept else ""
    if running:
        line += (f". {running} running: if no launcher runs {grid.sweep} now (orch runs shows its owner), they "
                 "were left so by one that died, and a resume runs them again")
    console().print(line, soft_wrap=True)
    _disk_line(record)
