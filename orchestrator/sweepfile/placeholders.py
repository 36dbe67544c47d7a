"""``{key}`` placeholders in string values, filled from the trial's resolved config.

``out_dir: "runs/{name}"``, ``cfg: "experiments/{loss.t}.yaml"``. Known names: every
config key, ``name``, ``setting``, ``seed``, ``sweep`` and ``variant``; names a trainer
fills in at run time (``{gpus}``) are left as they are. ``{{`` and ``}}`` are literal braces; for a
trainer with runtime placeholders every string stays a template (literal braces doubled) that the
trainer fills when the trial starts, so ``{{gpus}}`` reaches the script as ``{gpus}``.
Lists render as ``8,4,2,1``; ``{rs:space}`` gives ``8 4 2 1`` and ``{rs:json}`` ``[8, 4, 2, 1]``.
Strings inside lists and mappings (an ``env:`` block) are filled too.
"""

from __future__ import annotations

import json
import string
from typing import Any, Iterable, Mapping

__all__ = ["PlaceholderError", "fill"]


class PlaceholderError(Exception):
    def __init__(self, name: str, problem: str):
        super().__init__(problem)
        self.name = name


class _Formatter(string.Formatter):
    def __init__(self, context: Mapping[str, Any], runtime: Iterable[str]):
        self.context = context
        self.runtime = set(runtime)

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if field_name in self.context:
            return self.context[field_name], field_name
        raise PlaceholderError(field_name, f"unknown placeholder {{{field_name}}}")


class _Seq(list):
    """A list placeholder value: comma-joined unless the format spec says space or json."""

    def __format__(self, spec: str) -> str:
        if spec == "json":
            return json.dumps(list(self))
        if spec == "space":
            return " ".join(str(v) for v in self)
        return format(",".join(format(_render(v)) for v in self), spec)


def _render(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return _Seq(value)
    return value


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _fill_text(text: str, formatter: _Formatter) -> str:
    """Fill the known fields. With runtime placeholders (``{gpus}``) the result is a template the
    trainer fills when the trial starts: literal braces stay doubled, runtime fields stay."""
    try:
        parsed = list(formatter.parse(text))
    except ValueError as exc:
        raise PlaceholderError("", f"unbalanced braces in {text!r} ({exc}); write {{{{ and }}}} for a "
                               "literal brace") from None
    template = bool(formatter.runtime)
    pieces = []
    for literal, field, spec, conversion in parsed:
        pieces.append(_escape(literal) if template else literal)
        if field is None:
            continue
        if field in formatter.runtime:
            pieces.append("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
            continue
        value, _ = formatter.get_field(field, (), {})
        try:
            rendered = formatter.format_field(formatter.convert_field(value, conversion), spec or "")
        except (ValueError, TypeError) as exc:
            raise PlaceholderError("", f"bad placeholder {{{field}:{spec}}} in {text!r}: {exc}") from None
        pieces.append(_escape(rendered) if template else rendered)
    return "".join(pieces)


def fill(value: Any, context: Mapping[str, Any], runtime: Iterable[str] = ()) -> Any:
    """Fill placeholders in a string or a list of strings; other values pass through."""
    if isinstance(value, str) and ("{" in value or "}" in value):
        rendered = {k: _render(v) for k, v in context.items()}
        return _fill_text(value, _Formatter(rendered, runtime))
    if isinstance(value, list) and any(isinstance(v, (str, list, dict)) for v in value):
        return [fill(v, context, runtime) for v in value]
    if isinstance(value, dict) and value:
        return {k: fill(v, context, runtime) for k, v in value.items()}
    return value
