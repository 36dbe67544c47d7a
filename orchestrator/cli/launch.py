"""The launch commands: ``orch sweep`` (locally, on a Ray cluster, or submitted to Slurm),
``validate``, ``train`` (one trial in this process), ``data`` and ``trainers``. Registered on
:data:`orchestrator.cli.common.app`; heavy modules are imported inside the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.common import MaxTrialsOption, ProfileOption, SetOption, _fail, _reported, app


def _load(file: Path, overrides: list[str] | None, profile: str | None, max_trials: int | None = None):
    from orchestrator.sweepfile import SpecError, load_sweep

    try:
        return load_sweep(file, overrides or (), profile, max_trials)
    except SpecError as exc:
        _fail(exc.problems, str(file))


def _unwritten(outcome) -> str:
    """One paragraph for writes the store did not take by the end: where they are kept, or lost."""
    from orchestrator.tracking.trouble import free_space

    store = outcome.tracking_uri.removeprefix("sqlite:///")
    if outcome.disk_full:
        why = f"the disk under the tracking store {store} is full ({free_space(outcome.tracking_uri)})"
        then = (f"Free some space (`orch clean {outcome.sweep} --checkpoints finished` removes the weights of its "
                "finished trials) and run the same command again")
    else:
        why = f"the tracking store {store} could not be reached before the end"
        then = "Run the same command again when the store is back"
    kept = f"{outcome.spooled} writes are kept in {outcome.spool}" if outcome.spooled else ""
    lost = (f"the results of {', '.join(outcome.lost)} could be written nowhere and are lost (their trials run "
            "again on the next run)") if outcome.lost else ""
    said = "; ".join(p for p in (kept, lost) if p)
    return f"{why}: {said}{'; nothing is lost' if not lost else ''}. {then}: it writes them first, then resumes."


def _halted(outcome) -> str:
    """One paragraph for a sweep a full disk stopped: which trial, where, and what to do."""
    name = outcome.sweep if " " not in outcome.sweep else repr(outcome.sweep)
    killed = outcome.counts.get("killed", 0)
    stopped = f" and recorded the {killed} running trial(s) killed (they resume from their checkpoints)" if killed else ""
    return (f"a disk is full: {outcome.halted}. orch stopped the sweep{stopped}, since every trial after it "
            f"would fail the same way; nothing finished is lost. Free some space (`orch runs {name}` shows what the "
            f"checkpoints take, `orch clean {name} --checkpoints finished` removes the weights of finished trials) or "
            "set train.out_dir on a bigger disk, then run the same command again: it resumes the sweep exactly once.")


def _run(spec, **options) -> None:
    """Run a sweep and turn its outcome into the documented exit code."""
    from orchestrator.cli.console import console
    from orchestrator.run import ClusterUnreachable, ResourcesUnavailable, run_sweep

    try:
        with _reported(ResourcesUnavailable, unreachable=(ClusterUnreachable,), uri=options.get("tracking_uri")):
            outcome = run_sweep(spec, console=console(stderr=True), **options)
    except KeyboardInterrupt:  # the second Ctrl-C: cleaned up, out at once
        typer.echo("interrupted twice: forced exit; running trials were recorded as killed", err=True)
        raise typer.Exit(130) from None
    if outcome.spooled or outcome.lost:
        typer.echo(f"error: {_unwritten(outcome)}", err=True)
        raise typer.Exit(3)
    if outcome.halted:
        typer.echo(f"error: {_halted(outcome)}", err=True)
        raise typer.Exit(3)
    if outcome.interrupted:
        typer.echo(f"interrupted: {spec.name} is incomplete; run the same command again to resume it",
                   err=True)
        raise typer.Exit(130)
    for error in outcome.tracking_errors:
        console(stderr=True).print(f"[red]tracking error:[/] {error}")
    if not outcome.ok:
        raise typer.Exit(1)


SlurmInt = Annotated[Optional[int], typer.Option(help="With --slurm: per node (default: what the widest trial reserves).")]
SlurmText = Annotated[Optional[str], typer.Option(help="With --slurm: passed to sbatch.")]


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="The sweep YAML file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the trials (with --slurm: the sbatch script) "
                                          "and launch nothing.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="Dry-run output: table or json.")] = "table",
    overrides: SetOption = None,
    profile: ProfileOption = None,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Join a Ray cluster (auto, HOST:PORT or ray://...) instead of the "
        "embedded local instance.")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(
        "--tracking-uri", help="MLflow tracking URI; default $MLFLOW_TRACKING_URI or ./mlflow.db.")] = None,
    new: Annotated[bool, typer.Option(
        "--new", help="Start a new parent run instead of resuming the sweep's latest one.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Resume the sweep's latest parent run (the default; kept for scripts).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Plain progress lines, no live view.")] = False,
    max_trials: MaxTrialsOption = None,
    rerun: Annotated[Optional[list[str]], typer.Option(
        "--rerun", help="Also re-run trials that ended with this status on resume (stopped: the ones a "
        "scheduler stopped early, which are kept as results otherwise); repeatable.")] = None,
    slurm: Annotated[bool, typer.Option("--slurm", help="Submit the sweep as a Slurm job (sbatch) and exit: Ray "
                                        "over the allocation, requeued on preemption; docs/running.md.")] = False,
    nodes: Annotated[Optional[int], typer.Option(help="With --slurm: nodes of the allocation (default 1).")] = None,
    gpus_per_node: SlurmInt = None,
    cpus_per_node: SlurmInt = None,
    mem: Annotated[Optional[str], typer.Option(help="With --slurm: memory per node, as sbatch --mem (64G).")] = None,
    partition: SlurmText = None,
    account: SlurmText = None,
    qos: SlurmText = None,
    time: Annotated[Optional[str], typer.Option(help="With --slurm: the job's time limit (24h, 1-00:00:00).")] = None,
    requeue: Annotated[Optional[bool], typer.Option("--requeue/--no-requeue", help="With --slurm: requeue on "
                                                    "preemption and at the time limit (default: requeue).")] = None,
    signal: Annotated[Optional[str], typer.Option(help="With --slurm and --time: how long before the limit orch "
                                                  "stops and the job requeues (default 5m).")] = None,
    sbatch_arg: Annotated[Optional[list[str]], typer.Option(help="With --slurm: any other sbatch option, "
                                                            "repeatable (--sbatch-arg=--exclusive).")] = None,
) -> None:
    """Expand a sweep file into trials, validate every one, and run them on Ray Tune.

    Every trial becomes a child run under one parent run per sweep in MLflow. Re-running the
    same sweep skips trials that already finished, diverged or were stopped by the scheduler, and
    re-runs the rest in their existing runs. Exit code 0 when no trial failed, 1 otherwise, 2 for
    a bad sweep file or a sweep that is already running, 130 when interrupted (Ctrl-C, SIGTERM).
    """
    if new and resume:
        raise typer.BadParameter("--new and --resume exclude each other")
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"--format must be table or json, not {fmt!r}")
    if any(r not in ("stopped", "diverged") for r in rerun or ()):
        raise typer.BadParameter("--rerun takes stopped or diverged (failed and killed trials are always re-run)")
    flags = (nodes, gpus_per_node, cpus_per_node, mem, partition, account, qos, time, requeue, signal, sbatch_arg)
    if not slurm and any(f is not None for f in flags):
        raise typer.BadParameter("--nodes, --time and the other Slurm options go with --slurm")
    spec = _load(file, overrides, profile, max_trials)
    if slurm:
        return _slurm(spec, file, flags, tracking_uri, profile, tuple(overrides or ()), new, dry_run, max_trials, address)
    if dry_run:
        return _dry_run(spec, fmt)
    _run(spec, address=address, tracking_uri=tracking_uri, new=new, quiet=quiet, rerun=tuple(rerun or ()))


def _dry_run(spec, fmt: str) -> None:
    if fmt == "json" and spec.search is not None and spec.search.adaptive:  # no trials before it runs
        search = spec.search
        typer.echo(json.dumps({"search": {"method": search.method, "sampler": search.sampler,
                                          "num_samples": search.num_samples, "seed": search.seed,
                                          "space": {d.key: d.describe() for d in search.space}},
                               "base": search.base.to_dict(spec.resources)}, indent=2, allow_nan=True))
    elif fmt == "json":
        typer.echo(json.dumps(spec.to_dicts(), indent=2, allow_nan=True))
    else:
        from orchestrator.cli.console import print_trials

        print_trials(spec)


def _slurm(spec, file: Path, flags: tuple, tracking_uri: str | None, profile: str | None,
           overrides: tuple[str, ...], new: bool, dry_run: bool, max_trials: int | None, address: str | None) -> None:
    """Write and submit the sweep's sbatch script (or print it), exit 0; exit 2 for what Slurm or
    the allocation would refuse."""
    from orchestrator.slurm import SubmitError, flag_options, plan, script, submit, submitted_lines
    from orchestrator.tracking.store import resolve_uri

    if address:
        raise typer.BadParameter("--slurm starts its own Ray in the allocation: leave out --address")
    with _reported(SubmitError, uri=tracking_uri):
        sub = plan(spec, file, flag_options(*flags), resolve_uri(tracking_uri), profile, overrides, new, max_trials)
        if dry_run:
            typer.echo(script(sub), nl=False)
            return
        job_id = submit(sub)
    for line in submitted_lines(sub, job_id):
        typer.echo(line)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Sweep files to check.")],
    overrides: SetOption = None,
    profile: ProfileOption = None,
    max_trials: MaxTrialsOption = None,
) -> None:
    """Check sweep files completely without running anything; exit 2 if any has a problem."""
    from orchestrator.cli.console import print_problems
    from orchestrator.sweepfile import SpecError, load_sweep

    bad = 0
    for file in files:
        try:
            spec = load_sweep(file, overrides or (), profile, max_trials)
        except SpecError as exc:
            print_problems(exc.problems, str(file))
            bad += 1
            continue
        if spec.search is not None and spec.search.adaptive:
            typer.echo(f"ok  {file}: an optuna ({spec.search.sampler}) search of {spec.search.num_samples} points, "
                       f"trainer {spec.trainer}")
        else:
            n = len(spec.trials)
            typer.echo(f"ok  {file}: {n} trial{'' if n == 1 else 's'} of trainer {spec.trainer}")
    if bad:
        raise typer.Exit(2) from None


@app.command()
def train(
    target: Annotated[str, typer.Argument(help="A trainer name (its defaults plus --set), or a sweep file.")],
    trial: Annotated[Optional[str], typer.Option("--trial", help="With a sweep file: the trial to run.")] = None,
    overrides: SetOption = None,
    profile: ProfileOption = None,
) -> None:
    """Train one configuration in this process, without Ray or MLflow, printing each report.

    `orch train pose --set model.backbone=resnet18` runs the trainer's defaults plus overrides;
    `orch train sweeps/x.yaml --trial NAME` reproduces one trial of a sweep.
    """
    from orchestrator.cli.console import console
    from orchestrator.sweepfile import SpecError, load_trainer_run
    from orchestrator.cli.standalone import TrialNotFound, pick_trial, run_standalone

    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        spec = _load(path, overrides, profile)
    else:
        if profile or trial:
            raise typer.BadParameter("--profile and --trial need a sweep file, not a trainer name")
        try:
            spec = load_trainer_run(target, overrides or ())
        except SpecError as exc:
            _fail(exc.problems, f"orch train {target}")
    try:
        chosen = pick_trial(spec, trial)
    except TrialNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    run_standalone(chosen, console())


@app.command()
def data(
    action: Annotated[str, typer.Argument(help="list, or synth")],
    name: Annotated[Optional[str], typer.Argument(help="With synth: the data set (see orch data list).")] = None,
    out: Annotated[Optional[Path], typer.Argument(help="With synth: a new folder to write it into.")] = None,
    n_train: Annotated[Optional[int], typer.Option(
        "--train", help="Training items (people or images); default: the data set's.")] = None,
    n_val: Annotated[Optional[int], typer.Option("--val", help="Validation items; default: the data set's.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same files.")] = 0,
    size: Annotated[Optional[str], typer.Option("--size", help="Shorthand for --opt size=HxW.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Shorthand for --opt format=F (e.g. pose3d's "
                                               "spin_npz).")] = None,
    opt: Annotated[Optional[list[str]], typer.Option(
        "--opt", help="A data set option KEY=VALUE (orch data list shows them), repeatable.")] = None,
) -> None:
    """Synthetic data sets in real formats, declared by the trainers: `orch data list`,
    `orch data synth mpii OUT`."""
    from orchestrator.cli.datasets import DataError, list_datasets, write_dataset

    if action == "list":
        from orchestrator.cli.console import print_datasets

        print_datasets(list_datasets())
        return
    if action != "synth":
        raise typer.BadParameter(f"unknown action {action!r}; one of: list, synth")
    if not name or out is None:
        known = ", ".join(d.name for _, d in list_datasets())
        typer.echo(f"error: orch data synth NAME OUT: name a data set and a folder; data sets: {known}", err=True)
        raise typer.Exit(2)
    bad = [o for o in opt or [] if "=" not in o]
    if bad:
        typer.echo(f"error: --opt {bad[0]}: expected KEY=VALUE", err=True)
        raise typer.Exit(2)
    options = dict(o.partition("=")[::2] for o in (opt or []))
    if size is not None:
        options["size"] = size
    if fmt is not None:
        options["format"] = fmt
    try:
        written, dataset, n_train, n_val = write_dataset(name, out, n_train, n_val, seed, options)
    except DataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote a synthetic {name} dataset to {written} ({n_train} train, {n_val} val {dataset.unit})")


@app.command()
def trainers(
    name: Annotated[Optional[str], typer.Argument(help="Show this trainer's parameters.")] = None,
) -> None:
    """List registered trainers, or one trainer's parameters with defaults and help."""
    from orchestrator.cli.console import print_trainer, print_trainers
    from orchestrator.registry import RegistryError

    try:
        print_trainer(name) if name else print_trainers()
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
