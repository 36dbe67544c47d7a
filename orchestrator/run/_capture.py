"""What a trial prints, kept for its log artifact while it still reaches the console. No ray
here (the tests import it alone)."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["Log", "Tee"]


class Log:
    """The tail of what a trial printed, both streams in the order they were written; lines
    written to stderr are marked ``[stderr]``."""

    def __init__(self, limit: int = 1_000_000):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)[-self.limit:]
            self.parts, self.size = [joined], len(joined)

    def text(self) -> str:
        return "".join(self.parts)[-self.limit:]


class Tee(io.TextIOBase):
    """Still prints what the trial prints, and adds it to the trial's log."""

    def __init__(self, stream: Any, log: Log, mark: str = ""):
        self.stream, self.log, self.mark = stream, log, mark
        self.at_line_start = True

    def write(self, text: str) -> int:
        if self.mark and text:
            lines = text.splitlines(keepends=True)
            marked = [(self.mark if (i or self.at_line_start) else "") + line for i, line in enumerate(lines)]
            self.at_line_start = text.endswith("\n")
            self.log.add("".join(marked))
        else:
            self.log.add(text)
        try:
            self.stream.write(text)
        except Exception:  # noqa: BLE001 - a closed console must not fail the trial
            pass
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except Exception:  # noqa: BLE001
            pass
