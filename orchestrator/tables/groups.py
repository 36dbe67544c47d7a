"""``--metric`` values -> table columns. Groups (``pckh``, ``miou``, ...) are the trainers' own
(:class:`orchestrator.trainer.MetricGroup`, read from the registry by the caller); this module
knows none of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from orchestrator.protocol import DESCRIPTIVE_PREFIXES
from orchestrator.trainer import MetricGroup

__all__ = ["Column", "expand_metrics", "UnknownMetric", "metric_mode"]

# for metrics no group declares: names that say lower is better
_LOWER_IS_BETTER = re.compile(r"loss|err|time|wait|latency|memory", re.I)


class UnknownMetric(Exception):
    pass


@dataclass(frozen=True)
class Column:
    key: str  # metric or param name as logged
    label: str  # markdown / csv / html header
    latex: str  # short header for the notes' `& Head & Shou & ...` rows
    mode: str  # "max" | "min" for metrics, "" for params (never bold)
    is_param: bool = False
    note: str = ""  # footnote printed under the table
    digits: int | None = None  # decimals, when the metric group sets them


def metric_mode(key: str, sweep_metric: str, sweep_mode: str,
                groups: Mapping[str, MetricGroup] | None = None) -> str:
    if key.startswith(DESCRIPTIVE_PREFIXES):
        return ""
    if key == sweep_metric:
        return sweep_mode
    for group in (groups or {}).values():
        for column in group.columns:
            if column.key == key:
                return "max" if column.higher_is_better else "min"
    return "min" if _LOWER_IS_BETTER.search(key) else "max"


def _label(key: str) -> str:
    return key[4:] if key.startswith("val/") else key


def _group_columns(group: MetricGroup, logged: set[str], per_class: bool) -> list[tuple]:
    digits = {c.key: c.digits if c.digits is not None else group.digits for c in group.columns}
    out = [(c.key, c.header, c.latex_header, c.note, digits[c.key]) for c in group.columns
           if not c.optional or c.key in logged]
    if per_class and group.per_class_prefix:
        prefix = group.per_class_prefix
        order = {name: i for i, name in enumerate(group.classes)}
        found = sorted((k for k in logged if k.startswith(prefix)),
                       key=lambda k: (order.get(k[len(prefix):], len(order)), k))
        for key in found:
            name = key[len(prefix):]
            out.append((key, name, group.class_latex.get(name, name.capitalize()), "", group.digits))
    return out


def expand_metrics(names: list[str], logged: set[str], params: set[str], sweep_metric: str,
                   sweep_mode: str, per_class: bool = False,
                   groups: Mapping[str, MetricGroup] | None = None) -> list[Column]:
    """Turn ``--metric`` values into columns: groups (by name or alias, lower case) expand,
    ``Mean`` finds ``val/Mean``, params (``model.backbone``) work too; an unknown name lists
    what exists."""
    groups = groups or {}
    columns: list[Column] = []

    def add(key: str, label: str, latex: str, is_param: bool = False, note: str = "",
            digits: int | None = None) -> None:
        if all(c.key != key for c in columns):
            mode = "" if is_param else metric_mode(key, sweep_metric, sweep_mode, groups)
            columns.append(Column(key, label, latex, mode, is_param, note, digits))

    for name in names:
        group = groups.get(name.lower())
        if group is not None:
            for key, label, latex, note, digits in _group_columns(group, logged, per_class):
                add(key, label, latex, note=note, digits=digits)
        elif name in logged:
            add(name, _label(name), _label(name))
        elif f"val/{name}" in logged:
            add(f"val/{name}", name, name)
        elif name in params:
            add(name, name, name, is_param=True)
        else:
            key = _loose(name, logged, params)
            if key is None:
                raise UnknownMetric(_unknown(name, logged, params, groups))
            label = _label(key) if key in logged else key
            add(key, label, label, is_param=key not in logged, note=f"what --metric {name} named")
    return columns


def _loose(name: str, logged: set[str], params: set[str]) -> str | None:
    """The one metric or param ``name`` means without regard to case, or by its last part
    (``mean`` -> ``val/Mean``, ``backbone`` -> ``model.backbone``); several: an error naming them."""
    wanted = name.lower()
    for match in (lambda k: k.lower() == wanted, lambda k: re.split(r"[/.]", k)[-1].lower() == wanted):
        found = sorted(k for k in logged | params if match(k))
        if len(found) == 1:
            return found[0]
        if found:
            raise UnknownMetric(f"--metric {name} is ambiguous: it matches {', '.join(found[:8])}; "
                                "give the whole name")
    return None


def _unknown(name: str, logged: set[str], params: set[str], groups: Mapping[str, MetricGroup]) -> str:
    from orchestrator.sweepfile.errors import did_you_mean

    short = {k[4:] for k in logged if k.startswith("val/")}
    hint = did_you_mean(name, sorted(logged | params | short | set(groups))) or \
        f"logged metrics: {', '.join(sorted(logged)[:20])}"
    known = f"; groups: {', '.join(sorted({g.name for g in groups.values()}))}" if groups else ""
    return f"--metric {name}: not a logged metric, group or param; {hint}{known}"
