"""``orch sweep FILE --slurm``: the sbatch script for a sweep, written under ``.orch/slurm/`` and
submitted with ``sbatch``. The script execs :mod:`orchestrator.slurm.job` in the allocation, which
starts Ray over the job's nodes and runs ``orch sweep --address`` against it with the tracking URI,
profile and ``--set`` values of the submitting command. No ray or mlflow import."""

from __future__ import annotations

import math
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.util.version import __version__
from orchestrator.sweepfile.model import Resources, SweepSpec
from orchestrator.sweepfile.slurm import SlurmOptions, slurm_time

__all__ = ["SubmitError", "Submission", "plan", "script", "submit"]

DEFAULT_SIGNAL_S = 300.0  # orch is told to stop this long before the time limit


class SubmitError(Exception):
    """One paragraph for the user; nothing was submitted."""


@dataclass(frozen=True)
class Submission:
    """A settled request: what the script asks for and what it runs."""

    spec: SweepSpec
    options: SlurmOptions  # every default filled in
    orch_args: tuple[str, ...]  # orch sweep's arguments in the job, --address aside
    new: bool
    script_path: Path
    log_path: Path


def _mem_bytes(mem: str) -> int:
    """sbatch --mem's value in bytes: MB unless a K/M/G/T suffix says otherwise (binary units)."""
    unit = mem[-1].upper() if mem[-1].isalpha() else "M"
    return int(mem.rstrip("KMGTkmgt")) * 1024 ** "KMGT".index(unit) * 1024


def _trial_mem(widest: Resources, nodes: int) -> str | None:
    """sbatch --mem for what the widest trial reserves on a node (its workers spread over the
    nodes), in MiB; None when the sweep reserves no memory."""
    if not widest.memory:
        return None
    total = widest.memory * widest.workers / (nodes if widest.workers > 1 else 1)
    return f"{math.ceil(total / 2**20)}M"


def _settled(spec: SweepSpec, flags: SlurmOptions) -> SlurmOptions:
    """The flags over the file's ``slurm:``, the rest from what the widest trial reserves."""
    given = flags.over(spec.slurm or SlurmOptions())
    widest = spec.widest()  # the sweep's own resources when it lists no trials (an optuna search)
    per_node = widest if widest.workers == 1 else Resources(widest.cpu, 1.0 if widest.gpu else 0.0, widest.memory)
    nodes = given.nodes or 1
    time_s = given.time_s
    signal_s = given.signal_s or (min(DEFAULT_SIGNAL_S, time_s / 4) if time_s else None)
    return SlurmOptions(
        nodes=nodes,
        gpus_per_node=given.gpus_per_node if given.gpus_per_node is not None else
        math.ceil(widest.gpu / nodes if widest.workers > 1 else per_node.gpu),
        cpus_per_node=given.cpus_per_node or max(1, math.ceil(widest.total_cpu / nodes if widest.workers > 1
                                                               else per_node.total_cpu)),
        mem=given.mem or _trial_mem(widest, nodes), partition=given.partition, account=given.account, qos=given.qos, time_s=time_s,
        requeue=True if given.requeue is None else given.requeue, signal_s=signal_s, sbatch_args=given.sbatch_args)


def _check(spec: SweepSpec, o: SlurmOptions, uri: str) -> None:
    """What would fail only once the job runs, refused now."""
    widest = spec.widest()  # the sweep's own resources when it lists no trials (an optuna search)
    name = next((t.name for t in spec.trials if spec.resources_of(t) == widest), spec.name)
    per_worker_cpu, per_worker_gpu = (widest.cpu, 1.0 if widest.gpu else 0.0) if widest.workers > 1 else \
        (widest.total_cpu, widest.gpu)
    short = []
    if per_worker_cpu > o.cpus_per_node or widest.total_cpu > o.cpus_per_node * o.nodes:
        short.append(f"{widest.total_cpu:g} CPUs ({per_worker_cpu:g} on one node) against --cpus-per-node "
                     f"{o.cpus_per_node} x {o.nodes} node(s)")
    if per_worker_gpu > o.gpus_per_node or widest.gpu > o.gpus_per_node * o.nodes:
        short.append(f"{widest.gpu:g} GPUs against --gpus-per-node {o.gpus_per_node} x {o.nodes} node(s)")
    if short:
        raise SubmitError(f"trial {name} asks for {'; '.join(short)}: it could never start in this allocation. "
                          "Ask for more per node (--cpus-per-node, --gpus-per-node, or slurm: in the sweep file) "
                          "or lower resources: in the sweep file. Nothing was submitted.")
    if o.time_s and o.signal_s and o.signal_s >= o.time_s:
        raise SubmitError(f"--signal ({o.signal_s:g} s before the limit) must be shorter than --time "
                          f"({o.time_s:g} s). Nothing was submitted.")
    if o.nodes > 1 and uri.startswith("sqlite:"):
        raise SubmitError(f"a job of {o.nodes} nodes needs an MLflow server, not the SQLite file {uri[len('sqlite:///'):]}"
                          " (SQLite on a shared file system is not safe for concurrent writers): start `mlflow "
                          "server` on a machine every node reaches and pass --tracking-uri http://HOST:PORT. "
                          "Nothing was submitted.")


def plan(spec: SweepSpec, file: Path, flags: SlurmOptions, uri: str, profile: str | None,
         overrides: tuple[str, ...], new: bool, max_trials: int | None, root: Path | None = None) -> Submission:
    """The submission of ``spec`` (read from ``file``), checked; nothing is written yet."""
    if (flags.nodes is not None and flags.nodes < 1) or (flags.cpus_per_node is not None and flags.cpus_per_node < 1):
        raise SubmitError("--nodes and --cpus-per-node take a whole number >= 1. Nothing was submitted.")
    options = _settled(spec, flags)
    _check(spec, options, uri)
    args = ["sweep", str(file.resolve()), "--tracking-uri", uri]
    args += ["--profile", profile] if profile else []
    args += [a for o in overrides for a in ("--set", o)]
    args += ["--max-trials", str(max_trials)] if max_trials else []
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.name)
    stem = f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder = (root or Path.cwd()) / ".orch" / "slurm"
    return Submission(spec, options, tuple(args), new, folder / f"{stem}.sbatch", folder / f"{stem}.log")


def script(sub: Submission) -> str:
    """The sbatch script: the allocation in #SBATCH lines, then the job runner exec'd."""
    o = sub.options
    lines = ["#!/bin/bash", f"#SBATCH --job-name=orch-{sub.spec.name.replace(' ', '_')}", f"#SBATCH --nodes={o.nodes}",
             "#SBATCH --ntasks-per-node=1", f"#SBATCH --cpus-per-task={o.cpus_per_node}"]
    lines += [f"#SBATCH --gpus-per-node={o.gpus_per_node}"] if o.gpus_per_node else []
    lines += [f"#SBATCH --{k}={v}" for k, v in (("mem", o.mem), ("partition", o.partition), ("account", o.account),
                                                ("qos", o.qos)) if v]
    if o.time_s:
        lines += [f"#SBATCH --time={slurm_time(o.time_s)}", f"#SBATCH --signal=B:USR1@{int(o.signal_s or 0)}"]
    lines += ["#SBATCH --requeue" if o.requeue else "#SBATCH --no-requeue", "#SBATCH --open-mode=append",
              f"#SBATCH --output={sub.log_path}", f"#SBATCH --chdir={Path.cwd()}"]
    lines += [f"#SBATCH {a}" for a in o.sbatch_args]
    memory = _mem_bytes(o.mem) if o.mem else None
    runner = [sys.executable, "-m", "orchestrator.slurm.job", "--cpus", str(o.cpus_per_node),
              "--gpus", str(o.gpus_per_node), *(["--memory", str(memory)] if memory else []),
              *(["--requeue"] if o.requeue else []), *(["--new"] if sub.new else []), "--", *sub.orch_args]
    n = len(sub.spec.trials)
    lines += ["", f"# written by orch {__version__} for sweep {sub.spec.name} ({n} trial{'' if n == 1 else 's'})",
              "# Ray over the allocation, orch sweep --address against it, Ray stopped (orchestrator/slurm/job.py)",
              "exec " + shlex.join(runner), ""]
    return "\n".join(lines)


def _sbatch_error(text: str) -> str:
    said = [line.split("error:", 1)[-1].strip() for line in text.splitlines() if line.strip()]
    return "; ".join(said[:3]) or "no message"


def submit(sub: Submission) -> str:
    """Write the script and submit it; the job id. Refused without sbatch; nothing stays
    written when sbatch refuses."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise SubmitError("--slurm needs Slurm's sbatch on PATH, and there is none here: run orch on a login node "
                          "of the cluster (where `sbatch --version` answers), or use --dry-run to print the "
                          "script. Nothing was submitted.")
    sub.script_path.parent.mkdir(parents=True, exist_ok=True)
    sub.script_path.write_text(script(sub))
    try:
        out = subprocess.run([sbatch, "--parsable", str(sub.script_path)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        out = subprocess.CompletedProcess([], 1, "", "sbatch did not answer within 60 s (is slurmctld up?)")
    if out.returncode != 0:
        sub.script_path.unlink(missing_ok=True)
        said = out.stderr or out.stdout
        if any(m in said.lower() for m in ("configuration source", "fetch_config", "contact slurm controller",
                                           "unable to contact")):
            raise SubmitError(f"sbatch cannot reach a Slurm controller from here ({_sbatch_error(said)}): run orch "
                              "on a login node of the cluster, where `sinfo` answers, or set SLURM_CONF. Nothing "
                              "was submitted.")
        raise SubmitError(f"sbatch refused the job: {_sbatch_error(said)}. Check --partition, "
                          "--account and --qos (`sinfo` lists partitions, `sacctmgr show assoc user=$USER` your "
                          "accounts). Nothing was submitted.")
    return out.stdout.strip().split(";", 1)[0]
