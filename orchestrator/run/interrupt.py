"""Ctrl-C and SIGTERM during a sweep: the first stops launching and stops the running trials,
the second forces the exit at once. Either way the driver then records what was running as
``killed`` and stops every trial process (:mod:`orchestrator.processes`). No ray import here:
the environment Ray reads at import is set after this module is loaded."""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

__all__ = ["Interrupts", "active"]

_active: "Interrupts | None" = None  # the handlers installed now, if any


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

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            self.signal_name = signal.Signals(signum).name
            self._on_first(self.signal_name)
            return
        if not self.cleaning:
            raise KeyboardInterrupt  # the second one: out now, the finally blocks still clean up

    @property
    def forced(self) -> bool:
        return self.count > 1

    def __enter__(self) -> "Interrupts":
        """Install the handlers (after ray.init, which installs its own for SIGTERM)."""
        global _active
        _active = self
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        _active = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
