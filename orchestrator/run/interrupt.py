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

    def arrived(self, name: str) -> bool:
        """Count a signal; True for the first one."""
        self.count += 1
        if self.count == 1:
            self.signal_name = name
            self._on_first(name)
        return self.count == 1

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
