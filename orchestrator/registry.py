"""Trainer registry: the entry-point group ``orch.trainers``.

Contract: every entry point resolves to an :class:`orchestrator.trainer.Trainer`;
names are unique across installed packages; asking for an unknown name fails
with the list of registered ones. Loading a trainer imports only its config
module, never torch.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Mapping

from orchestrator.protocol import ENTRY_POINT_GROUP as GROUP
from orchestrator.trainer import MetricGroup, SynthDataset, Trainer

__all__ = ["RegistryError", "available", "get_trainer", "build_config", "metric_groups", "datasets"]


class RegistryError(Exception):
    pass


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, object]:
    found: dict[str, object] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found and found[ep.name].value != ep.value:  # type: ignore[attr-defined]
            raise RegistryError(
                f"trainer {ep.name!r} is registered twice in entry-point group {GROUP}: "
                f"{found[ep.name].value} and {ep.value}; uninstall one of the packages"  # type: ignore[attr-defined]
            )
        found[ep.name] = ep
    return found


def available() -> list[str]:
    return sorted(_entry_points())


@lru_cache(maxsize=None)
def get_trainer(name: str) -> Trainer:
    eps = _entry_points()
    if name not in eps:
        names = ", ".join(available()) or "none (is orch installed with pip install -e .?)"
        raise RegistryError(f"unknown trainer {name!r}; registered trainers: {names}")
    trainer = eps[name].load()  # type: ignore[attr-defined]
    if not isinstance(trainer, Trainer):
        raise RegistryError(
            f"entry point {name!r} ({eps[name].value}) is {type(trainer).__name__}, "  # type: ignore[attr-defined]
            "not an orchestrator.trainer.Trainer"
        )
    return trainer


def build_config(trainer: str, flat: Mapping[str, Any]) -> Any:
    """The typed config a trainer's ``train`` receives, from a trial's flat dotted config: the one
    place that does this, for the Ray worker, ``orch train`` and the contract test alike."""
    from orchestrator.sweepfile.schema import Schema

    return Schema(get_trainer(trainer).config).build(dict(flat))


def metric_groups(first: str | None = None) -> dict[str, MetricGroup]:
    """Every registered trainer's table groups by name (and alias); ``first``'s win a clash."""
    names = available()
    if first in names:
        names = [first, *(n for n in names if n != first)]
    found: dict[str, MetricGroup] = {}
    for name in names:
        for group in get_trainer(name).groups:
            for key in (group.name, *group.aliases):
                found.setdefault(key.lower(), group)
    return found


def datasets() -> dict[str, tuple[str, SynthDataset]]:
    """Synthetic data sets by name: (trainer that declares it, the data set)."""
    found: dict[str, tuple[str, SynthDataset]] = {}
    for name in available():
        for dataset in get_trainer(name).datasets:
            if dataset.name in found:
                raise RegistryError(f"synthetic data set {dataset.name!r} is declared by trainers "
                                    f"{found[dataset.name][0]!r} and {name!r}; rename one")
            found[dataset.name] = (name, dataset)
    return found
