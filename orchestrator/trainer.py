"""The trainer contract, importable with nothing but the standard library.

A trainer is a function ``train(config, report) -> dict[str, float]`` plus a
``Config`` dataclass that is its schema. A package registers one by pointing the
entry-point group ``orch.trainers`` at a :class:`Trainer` object::

    [project.entry-points."orch.trainers"]
    toy = "trainers.toy:TRAINER"

``Trainer.train`` is a ``"module:function"`` string so that listing and validating
trainers never imports torch; the function is imported only when a trial runs.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

__all__ = ["Report", "Trainer", "param"]


class Report(Protocol):
    def __call__(self, metrics: dict[str, float], step: int) -> None: ...


TrainFn = Callable[[Any, Report], "dict[str, float]"]


@dataclass(frozen=True)
class Trainer:
    """What a trainer package exposes to the registry."""

    config: type  # the schema: a dataclass, nested dataclasses for groups
    train: str  # "module:function", imported lazily
    metric: str = ""  # default sweep metric, e.g. "val/Mean"
    mode: str = "max"  # "max" or "min"
    description: str = ""
    placeholders: tuple[str, ...] = ()  # names filled in at run time, e.g. "gpus"
    # overrides that make a run take seconds on a CPU: the contract test trains with them
    smoke: Mapping[str, Any] = field(default_factory=dict)
    # "module:function" taking a trial's flat config and returning [(key, problem)]: checks the
    # schema cannot express, run by validation before anything launches; must not import torch
    check: str = ""

    def load_train(self) -> TrainFn:
        return _load(self.train)

    def load_check(self) -> Callable[[dict[str, Any]], list[tuple[str, str]]] | None:
        return _load(self.check) if self.check else None


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",  # noqa: A002 - mirrors argparse/typer naming
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with help text and bounds that validation and ``orch trainers`` read."""
    metadata = {"help": help, "ge": ge, "gt": gt, "le": le, "choices": choices}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata)
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)
