"""Readable trial names (``p0m0rs8421t13``) and stable trial keys."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Mapping

__all__ = ["format_value", "default_abbrev", "trial_name", "trial_key"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def format_value(value: Any) -> str:
    """How a value looks in a trial name: ``[8,4,2,1]`` -> ``8421``, ``50.0`` -> ``50``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        parts = [format_value(v) for v in value]
        single_digits = all(len(p) == 1 for p in parts)
        return "".join(parts) if single_digits else "-".join(parts)
    if value is None:
        return "none"
    return _UNSAFE.sub("-", str(value)).strip("-")


def default_abbrev(axis: str) -> str:
    """The last part of a dotted key: ``loss.pointMaxW`` -> ``pointMaxW``; variants need none."""
    return "" if axis == "variant" else axis.rsplit(".", 1)[-1]


def trial_name(axes: Mapping[str, Any], abbrev: Mapping[str, str], explicit: bool) -> str:
    """Axis parts in declaration order. With an explicit ``abbrev:`` for every axis the parts are
    glued like the notes (``p0m0rs8421t13``); otherwise joined by ``_`` so they stay readable."""
    parts = []
    for axis, value in axes.items():
        prefix = abbrev.get(axis, default_abbrev(axis))
        if isinstance(value, str) and axis not in abbrev:
            parts.append(format_value(value))  # "mse" reads better than "namemse"
        else:
            parts.append(prefix + format_value(value))
    name = ("" if explicit else "_").join(p for p in parts if p)
    return name or "default"


def trial_key(trainer: str, config: Mapping[str, Any], seed: int, budget: Mapping[str, Any],
              unkeyed: Mapping[str, Any] | None = None) -> str:
    """Hash of what decides a trial's result; stable across runs, machines and Python versions.
    ``unkeyed``: parameters (with their defaults) that count only once set to something else."""
    unkeyed = unkeyed or {}
    config = {k: v for k, v in config.items() if not (k in unkeyed and v == unkeyed[k])}
    material = {"trainer": trainer, "config": dict(sorted(config.items())), "seed": seed,
                "budget": dict(sorted(budget.items()))}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=repr, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
