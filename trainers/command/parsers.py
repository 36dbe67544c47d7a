"""Turn what a training script prints into metrics: pure functions over lines of text.

Parsers (``metrics:`` in a command sweep, a list of mappings with a ``type``):

- ``markdown``: a header row ``| Arch | Head | ... | Mean |`` then value rows; one metric per
  numeric column, named ``prefix + header`` (prefix ``val/`` by default).
- ``latex``: ``& Head & Shou & ... & Total\\`` then ``& 97.1 & ... \\``; as markdown.
- ``kv``: ``key=value`` / ``key: value`` pairs anywhere in a line (``keys:`` limits which).
- ``json``: a line that is a JSON object; numbers become metrics, ``step``/``epoch`` the step.
- ``regex``: ``pattern`` with named groups; a group named ``step`` sets the step.

The step of a value is its own (``step`` in JSON or a regex group), else the last number matched
by ``step_regex`` before it (the notes' ``Epoch: [88][0/174]``), else the count of that parser's
reports so far (1, 2, ...). Every parser takes ``prefix``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

__all__ = ["Harvester", "ParserError", "DEFAULT_PARSERS", "DEFAULT_STEP_REGEX", "check_parsers", "metric_aliases",
           "check_config"]

DEFAULT_STEP_REGEX = r"Epoch:?\s*\[(\d+)\]"
DEFAULT_PARSERS = ({"type": "markdown"}, {"type": "latex"}, {"type": "json"})
_TYPES = {"markdown": {"prefix"}, "latex": {"prefix"}, "kv": {"prefix", "keys"}, "json": {"prefix"},
          "regex": {"prefix", "pattern", "after", "before"}, "pairs": {"prefix", "match"},
          "copypaste": {"prefix", "task"}}
_TYPES = {kind: options | {"scale"} for kind, options in _TYPES.items()}  # scale: x100 for fractions
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_KV = re.compile(r"(?<![\w/.@-])([A-Za-z_][\w/.@-]*)\s*[=:]\s*(" + _NUMBER + r")(?![\w.])", re.IGNORECASE)


class ParserError(ValueError):
    pass


def check_parsers(specs: Iterable[Any], step_regex: str) -> list[dict]:
    """Validate the ``metrics:`` list; returns it as plain dicts or raises ParserError."""
    out = []
    try:
        compiled = re.compile(step_regex)
    except re.error as exc:
        raise ParserError(f"step_regex {step_regex!r} is not a regular expression: {exc}") from None
    if compiled.groups < 1:
        raise ParserError(f"step_regex {step_regex!r} has no capture group for the step number; put the "
                          r"number in parentheses, e.g. 'Epoch: \[(\d+)\]'")
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or spec.get("type") not in _TYPES:
            raise ParserError(f"metrics[{i}]: expected a mapping with type one of "
                              f"{', '.join(_TYPES)}, got {spec!r}")
        extra = set(spec) - _TYPES[spec["type"]] - {"type"}
        if extra:
            raise ParserError(f"metrics[{i}] ({spec['type']}): unknown option {sorted(extra)[0]!r}; "
                              f"it takes {', '.join(sorted(_TYPES[spec['type']]))}")
        if spec["type"] == "regex":
            try:
                pattern = re.compile(str(spec.get("pattern", "")))
            except re.error as exc:
                raise ParserError(f"metrics[{i}]: pattern is not a regular expression: {exc}") from None
            if not pattern.groupindex:
                raise ParserError(f"metrics[{i}]: pattern needs named groups, e.g. (?P<loss>[\\d.]+)")
            for edge in ("after", "before"):
                try:
                    re.compile(str(spec.get(edge, "")))
                except re.error as exc:
                    raise ParserError(f"metrics[{i}]: {edge} is not a regular expression: {exc}") from None
        if spec["type"] == "pairs":
            try:
                re.compile(str(spec.get("match", "")))
            except re.error as exc:
                raise ParserError(f"metrics[{i}]: match is not a regular expression: {exc}") from None
            if not spec.get("match"):
                raise ParserError(f"metrics[{i}] (pairs): needs match, the pattern of the lines to read")
        out.append(dict(spec))
    return out


def metric_aliases() -> dict[str, str]:
    """Printed header (lower case) -> canonical metric name, from every registered trainer's table
    groups: ``shou`` -> ``Shoulder``, ``total`` -> ``Mean``, ``miou`` -> ``mIoU``."""
    from orchestrator.registry import metric_groups

    out: dict[str, str] = {}
    for group in {id(g): g for g in metric_groups().values()}.values():
        for column in group.columns:
            if column.key.startswith("val/") and "/" not in column.key[4:]:
                for name in column.names():
                    out.setdefault(name.rsplit("/", 1)[-1].lower(), column.key[4:])
    return out


def check_config(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Validation hook of the command trainer: parsers and step regex, before launch."""
    try:
        check_parsers(config.get("metrics", DEFAULT_PARSERS), config.get("step_regex", DEFAULT_STEP_REGEX))
    except ParserError as exc:
        key = "step_regex" if str(exc).startswith("step_regex") else "metrics"
        return [(key, f"{exc}")]
    command = config.get("command")
    if not isinstance(command, list) or not command:
        return [("command", "expected the script's argv as a non-empty list, e.g. [python, train.py]")]
    return []


def _number(text: str) -> float | None:
    text = text.strip().rstrip("%")
    try:
        return float(text)
    except ValueError:
        return None


class _Table:
    """Header-then-rows tables (markdown pipes, LaTeX ampersands). Two header rows in a row are
    one header (``MOTA`` over ``Head`` -> ``mota/Head``), so a later block of a log never lands
    on an earlier block's names. Header names other tools print for a known quantity become its
    canonical name (``Shou`` -> ``Shoulder``, ``Total`` -> ``Mean``) through ``aliases``."""

    def __init__(self, prefix: str, aliases: dict[str, str] | None = None):
        self.prefix = prefix
        self.aliases = aliases or {}
        self.header: list[str] | None = None
        self.last_was_header = False

    def _name(self, cell: str) -> str:
        return self.aliases.get(cell.strip().lower(), cell) if "/" not in cell else cell

    def _header(self, cells: list[str]) -> None:
        if self.last_was_header and self.header is not None and len(self.header) == len(cells):
            self.header = [f"{u.lower()}/{c}" if u and c else (c or u) for u, c in zip(self.header, cells)]
        else:
            self.header = [self._name(c) if c else c for c in cells]
        self.last_was_header = True

    def row(self, cells: list[str]) -> dict[str, float] | None:
        numbers = [_number(c) for c in cells]
        filled = [c for c in cells if c]
        if not filled:
            return None
        if all(n is None for n in numbers):
            self._header(cells)
            return None
        self.last_was_header = False
        if self.header is None:
            return None
        header = self.header
        if len(header) != len(cells):  # align from the right: a label column may be missing
            k = min(len(header), len(cells))
            header, cells, numbers = header[-k:], cells[-k:], numbers[-k:]
        return {self.prefix + h: n for h, n in zip(header, numbers) if h and n is not None}


def _markdown_cells(line: str) -> list[str] | None:
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|") and s.count("|") >= 3):
        return None
    cells = [c.strip() for c in s[1:-1].split("|")]
    if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
        return []  # the |---|---| separator
    return cells


def _latex_cells(line: str) -> list[str] | None:
    s = line.strip()
    if "&" not in s or not s.endswith("\\\\"):
        return None
    return [c.strip() for c in s[:-2].split("&")]


_Found = tuple  # (values, step or None)
_BOOKKEEPING = {"time", "data_time", "memory", "eta", "lr", "base_lr"}  # MMEngine's, not metrics


class Harvester:
    """Feed it lines; it returns the (metrics, step) reports they complete."""

    def __init__(self, specs: Iterable[dict], step_regex: str = DEFAULT_STEP_REGEX,
                 aliases: dict[str, str] | None = None, rename: dict[str, str] | None = None):
        self.specs = check_parsers(specs, step_regex)
        self.step_re = re.compile(step_regex)
        self.step: int | None = None
        self.counts: dict[int, int] = {}
        self.aliases, self.rename = aliases or {}, rename or {}
        self.tables = {i: _Table(s.get("prefix", "val/"), aliases) for i, s in enumerate(self.specs)
                       if s["type"] in ("markdown", "latex")}
        self.patterns = {i: re.compile(s.get("pattern") or s.get("match") or ".") for i, s in enumerate(self.specs)
                         if s["type"] in ("regex", "pairs")}
        # a regex parser scoped to a phase: active from a line matching `after` (inclusive, or from the
        # start without one) up to a line matching `before` (exclusive), again at the next `after`
        self.phases = {i: (re.compile(s["after"]) if s.get("after") else None,
                           re.compile(s["before"]) if s.get("before") else None)
                       for i, s in enumerate(self.specs) if s["type"] == "regex"}
        self.active = {i: after is None for i, (after, _) in self.phases.items()}
        self.copypaste: dict[int, dict] = {i: {} for i, s in enumerate(self.specs) if s["type"] == "copypaste"}

    def next_step(self, source: int) -> int:
        """The step for a value that names none: the current one, else a per-source counter."""
        self.counts[source] = self.counts.get(source, 0) + 1
        return self.step if self.step is not None else self.counts[source]

    def feed(self, line: str) -> list[tuple[dict[str, float], int]]:
        out = []
        m = self.step_re.search(line)
        if m:
            self.step = int(m.group(1))
        for i, spec in enumerate(self.specs):
            found = getattr(self, f"_{spec['type']}")(i, spec, line)
            if found and found[0]:
                values, step = found
                scale = float(spec.get("scale", 1))
                values = {self.rename.get(k, k): v * scale for k, v in values.items()}
                out.append((values, step if step is not None else self.next_step(i)))
        return out

    def _markdown(self, i: int, spec: dict, line: str) -> _Found | None:
        cells = _markdown_cells(line)
        return (self.tables[i].row(cells), None) if cells else None

    def _latex(self, i: int, spec: dict, line: str) -> _Found | None:
        cells = _latex_cells(line)
        return (self.tables[i].row(cells), None) if cells else None

    def _json(self, i: int, spec: dict, line: str) -> _Found | None:
        s = line.strip()
        if not (s.startswith("{") and s.endswith("}")):
            return None
        try:
            obj = json.loads(s)
        except json.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        step = obj.get("step", obj.get("epoch"))
        prefix = spec.get("prefix", "")
        values = {prefix + k: float(v) for k, v in obj.items() if k not in ("step", "epoch")
                  and isinstance(v, (int, float)) and not isinstance(v, bool)}
        return values, int(step) if isinstance(step, (int, float)) else None

    def _kv(self, i: int, spec: dict, line: str) -> _Found | None:
        keys, prefix = spec.get("keys"), spec.get("prefix", "")
        return {prefix + k: float(v) for k, v in _KV.findall(line) if not keys or k in keys}, None

    def _regex(self, i: int, spec: dict, line: str) -> _Found | None:
        after, before = self.phases[i]
        if before is not None and before.search(line):
            self.active[i] = False
        if after is not None and after.search(line):
            self.active[i] = True
        m = self.patterns[i].search(line) if self.active[i] else None
        if not m:
            return None
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        step = groups.pop("step", None)
        prefix = spec.get("prefix", "")
        values = {prefix + k: v for k, v in ((k, _number(v)) for k, v in groups.items()) if v is not None}
        return values, int(float(step)) if step is not None else None

    def _canonical(self, name: str) -> str:
        """``coco/AP .5`` -> ``AP50``, ``PCKh`` -> ``Mean``: the last part, by the groups' aliases."""
        return self.aliases.get(name.rsplit("/", 1)[-1].strip().lower(), name)

    def _pairs(self, i: int, spec: dict, line: str) -> _Found | None:
        """``name: value`` pairs separated by two or more spaces, on lines matching ``match``
        (its ``step`` group, if any, is the step): MMEngine's ``Epoch(val) [10][50/50]  PCK: 0.91``."""
        m = self.patterns[i].search(line)
        if not m:
            return None
        prefix = spec.get("prefix", "")
        values = {}
        for part in re.split(r"\s{2,}|\t", line[m.end():]):
            name, sep, text = part.rpartition(":")
            number = _number(text) if sep else None
            if name.strip() and number is not None and name.strip() not in _BOOKKEEPING:
                values[prefix + self._canonical(name.strip())] = number
        step = m.groupdict().get("step")
        return values, int(step) if step else None

    def _copypaste(self, i: int, spec: dict, line: str) -> _Found | None:
        """detectron2's ``copypaste: Task: keypoints`` / ``copypaste: AP,AP50,...`` / values lines."""
        state = self.copypaste[i]
        _, marker, rest = line.partition("copypaste: ")
        if not marker:
            return None
        rest = rest.strip()
        if rest.startswith("Task: "):
            state.clear()
            state["task"] = rest[len("Task: "):].strip()
            return None
        cells = [c.strip() for c in rest.split(",")]
        numbers = [_number(c) for c in cells]
        if all(n is None for n in numbers):
            state["header"] = cells
            return None
        if "header" not in state or len(state["header"]) != len(cells) or None in numbers:
            return None
        task = state.get("task", "")
        prefix = spec.get("prefix", "val/") + ("" if task in ("", spec.get("task", "keypoints")) else f"{task}/")
        return {prefix + self._canonical(h): n for h, n in zip(state["header"], numbers)}, None
