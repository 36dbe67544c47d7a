"""Problems found in a sweep file, collected so that all of them are reported at once."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a sweep, pinned to the file and line that caused it."""

    file: str
    line: int | None
    key: str
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text.rstrip(' ;')}; {self.hint}" if self.hint else text


class SpecError(Exception):
    """A sweep file cannot be run; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


@dataclass
class Problems:
    """Accumulator: checks keep going after the first problem so the user fixes all in one pass."""

    items: list[Problem] = field(default_factory=list)

    def add(self, file: str, line: int | None, key: str, message: str, hint: str = "") -> None:
        problem = Problem(str(file), line, key, message, hint)
        if problem not in self.items:
            self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A 'did you mean X?' hint, case-insensitive, or a short list of what exists."""
    candidates = sorted(set(candidates))
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return f"did you mean {lowered[name.lower()]}?"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return f"did you mean {lowered[close[0]]}?"
    if len(candidates) <= 12:
        return "valid keys: " + ", ".join(candidates) + "."
    return ""
