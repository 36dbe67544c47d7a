"""Trainer schemas: flatten a Config dataclass into dotted keys, check values, build configs.

Pure: dataclasses and typing only. Groups are nested dataclasses (``loss.t`` is
field ``t`` of the dataclass in field ``loss``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

__all__ = ["ParamInfo", "Schema", "check_value", "type_name"]


@dataclass(frozen=True)
class ParamInfo:
    key: str  # dotted
    type: Any
    default: Any
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False  # param(secret=True): never written in clear
    unkeyed_default: bool = False  # param(unkeyed_default=True): not in trial keys at its default


class Schema:
    """The flattened view of a trainer's Config dataclass.

    A Config whose class sets ``__orch_free_form__ = "field"`` also accepts keys it does not
    declare (any YAML value): they are collected into that dict field, so a trainer such as
    ``command`` can take whatever parameters its script needs.
    """

    def __init__(self, config_cls: type):
        if not dataclasses.is_dataclass(config_cls):
            raise TypeError(f"{config_cls!r} is not a dataclass; a trainer's Config must be one")
        self.config_cls = config_cls
        self.free_form: str | None = getattr(config_cls, "__orch_free_form__", None)
        self.params: dict[str, ParamInfo] = {}
        self.groups: dict[str, type] = {"": config_cls}
        self._walk(config_cls, "")

    def unkeyed_defaults(self) -> dict[str, Any]:
        """The parameters left out of a trial's key while they hold these defaults."""
        return {k: p.default for k, p in self.params.items() if p.unkeyed_default}

    def param_info(self, key: str) -> ParamInfo | None:
        """The declared parameter, a free-form one for schemas that allow them, else None."""
        if key in self.params:
            return self.params[key]
        if (self.free_form and key and key != self.free_form and key not in self.groups
                and not any(k.startswith(key + ".") for k in self.params)
                and all(part.isidentifier() for part in key.split("."))):
            return ParamInfo(key, Any, dataclasses.MISSING, "free-form parameter")
        return None

    def _walk(self, cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = prefix + f.name
            if not prefix and f.name == self.free_form:
                continue
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                self.groups[key] = tp
                self._walk(tp, key + ".")
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = dataclasses.MISSING
            md = f.metadata
            self.params[key] = ParamInfo(
                key, tp, default, md.get("help", ""), md.get("ge"), md.get("gt"),
                md.get("le"), md.get("choices"), bool(md.get("secret")), bool(md.get("unkeyed_default")),
            )

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items() if p.default is not dataclasses.MISSING}

    def required(self) -> list[str]:
        return [k for k, p in self.params.items() if p.default is dataclasses.MISSING]

    def is_group(self, key: str) -> bool:
        return key in self.groups and key != ""

    def build(self, flat: dict[str, Any]) -> Any:
        """Instantiate the Config dataclass (nested groups included) from dotted keys."""
        return self._build(self.config_cls, "", flat)

    def _build(self, cls: type, prefix: str, flat: dict[str, Any]) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):
            key = prefix + f.name
            if key in self.groups:
                kwargs[f.name] = self._build(self.groups[key], key + ".", flat)
            elif key in flat:
                kwargs[f.name] = flat[key]
        if not prefix and self.free_form:
            kwargs[self.free_form] = {k: v for k, v in flat.items() if k not in self.params}
        return cls(**kwargs)


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None) or tp is None:
        return "null"
    if tp is Any:
        return "any value"
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict or tp is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any) -> tuple[bool, Any]:
    """(ok, value converted to the declared type); ints widen to floats, nothing else converts."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return True, value
    if tp is type(None) or tp is None:
        return value is None, value
    if origin in (Union, types.UnionType):
        for arg in args:
            ok, out = _coerce(arg, value)
            if ok:
                return True, out
        return False, value
    if origin is Literal:
        return value in args and type(value) in {type(a) for a in args}, value
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False, value
        item_tp = args[0] if args else Any
        out = []
        for item in value:
            ok, conv = _coerce(item_tp, item)
            if not ok:
                return False, value
            out.append(conv)
        return True, out
    if origin is dict or tp is dict:
        return isinstance(value, dict), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, (int, float)):
            return True, float(value)
        return False, value
    if tp is str:
        return isinstance(value, str), value
    return isinstance(value, tp), value


def check_value(info: ParamInfo, value: Any) -> tuple[Any, str | None]:
    """Return (converted value, None) or (value, reason it is not allowed)."""
    ok, out = _coerce(info.type, value)
    if not ok:
        return value, f"expected {type_name(info.type)}, got {_show(value)}"
    if info.choices is not None and out not in info.choices:
        return value, f"must be one of {', '.join(map(repr, info.choices))}, got {_show(value)}"
    numbers = out if isinstance(out, list) else [out]
    for n in numbers:
        if not isinstance(n, (int, float)) or isinstance(n, bool):
            continue
        if isinstance(n, float) and not math.isfinite(n):
            return value, f"must be a finite number, got {n!r} (a typo for a large value? write it out)"
        if info.ge is not None and n < info.ge:
            return value, f"must be >= {info.ge}, got {n!r}"
        if info.gt is not None and n <= info.gt:
            return value, f"must be > {info.gt}, got {n!r}"
        if info.le is not None and n > info.le:
            return value, f"must be <= {info.le}, got {n!r}"
    return out, None


def _show(value: Any) -> str:
    kind = "null" if value is None else type(value).__name__
    kind = {"dict": "mapping", "LineDict": "mapping", "LineList": "list"}.get(kind, kind)
    text = repr(value)
    if len(text) > 80:  # a huge value (an alias bomb, a pasted blob) is named, not printed
        text = text[:60] + f"... ({len(text)} characters)"
    return f"{kind} {text}" if value is not None else "null"
