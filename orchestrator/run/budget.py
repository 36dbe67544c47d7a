"""``budget: {trials, wall, gpu_hours}``: once one is spent no new trial starts; the running ones
finish. Spent amounts add up over every launch of the sweep (the parent run records them as
``sweep/budget_*``), so a resume continues the same budget.

Tune asks its search algorithm for every trial it starts, so the gate is a Searcher: it wraps the
sweep's searcher (a search) or hands out the grid's trials in order (a grid), and says FINISHED
when a budget is spent.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ray.tune.search import Searcher

from orchestrator.protocol import Compute
from orchestrator.sweepfile.model import Budget

__all__ = ["BudgetGate", "GridQueue", "Budgeted", "SPENT_KEYS"]

SPENT_KEYS = ("budget_trials", "budget_wall_s", "budget_gpu_hours")  # parent metrics, under sweep/


class BudgetGate:
    def __init__(self, budget: Budget, done_before: int, wall_before: float,
                 gpu_hours: Callable[[], float], clock=time.monotonic):
        self.budget = budget
        self.done_before = done_before
        self.wall_before = wall_before
        self.gpu_hours = gpu_hours  # what every trial of the sweep used so far, running ones included
        self._clock = clock
        self._t0 = clock()
        self.started = 0
        self.spent_on: str | None = None  # the budget that stopped new trials

    def spent(self) -> dict[str, float]:
        return {"budget_trials": self.done_before + self.started,
                "budget_wall_s": self.wall_before + (self._clock() - self._t0),
                "budget_gpu_hours": self.gpu_hours()}

    def over(self) -> str | None:
        b, s = self.budget, self.spent()
        for name, limit, used in (("trials", b.trials, s["budget_trials"]), ("wall", b.wall_s, s["budget_wall_s"]),
                                  ("gpu_hours", b.gpu_hours, s["budget_gpu_hours"])):
            if limit is not None and used >= limit:
                self.spent_on = self.spent_on or name
                return name
        return None

    def describe(self) -> str:
        s = self.spent()
        b = self.budget
        parts = []
        if b.trials:
            parts.append(f"{s['budget_trials']} of {b.trials} trials")
        if b.wall_s:
            parts.append(f"{s['budget_wall_s'] / 3600:.2f} of {b.wall_s / 3600:g} h wall")
        if b.gpu_hours:
            parts.append(f"{s['budget_gpu_hours']:.2f} of {b.gpu_hours:g} GPU-h")
        return ", ".join(parts)


class GridQueue(Searcher):
    """The grid's trials to run, in order, as a searcher (Tune's grid_search cannot be stopped
    from starting the next one)."""

    def __init__(self, todo: list[int]):
        super().__init__()
        self._todo = list(todo)

    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | None:
        return {"index": self._todo.pop(0)} if self._todo else Searcher.FINISHED

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        raise NotImplementedError  # orch resumes from the store


class Budgeted(Searcher):
    """A searcher that suggests nothing more once the gate's budget is spent."""

    def __init__(self, inner: Searcher, gate: BudgetGate):
        self.inner, self.gate = inner, gate
        super().__init__(metric=inner.metric, mode=inner.mode)

    def __getstate__(self) -> dict:
        # the Tuner pickles its settings for a restore orch never asks for (it resumes from the
        # store); the gate holds the tracker, which cannot be pickled
        return {}

    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.inner.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | None:
        if self.gate.over():
            return Searcher.FINISHED
        suggestion = self.inner.suggest(trial_id)
        if suggestion not in (None, Searcher.FINISHED):
            self.gate.started += 1
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.inner.on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        raise NotImplementedError


def gpu_hours_so_far(tracker, usage) -> Callable[[], float]:
    """The sweep's GPU-hours: its trials' recorded totals and what the running ones have used."""
    def total() -> float:
        return tracker.compute_totals().get(Compute.GPU_HOURS, 0.0) + usage.running_gpu_hours()
    return total
