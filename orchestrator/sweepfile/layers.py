"""Config layers: dotted-key overrides that remember the file and line of every value.

A layer is ``{dotted_key: (value, Loc)}``. Sweeps build a trial's config by stacking
layers: schema defaults < base files < params < axes < ``--set``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from orchestrator.sweepfile._yaml import LineDict, YamlSyntaxError, load_yaml_file, plain
from orchestrator.sweepfile.errors import Problems, did_you_mean
from orchestrator.sweepfile.schema import Schema, check_value

__all__ = ["Loc", "Layer", "flatten_layer", "check_layer", "load_base"]


class Loc(NamedTuple):
    file: str
    line: int | None


Layer = dict  # dict[str, tuple[Any, Loc]]


def _is_group_path(schema: Schema, key: str) -> bool:
    return key in schema.groups or any(k.startswith(key + ".") for k in schema.params)


def flatten_layer(mapping: LineDict, schema: Schema, file: str, problems: Problems,
                  prefix: str = "") -> Layer:
    """Nested and dotted keys both become dotted keys; mappings for free-form params stay whole."""
    out: Layer = {}
    for key, value in mapping.items():
        line = getattr(mapping, "lines", {}).get(key)
        if not isinstance(key, str):
            problems.add(file, line, repr(key), "keys must be strings")
            continue
        full = prefix + key
        if isinstance(value, dict) and _is_group_path(schema, full):
            out.update(flatten_layer(value, schema, file, problems, full + "."))
        else:
            out[full] = (value, Loc(file, line))
    return out


def check_layer(layer: Layer, schema: Schema, problems: Problems, what: str = "") -> Layer:
    """Unknown keys and wrong types, reported where the value was written; values converted."""
    out: Layer = {}
    for key, (value, loc) in layer.items():
        if key == "seed" and "seed" in schema.params:
            problems.add(loc.file, loc.line, key, "the seed is set by the sweep's `seeds:` key",
                         "write `seeds: [N]` (or `seeds: 3` for seeds 0, 1, 2) instead.")
            continue
        info = schema.param_info(key)
        if info is None:
            if key in schema.groups:
                members = ", ".join(k for k in schema.params if k.startswith(key + "."))
                problems.add(loc.file, loc.line, key, f"is a group of parameters ({members});",
                             "set one of them, e.g. with a dotted key.")
            else:
                problems.add(loc.file, loc.line, key, f"unknown key{what};",
                             did_you_mean(key, list(schema.params) + list(schema.groups)[1:]))
            continue
        converted, error = check_value(info, plain(value))
        if error:
            problems.add(loc.file, loc.line, key, error)
            continue
        out[key] = (converted, loc)
    return out


def _read_config_file(path: Path, shown: str, loc: Loc, problems: Problems) -> LineDict | None:
    if not path.is_file():
        problems.add(loc.file, loc.line, "base", f"config file {shown} not found",
                     "paths are relative to the file that names them.")
        return None
    try:
        doc = load_yaml_file(path)
    except YamlSyntaxError as exc:
        problems.add(shown, exc.line, "", f"not valid YAML: {exc}", f"{shown} is named by `base:` at "
                     f"{loc.file}:{loc.line}; fix or replace it.")
        return None
    if doc is None:
        return LineDict()
    if not isinstance(doc, LineDict):
        problems.add(shown, 1, "", "a config file must be a mapping of parameters")
        return None
    return doc


def load_base(value: Any, line: int | None, sweep_path: Path, schema: Schema,
              problems: Problems) -> list[Layer]:
    """``base:`` is a path, a mapping, or a list of both; later entries override earlier ones."""
    items = value if isinstance(value, list) else [value]
    item_lines = getattr(value, "lines", [line] * len(items)) if isinstance(value, list) else [line]
    layers: list[Layer] = []
    for item, item_line in zip(items, item_lines):
        loc = Loc(str(sweep_path), item_line)
        if isinstance(item, dict):
            layers.append(flatten_layer(item, schema, str(sweep_path), problems))
        elif isinstance(item, str):
            layers.extend(_load_config_chain(sweep_path.parent / item, loc, schema, problems, ()))
        else:
            problems.add(loc.file, loc.line, "base",
                         f"expected a config file path or a mapping, got {type(item).__name__}")
    return layers


def _load_config_chain(path: Path, loc: Loc, schema: Schema, problems: Problems,
                       seen: tuple[Path, ...]) -> list[Layer]:
    resolved = path.resolve()
    shown = _display(path)
    if resolved in seen:
        chain = " -> ".join(_display(p) for p in (*seen, resolved))
        problems.add(loc.file, loc.line, "extends", f"config files extend each other in a cycle: {chain}")
        return []
    doc = _read_config_file(path, shown, loc, problems)
    if doc is None:
        return []
    layers: list[Layer] = []
    parents = doc.pop("extends", None)
    if parents is not None:
        parent_list = parents if isinstance(parents, list) else [parents]
        for parent in parent_list:
            if not isinstance(parent, str):
                problems.add(shown, doc.lines.get("extends"), "extends", "expected a file path")
                continue
            layers.extend(_load_config_chain(path.parent / parent, Loc(shown, doc.lines.get("extends")),
                                             schema, problems, (*seen, resolved)))
    layers.append(flatten_layer(doc, schema, shown, problems))
    return layers


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
