"""A trainer with string parameters, registered only inside tests (placeholders need strings)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from orchestrator import registry
from orchestrator.trainer import Trainer


@dataclass
class StrConfig:
    t: float = 10.0
    rs: list[int] = field(default_factory=lambda: [8, 4, 2, 1])
    out: str = ""
    tag: str = ""


@contextmanager
def registered():
    """Register `_strtest` for the duration of a test, then remove it again."""
    eps = registry._entry_points()

    class _EP:
        value = "tests.orchestrator.sweepfile.strtrainer:TRAINER"

        def load(self):
            return TRAINER

    eps["_strtest"] = _EP()
    try:
        yield
    finally:
        eps.pop("_strtest", None)
        registry.get_trainer.cache_clear()


TRAINER = Trainer(config=StrConfig, train="tests.orchestrator.sweepfile.strtrainer:train")
