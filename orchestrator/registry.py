"""Trainer registry: the entry-point group ``orch.trainers``.

Contract: every entry point resolves to an :class:`orchestrator.trainer.Trainer`;
names are unique across installed packages; asking for an unknown name fails
with the list of registered ones. Loading a trainer imports only its config
module, never torch.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from orchestrator.trainer import Trainer

__all__ = ["RegistryError", "available", "get_trainer"]

GROUP = "orch.trainers"


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
