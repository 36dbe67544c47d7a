"""What a finished sweep looks like when read back: plain frozen records, no MLflow types.

The tracking reader produces them; tables, plots and diffs consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from orchestrator.protocol import TrialStatus

__all__ = ["TrialResult", "SweepRecord", "History", "RunSnapshot"]

History = tuple  # tuple[tuple[int, float], ...]: (step, value) sorted by step, one value per step


@dataclass(frozen=True)
class TrialResult:
    run_id: str
    name: str
    setting: str  # trial name without the seed part
    key: str
    seed: int
    status: TrialStatus
    axes: Mapping[str, Any]
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # latest
    history: Mapping[str, History] = field(default_factory=lambda: MappingProxyType({}))
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    message: str = ""


@dataclass(frozen=True)
class SweepRecord:
    name: str
    run_id: str
    experiment_id: str
    status: str  # the parent run's MLflow status
    start_time: int
    trainer: str
    metric: str
    mode: str
    axes: tuple[str, ...]
    planned: int  # trials in the sweep file when it last ran
    trials: tuple[TrialResult, ...] = ()
    artifact_uri: str = ""
    abbrev: Mapping[str, str] = field(default_factory=dict)  # axis -> short name, from `abbrev:`
    tags: Mapping[str, str] = field(default_factory=dict)  # the parent run's
    metrics: Mapping[str, float] = field(default_factory=dict)  # the parent run's (sweep/, compute/ totals)
    plan: tuple[Mapping[str, Any], ...] = ()  # the sweep file's trials when it last ran: name, key, seed, axes
    objectives: tuple[tuple[str, str], ...] = ()  # (metric, mode) each; one unless multi-objective

    @property
    def search(self) -> Mapping[str, Any] | None:
        """The sweep's `search:` as recorded (method, sampler, num_samples, seed, space), if any."""
        import json

        from orchestrator.protocol import Tag

        text = self.tags.get(Tag.SEARCH)
        return json.loads(text) if text else None


@dataclass(frozen=True)
class RunSnapshot:
    """One run with what ``orch diff`` compares."""

    run_id: str
    name: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    environment: str = ""  # environment.txt
    patch: str = ""  # git_diff.patch: uncommitted changes when it ran
    extra: Mapping[str, str] = field(default_factory=dict)
