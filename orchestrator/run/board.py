"""The progress channel between running trials and the live view.

A trial's ``report.progress(i, n, **figures)`` (see :class:`orchestrator.trainer.Report`) is
throttled in the worker to one position a second, sent fire-and-forget to a board (a Ray actor
that takes no CPU and keeps only each trial's latest position) and taken by the driver a few times
a second without ever waiting on it. Nothing of it goes to Tune's results (schedulers and
searchers never see it) or to the store.
"""

from __future__ import annotations

import math
import time
from typing import Any

import ray

from orchestrator.trainer import PROGRESS_FIGURES

__all__ = ["PROGRESS_EVERY_S", "Position", "TrialProgress", "BoardReader", "start_board"]

PROGRESS_EVERY_S = 1.0  # a worker sends at most one position this often
_POLL_EVERY_S = 0.5  # the driver asks the board this often


class _Board:
    def __init__(self) -> None:
        self.latest: dict[str, tuple] = {}

    def put(self, trial_id: str, position: tuple) -> None:
        self.latest[trial_id] = position

    def take(self) -> dict[str, tuple]:
        out, self.latest = self.latest, {}
        return out


def start_board():
    """The board actor of this sweep (gone with the driver's Ray session); None when Ray cannot
    start one: the live view then shows no positions, and nothing else changes."""
    try:
        return ray.remote(num_cpus=0, max_concurrency=1)(_Board).remote()
    except Exception:  # noqa: BLE001 - progress is a nicety; a sweep never fails for it
        return None


def _number(value: Any) -> float | None:
    try:
        out = float(value)  # a 0-d tensor is read here, once a second at most
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


class TrialProgress:
    """The worker's side: ``__call__`` is the report's ``progress``."""

    def __init__(self, board, trial_id: str, every_s: float = PROGRESS_EVERY_S):
        self.board, self.trial_id, self.every_s = board, trial_id, every_s
        self.due = 0.0
        self.sent = 0
        self.at = time.monotonic()  # the last call: a sign of life for the stall watchdog

    def __call__(self, i: int, n: int, **figures: Any) -> None:
        now = self.at = time.monotonic()
        if now < self.due or self.board is None:
            return
        self.due = now + self.every_s
        values = {k: _number(figures[k]) for k in PROGRESS_FIGURES if k in figures}
        self.board.put.remote(self.trial_id, (int(i), int(n), {k: v for k, v in values.items() if v is not None}))
        self.sent += 1


class Position:
    """A trial's latest position and what the live view shows of it."""

    def __init__(self, i: int, n: int, figures: dict[str, float]):
        self.i, self.n, self.figures = i, n, figures

    @property
    def fraction(self) -> float | None:
        """How much of the whole run is done: epochs and the batch inside the current one; the
        position alone when there are no epochs (iterations); None for an epoch of unknown many."""
        epoch, epochs = self.figures.get("epoch"), self.figures.get("epochs")
        inside = self.i / self.n if self.n else 0.0
        if epoch is not None and not epochs:
            return None
        if epoch and epochs:
            return min(1.0, (epoch - 1 + inside) / epochs)
        return min(1.0, inside)

    def text(self) -> str:
        f = self.figures
        parts = []
        if f.get("epoch") is not None:
            parts.append(f"epoch {f['epoch']:.0f}" + (f"/{f['epochs']:.0f}" if f.get("epochs") else ""))
        parts.append(f"{self.i}/{self.n}")
        if f.get("images_per_s") is not None:
            parts.append(f"{f['images_per_s']:.1f} img/s")
        if f.get("loss") is not None:
            parts.append(f"loss {f['loss']:.4g}")
        return "  ".join(parts)


class BoardReader:
    """The driver's side: ``poll()`` returns new positions by trial id without blocking."""

    def __init__(self, board):
        self.board = board
        self.pending = None
        self.due = 0.0

    def poll(self) -> dict[str, Position]:
        now = time.monotonic()
        if self.board is None or now < self.due:
            return {}
        self.due = now + _POLL_EVERY_S
        out: dict[str, Position] = {}
        if self.pending is not None:
            ready, _ = ray.wait([self.pending], timeout=0)
            if not ready:
                return {}
            try:
                out = {k: Position(*v) for k, v in ray.get(self.pending).items()}
            except ray.exceptions.RayError:  # the board went away (node lost): no more positions
                self.board = None
                return {}
        self.pending = self.board.take.remote()
        return out
