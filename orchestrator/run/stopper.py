"""The Tune stopper that ends the experiment once Ctrl-C or SIGTERM arrived."""

from __future__ import annotations

from ray import tune

from orchestrator.run import interrupt

__all__ = ["StopOnInterrupt"]


class StopOnInterrupt(tune.Stopper):
    """Tells Tune to stop the whole experiment once an interrupt arrived or the sweep halted (a full disk). Stateless (it asks
    :func:`orchestrator.run.interrupt.active`), so Tune may copy or pickle it."""

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        current = interrupt.active()
        return current is not None and (current.interrupted or bool(current.halted))
