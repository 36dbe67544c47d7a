"""The varied part of a sweep: ``grid`` (or a union of sub-grids), ``zip``, ``variants``,
``exclude`` and ``abbrev``, parsed into dimensions whose product gives the trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.sweepfile._yaml import LineDict, LineList, plain
from orchestrator.sweepfile.errors import Problems, did_you_mean
from orchestrator.sweepfile.layers import Layer, Loc, check_layer, flatten_layer
from orchestrator.sweepfile.schema import Schema, check_value, type_name

__all__ = ["Point", "Axes", "parse_axes", "Exclude", "parse_excludes", "parse_abbrev", "RESOURCE_AXES"]

# axes that vary what a trial reserves rather than its config: one card against two
RESOURCE_AXES = ("resources.workers", "resources.gpu")


@dataclass(frozen=True)
class Point:
    """One value of a dimension: the axis values it names and the config overrides it applies."""

    axes: dict[str, Any]
    layer: Layer
    loc: Loc | None = None  # where a resource axis's value was written (it has no layer)


Dimension = list  # list[Point]


@dataclass
class Axes:
    subgrids: list[list[Dimension]] = field(default_factory=lambda: [[]])
    extra: list[Dimension] = field(default_factory=list)  # zip and variants: product with every sub-grid
    order: list[str] = field(default_factory=list)  # varied axis names, in declaration order
    line: int | None = None  # where the varied part starts, for problems about trials


def _is_list_param(schema: Schema, key: str) -> bool:
    info = schema.param_info(key)
    return info is not None and type_name(info.type).startswith("list")


def _resource_dimension(key: str, values: list, loc: Loc, problems: Problems) -> Dimension:
    """``resources.workers: [1, 2]`` (whole numbers >= 1) or ``resources.gpu: [1, 2]`` (>= 0):
    labels of the trial, settled into its resources by the loader (options.vary_resources)."""
    points = []
    for value, line in zip(values, getattr(values, "lines", [loc.line] * len(values))):
        workers = key == "resources.workers"
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        if not number or value < (1 if workers else 0) or (workers and not isinstance(value, int)):
            problems.add(loc.file, line, key, f"expected {'a whole number >= 1' if workers else 'a number >= 0'}, "
                         f"got {value!r}", "e.g. resources.gpu: [1, 2] for one card against two.")
            continue
        points.append(Point({key: value}, {}, Loc(loc.file, line)))
    return points


def _dimension(key: str, values: Any, loc: Loc, schema: Schema, problems: Problems,
               what: str) -> Dimension | None:
    if not isinstance(values, list):
        problems.add(loc.file, loc.line, key, f"{what} values must be a list, got {values!r};",
                     "for one fixed value use `params:`.")
        return None
    if not values:
        problems.add(loc.file, loc.line, key, f"empty {what} axis: it would give no trials",
                     "list at least one value, or remove the axis.")
        return None
    if key in RESOURCE_AXES:
        return _resource_dimension(key, values, loc, problems)
    if _is_list_param(schema, key) and not any(isinstance(v, list) for v in values):
        problems.add(loc.file, loc.line, key, f"is a list-valued parameter, so each {what} value is "
                     "a list;", f"write {key}: [{_flow(values)}] for this one value, or e.g. "
                     f"{key}: [[8, 4, 2, 1], [3, 1]] for several.")
        return None
    lines = getattr(values, "lines", [loc.line] * len(values))
    points = []
    for value, line in zip(values, lines):
        checked = check_layer({key: (value, Loc(loc.file, line))}, schema, problems)
        if key in checked:
            points.append(Point({key: checked[key][0]}, checked))
    return points


def _flat_axes(mapping: LineDict, schema: Schema, file: str, problems: Problems) -> Layer:
    """The axes of a grid or zip as dotted keys; ``resources: {gpu: [1, 2]}`` is resources.gpu."""
    out: Layer = {}
    for key, (values, loc) in flatten_layer(mapping, schema, file, problems).items():
        if key == "resources" and isinstance(values, dict) and "resources" not in schema.params:
            out.update({f"resources.{k}": (v, Loc(file, getattr(values, "lines", {}).get(k, loc.line))) for k, v in values.items()})
        else:
            out[key] = (values, loc)
    for key, (_, loc) in out.items():
        if key.startswith("resources.") and key not in RESOURCE_AXES and schema.param_info(key) is None:
            problems.add(loc.file, loc.line, key, "is not a resource a sweep can vary;",
                         "vary resources.gpu (one card against two) or resources.workers (CPU workers); "
                         "cpu and memory are set once, under resources:.")
    return {k: v for k, v in out.items() if not k.startswith("resources.") or k in RESOURCE_AXES
            or schema.param_info(k) is not None}


def _flow(values: list) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def _parse_grid(value: Any, line: int | None, schema: Schema, file: str, problems: Problems,
                axes: Axes) -> None:
    if isinstance(value, dict):
        grids, grid_lines = [value], [line]
    elif isinstance(value, list) and value and all(isinstance(g, dict) for g in value):
        grids, grid_lines = list(value), getattr(value, "lines", [line] * len(value))
    else:
        problems.add(file, line, "grid", "expected a mapping axis: [values], or a list of such "
                     "mappings (a union of sub-grids)")
        return
    axes.subgrids = []
    for grid, grid_line in zip(grids, grid_lines):
        if not grid:
            problems.add(file, grid_line, "grid", "empty sub-grid: it would give one default trial",
                         "remove it or give it axes.")
        dims = []
        for key, (values, loc) in _flat_axes(grid, schema, file, problems).items():
            if key not in axes.order:
                axes.order.append(key)
            dim = _dimension(key, values, loc, schema, problems, "grid")
            if dim is not None:
                dims.append(dim)
        axes.subgrids.append(dims)


def _parse_zip(value: Any, line: int | None, schema: Schema, file: str, problems: Problems,
               axes: Axes) -> None:
    if not isinstance(value, dict) or not value:
        problems.add(file, line, "zip", "expected a mapping of axes to equal-length lists")
        return
    columns = {}
    for key, (values, loc) in _flat_axes(value, schema, file, problems).items():
        if key in axes.order:
            problems.add(loc.file, loc.line, key, "is already a grid axis; an axis may be varied once")
            continue
        axes.order.append(key)
        dim = _dimension(key, values, loc, schema, problems, "zip")
        if dim is not None:
            columns[key] = dim
    lengths = {key: len(dim) for key, dim in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        problems.add(file, line, "zip", f"lists must have equal lengths: {shown}",
                     "zip pairs the i-th values of every list; use `grid` for all combinations.")
        return
    if columns:
        rows = zip(*columns.values())
        axes.extra.append([_merge_points(row) for row in rows])


def _merge_points(points: tuple[Point, ...]) -> Point:
    merged_axes: dict[str, Any] = {}
    layer: Layer = {}
    for p in points:
        merged_axes.update(p.axes)
        layer.update(p.layer)
    return Point(merged_axes, layer, next((p.loc for p in points if p.loc is not None), None))


def _parse_variants(value: Any, line: int | None, schema: Schema, file: str, problems: Problems,
                    axes: Axes) -> None:
    if not isinstance(value, dict) or not value:
        problems.add(file, line, "variants", "expected a mapping of variant name to overrides",
                     "e.g. variants: {crop1024: {data.crop: [1024, 1024]}}.")
        return
    points = []
    for name, overrides in value.items():
        vline = value.lines.get(name)
        if overrides is None:
            overrides = LineDict()
        if not isinstance(overrides, dict):
            problems.add(file, vline, f"variants.{name}", "expected a mapping of overrides")
            continue
        layer = check_layer(flatten_layer(overrides, schema, file, problems), schema, problems)
        points.append(Point({"variant": str(name)}, layer))
    axes.order.append("variant")
    axes.extra.append(points)


def parse_axes(doc: LineDict, schema: Schema, file: str, problems: Problems) -> Axes:
    axes = Axes()
    lines = [doc.lines[k] for k in ("grid", "zip", "variants") if k in doc]
    axes.line = min(lines) if lines else None
    if doc.get("grid") is not None:
        _parse_grid(doc["grid"], doc.lines.get("grid"), schema, file, problems, axes)
    if doc.get("zip") is not None:
        _parse_zip(doc["zip"], doc.lines.get("zip"), schema, file, problems, axes)
    if doc.get("variants") is not None:
        _parse_variants(doc["variants"], doc.lines.get("variants"), schema, file, problems, axes)
    return axes


@dataclass(frozen=True)
class Exclude:
    """A partial assignment; a trial matching every entry is dropped."""

    values: dict[str, Any]
    loc: Loc


def parse_excludes(doc: LineDict, schema: Schema, axes: Axes, file: str,
                   problems: Problems) -> list[Exclude]:
    value = doc.get("exclude")
    line = doc.lines.get("exclude")
    if value is None:
        return []
    if isinstance(value, dict):
        value = LineList([value])
        value.lines = [line]
    if not isinstance(value, list):
        problems.add(file, line, "exclude", "expected a list of partial assignments, "
                     "e.g. [{loss.t: 50, loss.pointMaxW: 1}]")
        return []
    out = []
    for entry, eline in zip(value, getattr(value, "lines", [line] * len(value))):
        if not isinstance(entry, dict) or not entry:
            problems.add(file, eline, "exclude", "each entry is a mapping such as {loss.t: 50}")
            continue
        values = {}
        for key, (v, loc) in flatten_layer(entry, schema, file, problems).items():
            v = plain(v)
            if key in ("variant", "seed") or (key in RESOURCE_AXES and key in axes.order):
                values[key] = v
            elif (info := schema.param_info(key)) is None:
                problems.add(loc.file, loc.line, f"exclude.{key}", "unknown key;",
                             did_you_mean(key, axes.order or list(schema.params)))
            else:
                converted, error = check_value(info, v)
                if error:
                    problems.add(loc.file, loc.line, f"exclude.{key}", error)
                values[key] = converted
        out.append(Exclude(values, Loc(file, eline)))
    return out


def parse_abbrev(doc: LineDict, schema: Schema, axes: Axes, file: str, problems: Problems) -> dict[str, str]:
    value = doc.get("abbrev")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(file, doc.lines.get("abbrev"), "abbrev", "expected a mapping axis: prefix")
        return {}
    out = {}
    for key, prefix in value.items():
        line = value.lines.get(key)
        if key not in axes.order and schema.param_info(str(key)) is None and key not in ("variant", *RESOURCE_AXES):
            problems.add(file, line, f"abbrev.{key}", "is not an axis of this sweep;",
                         did_you_mean(str(key), axes.order or list(schema.params)))
        elif prefix is None or not isinstance(prefix, (str, int)):
            problems.add(file, line, f"abbrev.{key}", f"expected a short prefix string, got {prefix!r}")
        elif key in axes.order:  # an abbrev for an axis a profile dropped is simply unused
            out[key] = str(prefix)
    return out
