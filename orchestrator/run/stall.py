"""``stop.stall`` for a trial of one worker: a trainer that neither reports nor sends a progress
position for that long (a data loader that deadlocked, a script waiting on input) is stopped.
The scripts the trial started (the ``command`` trainer's process groups) are killed, and the
trial's thread gets :class:`Stalled` raised into it, so the trial
ends as ``killed`` with ``no report or progress for 30m (stalled)`` unless ``retries`` run it again.
(A data-parallel trial has its own watchdog over its workers: run.distributed.)"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from orchestrator.util.processes import ENV_DIR
__all__ = ["StallWatch", "Stalled"]


class Stalled(Exception):
    """No report and no progress for ``stop.stall``: the trial's workers were stopped."""


def _duration(seconds: float | None) -> str:
    s = float(seconds or 0)
    if s >= 3600 and s % 3600 == 0:
        return f"{s / 3600:g}h"
    if s >= 60 and s % 60 == 0:
        return f"{s / 60:g}m"
    return f"{s:g}s"


def _own_groups() -> list[int]:
    """The process groups this process started and registered (its trial's scripts)."""
    folder, me, out = os.environ.get(ENV_DIR), os.getpid(), []
    for entry in Path(folder).glob("[0-9]*") if folder and os.path.isdir(folder) else ():
        try:
            ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            out.append(int(entry.name))
    return out


class StallWatch:
    """Watches one attempt: ``activity()`` is when the trainer last reported or sent progress."""

    def __init__(self, stall_s: float | None, activity):
        self.stall_s = stall_s
        self.activity = activity
        self.fired = False

    @property
    def message(self) -> str:
        return f"no report or progress for {_duration(self.stall_s or 0)} (stalled)"

    def error(self) -> BaseException:
        return Stalled(self.message)

    @contextmanager
    def watching(self):
        if not self.stall_s:
            yield self
            return
        target, done = threading.get_ident(), threading.Event()
        thread = threading.Thread(target=self._watch, args=(target, done), name="orch-stall-watch", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join()

    def _watch(self, target: int, done: threading.Event) -> None:
        message = self.message
        stalled = type("Stalled", (Stalled,), {"__init__": lambda exc: Stalled.__init__(exc, message)})
        while not done.wait(min(5.0, max(0.2, self.stall_s / 10))):
            if time.monotonic() - self.activity() <= self.stall_s:
                continue
            self.fired = True
            print(f"stalled: {message}; stopping the trial", file=sys.__stderr__, flush=True)
            for pgid in _own_groups():  # a script waiting for ever: its group goes, the trainer returns
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
            # raised in the trial's thread at its next Python instruction (a sleep or a read returns first)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(stalled))
            return
