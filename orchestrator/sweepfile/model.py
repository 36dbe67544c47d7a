"""Frozen results of reading a sweep file: what the runner, tracker and tables consume."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["Resources", "Scheduler", "StopRule", "SweepSpec", "TrialSpec", "nest"]


@dataclass(frozen=True)
class Resources:
    """Per-trial resources, the ``ylaunch --gpu=4 --memory=80000 --cpu=8`` of a sweep."""

    cpu: float = 1.0  # per worker when the trial has several (``workers``)
    gpu: float = 0.0  # the trial's GPUs in all, one per worker; fractions share a GPU between trials
    memory: int | None = None  # bytes, per worker when the trial has several
    custom: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    workers: int = 1  # data-parallel workers of one trial (Ray Train), each with cpu/memory and 1 GPU if any

    @property
    def total_cpu(self) -> float:
        return self.cpu * self.workers

    def to_dict(self) -> dict[str, Any]:
        out = {"cpu": self.cpu, "gpu": self.gpu, "memory": self.memory, "custom": dict(self.custom)}
        return {**out, "workers": self.workers} if self.workers > 1 else out


@dataclass(frozen=True)
class Budget:
    """``budget:``: no new trial starts once one of these is spent (across resumes)."""

    trials: int | None = None  # trials run, done ones included
    wall_s: float | None = None  # the sweep's wall time, every launch added up
    gpu_hours: float | None = None  # its trials' reserved GPUs x wall time

    def describe(self) -> str:
        parts = ([f"{self.trials} trials"] if self.trials else []) + \
                ([f"{self.wall_s / 3600:g} h wall"] if self.wall_s else []) + \
                ([f"{self.gpu_hours:g} GPU-h"] if self.gpu_hours else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class StopRule:
    max_epochs: int | None = None  # stop a trial after this many reported steps
    on_nan: str = "stop"  # "stop": a non-finite metric ends the trial as diverged; "continue"
    timeout_s: float | None = None  # per-trial wall clock limit
    stall_s: float | None = None  # end a trial that neither reports nor sends progress for this long
    stall_set: bool = False  # the file said stop.stall (else its default: on only for several workers)


@dataclass(frozen=True)
class Scheduler:
    name: str = "none"  # none | asha | median
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class TrialSpec:
    """One fully resolved trial. ``config`` uses dotted keys; ``axes`` only the varied ones."""

    name: str
    setting: str  # name without the seed part: trials differing only by seed share it
    key: str  # stable identity: hash of trainer, resolved config, seed and budget
    trainer: str
    seed: int
    axes: Mapping[str, Any]
    config: Mapping[str, Any]
    resources: "Resources | None" = None  # its own, when a grid axis varies them (resources.gpu)

    def nested_config(self) -> dict[str, Any]:
        return nest(self.config)

    def to_dict(self, resources: Resources) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "trainer": self.trainer,
            "seed": self.seed,
            "axes": dict(self.axes),
            "config": self.nested_config(),
            "resources": (self.resources or resources).to_dict(),
        }


@dataclass(frozen=True)
class SweepSpec:
    name: str
    path: str
    trainer: str
    description: str
    metric: str
    mode: str  # "max" | "min"
    axes: tuple[str, ...]  # varied axis names in declaration order ("variant" included)
    seeds: tuple[int, ...]
    trials: tuple[TrialSpec, ...]
    resources: Resources
    max_concurrent: int | None
    stop: StopRule
    retries: int
    on_oom: str  # "fail" | "halve_batch"
    scheduler: Scheduler
    experiment: str  # MLflow experiment name
    source: str  # the sweep file's text, logged with the parent run
    profile: str | None = None
    overrides: tuple[str, ...] = ()  # the --set arguments, as given
    secrets: tuple[str, ...] = ()  # config keys never written in clear (orchestrator.util.secrets)
    abbrev: Mapping[str, str] = field(default_factory=dict)  # axis -> the short name `abbrev:` gave it
    search: Any = None  # a sweepfile.search.SearchSpec, when the file has `search:`
    objectives: tuple[tuple[str, str], ...] = ()  # (metric, mode) each; several: a multi-objective sweep
    budget: Budget | None = None
    slurm: Any = None  # a sweepfile.slurm.SlurmOptions, when the file has `slurm:`

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    def resources_of(self, trial: TrialSpec) -> Resources:
        """The trial's own resources where an axis varies them, else the sweep's."""
        return trial.resources or self.resources

    @property
    def varied_resources(self) -> bool:
        return any(t.resources is not None for t in self.trials)

    def widest(self) -> Resources:
        """The trial that needs the most (workers first, then GPUs): what has to fit the cluster."""
        return max((self.resources_of(t) for t in self.trials), default=self.resources,
                   key=lambda r: (r.workers, r.gpu, r.total_cpu))

    def dist_params(self, trial: TrialSpec) -> dict[str, float]:
        """What a data-parallel trial records beside its config: the world size and the global
        batch (``train.batch_size`` is per worker), and with ``optim.lr_scale`` the lr that ran
        (``dist.lr``); nothing for a one-worker trial, unless its sweep varies the worker count
        (then its world size of 1 is recorded too, for the table to compare)."""
        n = self.resources_of(trial).workers
        if n <= 1 and not (self.varied_resources and self.widest().workers > 1):
            return {}
        batch = next((v for k, v in trial.config.items() if k.rsplit(".", 1)[-1] == "batch_size"), None)
        out = {"dist.world_size": n, **({"dist.global_batch": int(batch) * n} if batch is not None else {})}
        how, lr = trial.config.get("optim.lr_scale", "none"), trial.config.get("optim.lr")
        if how != "none" and isinstance(lr, (int, float)):  # the lr that ran (trainers._dist.scale_lr)
            out["dist.lr"] = float(lr) * (n if how == "linear" else math.sqrt(n))
        return out

    def to_dicts(self) -> list[dict[str, Any]]:
        return [t.to_dict(self.resources) for t in self.trials]

    def to_public_dicts(self) -> list[dict[str, Any]]:
        """:meth:`to_dicts` with secret values as ``***``: what may be written down."""
        from orchestrator.util.secrets import mask_config

        out = []
        for t in self.trials:
            item = t.to_dict(self.resources)
            item["config"] = nest(mask_config(t.config, self.secrets))
            out.append(item)
        return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"loss.t": 1}`` -> ``{"loss": {"t": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
