"""A sweep on a Slurm allocation: ``orch sweep FILE --slurm`` writes and submits the sbatch script
(:mod:`orchestrator.slurm.submit`); inside the job, :mod:`orchestrator.slurm.job` starts Ray over
the nodes and runs the sweep against it. Preemption and time limits end in a requeue whose start
resumes the sweep (docs/running.md, "On Slurm")."""

from __future__ import annotations

from pathlib import Path

from orchestrator.slurm.submit import SubmitError, Submission, plan, script, submit
from orchestrator.sweepfile.slurm import MEM, SlurmOptions, slurm_seconds

__all__ = ["SubmitError", "Submission", "flag_options", "plan", "script", "submit", "submitted_lines"]


def flag_options(nodes: int | None, gpus_per_node: int | None, cpus_per_node: int | None, mem: str | None,
                 partition: str | None, account: str | None, qos: str | None, time: str | None,
                 requeue: bool | None, signal: str | None, sbatch_args: list[str] | None) -> SlurmOptions:
    """The command line's Slurm flags, checked (SubmitError: one paragraph)."""
    for flag, value, least in (("--nodes", nodes, 1), ("--gpus-per-node", gpus_per_node, 0),
                               ("--cpus-per-node", cpus_per_node, 1)):
        if value is not None and value < least:
            raise SubmitError(f"{flag} takes a whole number >= {least}, got {value}. Nothing was submitted.")
    seconds = {}
    for flag, value in (("--time", time), ("--signal", signal)):
        if value is not None:
            seconds[flag] = slurm_seconds(value)
            if seconds[flag] is None:
                raise SubmitError(f"{flag} {value!r} is not a time: write e.g. 6h, 90m, 1:30:00 or 2-00:00:00 "
                                  "(days-hours:minutes:seconds). Nothing was submitted.")
    if mem is not None and not MEM.match(mem):
        raise SubmitError(f"--mem {mem!r} is not sbatch's --mem: write e.g. 64G, 512M or 80000 (MB), per node. "
                          "Nothing was submitted.")
    bad = [a for a in sbatch_args or () if not a.startswith("-")]
    if bad:
        raise SubmitError(f"--sbatch-arg takes sbatch options such as --constraint=a100, got {bad[0]!r}. "
                          "Nothing was submitted.")
    return SlurmOptions(nodes, gpus_per_node, cpus_per_node, mem, partition, account, qos, seconds.get("--time"),
                        requeue, seconds.get("--signal"), tuple(sbatch_args or ()))


def submitted_lines(sub: Submission, job_id: str) -> list[str]:
    """What ``orch sweep --slurm`` prints once sbatch took the job."""
    o = sub.options
    gpus = f", {o.gpus_per_node} GPU(s)" if o.gpus_per_node else ""
    name = sub.spec.name if " " not in sub.spec.name else repr(sub.spec.name)
    return [f"submitted sweep {sub.spec.name} as Slurm job {job_id}: {o.nodes} node(s) of {o.cpus_per_node} CPU(s){gpus}"
            f"{', requeued on preemption and at the time limit' if o.requeue else ''}",
            f"script: {_shown(sub.script_path)}", f"log:    {_shown(sub.log_path)}",
            f"follow: squeue -j {job_id} · tail -f {_shown(sub.log_path)} · orch status {name}"]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
