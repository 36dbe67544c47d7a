"""The ``report(metrics, step)`` a trainer receives inside a trial, with the NaN guard,
``stop.max_epochs`` and ``stop.timeout``; and the thread pools of a worker sized to its trial.
Used by a one-worker trial (run.trainable) and by every rank of a data-parallel one
(run.distributed)."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from ray import tune

from orchestrator.protocol import Metrics, TrialStatus, decode, encode
from orchestrator.run.board import TrialProgress

__all__ = ["LOG_LIMIT", "Reporter", "threads_as_ray_sets", "data_bound", "data_bound_words"]

DATA_BOUND_SHARE = 0.25  # of step time spent waiting for the next batch ...
DATA_BOUND_STEPS = 200  # ... over at least this many steps: the loader cannot keep up


def data_bound(values: dict[str, float]) -> float | None:
    """The share of step time a report says the trainer waited for data, when it is data-bound
    (``time/data_wait`` over a quarter, over a few hundred steps); else None."""
    share, steps = values.get("time/data_wait", 0.0), values.get("time/steps", 0.0)
    return share if share > DATA_BOUND_SHARE and steps >= DATA_BOUND_STEPS else None


def data_bound_words(share: float, steps: float, workers) -> str:
    """``41% of the step time went to waiting for data (over 700 steps): ...`` with the remedy."""
    now = f" (now {workers})" if workers is not None else ""
    return (f"{share:.0%} of the step time went to waiting for data (over {steps:.0f} steps): the loader "
            f"does not keep up. Raise data.workers{now} towards the trial's CPU cores, or feed smaller or "
            "locally cached images; the GPU idles meanwhile")

LOG_LIMIT = 1_000_000  # characters of a trial's output kept for its log artifact


class _Stop(BaseException):
    """Unwinds the trainer from inside report(); a BaseException so a trainer's own
    ``except Exception`` cannot swallow it."""

    def __init__(self, status: TrialStatus, message: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message


class Reporter:
    """The ``report(metrics, step)`` a trainer receives, with its ``progress(i, n, **figures)``.

    On a data-parallel worker, ``send`` is rank 0's channel to the trial (a no-op on the other
    ranks) and ``agree`` makes the ranks' stop decision one (see run.distributed)."""

    def __init__(self, on_nan: str, max_epochs: int | None, timeout_s: float | None,
                 progress: TrialProgress | None = None, send=None, agree=None):
        self.progress = progress or TrialProgress(None, "")
        self.on_nan = on_nan
        self.max_epochs = max_epochs
        self.timeout_s = timeout_s
        self.send = send or tune.report
        self.agree = agree
        self.started = self.at = time.monotonic()  # at: the last report, for the stall watchdog
        self.step = 0
        self.last: dict[str, float] = {}  # the latest value of every metric reported
        self.told_data_bound = False  # said once in the trial's log

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.at = time.monotonic()
        values = {str(k): float(v) for k, v in metrics.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        bad = sorted((k for k, v in values.items() if not math.isfinite(v)),
                     key=lambda k: (not k.endswith("loss"), k))
        self.step = int(step)
        self.last.update(values)
        share = data_bound(values)
        if share is not None and not self.told_data_bound:
            self.told_data_bound = True
            print(f"data-bound: {data_bound_words(share, values['time/steps'], None)}", flush=True)
        self.send(encode(Metrics(self.step, values)))
        code = self._verdict(bad, step)
        if self.agree is not None:
            code = self.agree(code)
        if code == 3:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise _Stop(TrialStatus.DIVERGED, f"non-finite {shown or 'metric on another worker'} at step {step}")
        if code == 2:
            raise _Stop(TrialStatus.KILLED, f"exceeded stop.timeout={self.timeout_s:g}s")
        if code == 1:
            raise _Stop(TrialStatus.FINISHED, f"reached stop.max_epochs={self.max_epochs}")

    def _verdict(self, bad: list[str], step: int) -> int:
        """0 go on, 1 finished (max_epochs), 2 killed (timeout), 3 diverged: the larger wins."""
        if bad and self.on_nan == "stop":
            return 3
        if self.timeout_s and time.monotonic() - self.started > self.timeout_s:
            return 2
        if self.max_epochs and step >= self.max_epochs:
            return 1
        return 0

    def relay(self, result: dict[str, Any]) -> None:
        """A report rank 0 of a data-parallel trial sent: to Tune, as if made here."""
        event = decode(result)
        if isinstance(event, Metrics):
            self.step = event.step
            self.last.update(event.values)
        tune.report(result)


_threads_sized = False


def threads_as_ray_sets() -> None:
    """Size the thread pools of what this worker loaded already to the trial's CPUs. The embedded
    instance's workers import Tune, and so numpy, as they start (environment.worker_modules),
    before Ray sets OMP_NUM_THREADS for the trial they are given: numpy's BLAS then sized its
    pool to the whole machine, and a 1-CPU trial would run 2 or more BLAS threads. Once per
    worker: a reused actor keeps its CPUs."""
    global _threads_sized
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if _threads_sized or not threads.isdigit() or int(threads) < 1:
        return
    _threads_sized = True
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(threads))
