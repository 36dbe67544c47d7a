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
    from_set: set[str] = field(default_factory=set)  # sweep-level keys a --set gave (no line of their own)

    def add(self, file: str, line: int | None, key: str, message: str, hint: str = "") -> None:
        if line is None and key in self.from_set:
            file, message = "--set", f"{message.rstrip(' ;')} (given with --set);"
        problem = Problem(str(file), line, key, message, hint or default_hint(key))
        if problem not in self.items:
            self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


_SECTION_HINTS = {
    "name": "a short name without spaces, e.g. `name: msssm_temper`.",
    "trainer": "`orch trainers` lists the registered trainers.",
    "base": "a config file path (relative to this file), a mapping, or a list of both.",
    "params": "a mapping of parameter: value; `orch trainers TRAINER` lists the parameters.",
    "grid": "each axis is a list of values, e.g. `grid: {loss.t: [7, 15, 30]}`; see docs/sweeps.md.",
    "zip": "lists of equal length that vary together, e.g. `zip: {lr: [0.1, 0.01], batch: [32, 64]}`.",
    "variants": "a mapping of variant name to its parameter values; see docs/sweeps.md.",
    "seeds": "`seeds: 3` (0, 1, 2) or `seeds: [0, 7, 42]`.",
    "exclude": "a list of {axis: value} mappings, each matching at least one trial.",
    "abbrev": "a mapping of axis to a short prefix, e.g. `abbrev: {loss.t: t}`.",
    "resources": "e.g. `resources: {cpu: 2, gpu: 1, memory: 16G, max_concurrent: 4}`.",
    "metric": "`metric: val/Mean` or `metric: {name: val/Mean, mode: max}`.",
    "stop": "e.g. `stop: {max_epochs: 10, on_nan: stop, timeout: 2h}`.",
    "retries": "a whole number of extra attempts, e.g. `retries: 1`.",
    "on_oom": "`on_oom: halve_batch` or `on_oom: fail`.",
    "scheduler": "e.g. `scheduler: {name: asha, max_t: 10, grace_period: 1}`; see docs/running.md.",
    "tracking": "`tracking: {experiment: NAME}`.",
    "profiles": "a mapping of profile name to the keys it overrides, e.g. `profiles: {smoke: {params: ...}}`.",
    "secrets": "a list of config keys whose values are never written, e.g. `secrets: [db_pass]`.",
    "max_trials": "a whole number, e.g. `max_trials: 50000`.",
    "budget": "e.g. `budget: {trials: 40, wall: 6h, gpu_hours: 100}`: no new trial starts once one is spent.",
    "search": "e.g. `search: {method: optuna, num_samples: 20, space: {loss.t: {loguniform: [5, 80]}}}`; "
              "see docs/sweeps.md, Search.",
    "slurm": "e.g. `slurm: {nodes: 1, gpus_per_node: 4, cpus_per_node: 32, time: 24h, partition: gpu}`; "
             "see docs/running.md, On Slurm.",
    "trials": "see docs/sweeps.md for how axes combine.",
    "extends": "a config file may extend another, but not in a cycle.",
}


def default_hint(key: str) -> str:
    """What to do, for a problem reported without its own suggestion."""
    section = key.split(".", 1)[0].split("[", 1)[0]
    if section in _SECTION_HINTS:
        return _SECTION_HINTS[section]
    if key:
        return "`orch trainers TRAINER` shows every parameter with its type, default and bounds."
    return "see docs/sweeps.md for the sweep file format."


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
