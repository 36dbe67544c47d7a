"""Ctrl-C and SIGTERM during a sweep: the first stops launching and stops the running trials,
the second forces the exit at once. Either way the driver then records what was running as
``killed`` and stops every trial process (:mod:`orchestrator.util.processes`). No ray import here:
the environment Ray reads at import is set after this module is loaded."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Callable

__all__ = ["Interrupts", "active"]

_active: "Interrupts | None" = None  # the handlers installed now, if any
ECHO_S = 2.0  # a SIGTERM this soon after the first is the same request: a batch system (Slurm) sends
# it to every process of the job, the job's runner passes its own on too


def active() -> "Interrupts | None":
    return _active


class Interrupts:
    """Installs SIGINT/SIGTERM handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self, on_first: Callable[[str], None] = lambda name: None):
        self.signal_name = ""
        self.count = 0
        self.cleaning = False  # set while the driver cleans up: further signals only hurry it
        self._on_first = on_first
        self._previous: dict[int, Any] = {}
        self._first_at = 0.0
        self._on_term: list[Callable[[], None]] = []
        self.halted = ""  # why the sweep stops itself (a full disk): launch no more, stop what runs

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def arrived(self, name: str) -> bool:
        """Count a signal; True for the first one (and for a SIGTERM echoing a first SIGTERM)."""
        if self.count == 1 and name == self.signal_name == "SIGTERM" and time.monotonic() - self._first_at < ECHO_S:
            return True
        self.count += 1
        if self.count == 1:
            self.signal_name = name
            self._first_at = time.monotonic()
            self._on_first(name)
            if name == "SIGTERM":
                for hook in self._on_term:  # off the signal handler: they write to the store
                    threading.Thread(target=hook, name="orch-on-sigterm", daemon=True).start()
        return self.count == 1

    def on_sigterm(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` at once, on a thread, when a first SIGTERM comes: a batch system or a
        container runtime signals every process of the job alike, Ray's included, so what must
        be recorded cannot wait for Ray to stop the trials."""
        self._on_term.append(hook)

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.arrived(signal.Signals(signum).name) and not self.cleaning:
            raise KeyboardInterrupt  # the second one: out now, the finally blocks still clean up

    @property
    def forced(self) -> bool:
        return self.count > 1

    def install(self) -> None:
        """(Re)install the handlers: ray.init puts its own on SIGTERM, so this runs again after it."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)

    def __enter__(self) -> "Interrupts":
        global _active
        _active = self
        self.install()
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        _active = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
