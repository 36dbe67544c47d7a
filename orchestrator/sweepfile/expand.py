"""Stack the layers of every grid point into resolved, validated, named trials."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from orchestrator.sweepfile.axes import RESOURCE_AXES, Axes, Exclude
from orchestrator.sweepfile.errors import Problems, did_you_mean
from orchestrator.sweepfile.layers import Layer, Loc
from orchestrator.sweepfile.model import Resources, TrialSpec
from orchestrator.sweepfile.naming import trial_key, trial_name
from orchestrator.sweepfile.placeholders import PlaceholderError, fill
from orchestrator.sweepfile.schema import Schema, check_value
from orchestrator.sweepfile.search import SAMPLE_AXIS

_LABELS = ("variant", SAMPLE_AXIS, *RESOURCE_AXES)

__all__ = ["Expansion", "expand_trials"]


@dataclass(frozen=True)
class Expansion:
    """Everything expansion needs besides the schema; built by the loader from one sweep file."""

    sweep: str
    trainer: str
    runtime_placeholders: tuple[str, ...]
    fixed: list[Layer]  # base files, base mappings, params (in precedence order)
    overrides: Layer  # --set
    axes: Axes
    seeds: tuple[int, ...]
    excludes: list[Exclude]
    abbrev: dict[str, str]
    budget: dict[str, Any]
    file: str
    trainer_line: int | None
    unnamed: tuple[str, ...] = ()  # axes left out of trial names (a random search's drawn values)
    resources: Resources = Resources()  # the sweep's, settled for its trainer
    vary: Callable[[Mapping[str, Any]], Resources] | None = None  # a point's resource axes -> its resources


def _budget(ex: Expansion, resources: Resources, varied: Mapping[str, Any]) -> dict[str, Any]:
    """What besides the config decides the result: the epochs, the world size (the global batch)
    and what a resource axis gave the trial (a command's script sees its GPUs)."""
    out = {**ex.budget, "workers": resources.workers} if resources.workers > 1 else dict(ex.budget)
    return {**out, "resources": dict(varied)} if varied else out


def _matches(exclude: Exclude, config: Mapping[str, Any], labels: Mapping[str, Any], seed: int) -> bool:
    for key, value in exclude.values.items():
        actual = labels.get(key) if key in _LABELS else seed if key == "seed" else config.get(key)
        if actual != value:
            return False
    return True


def _grid_points(axes: Axes) -> list[tuple[Any, ...]]:
    combos = []
    for subgrid in axes.subgrids:
        dims = subgrid + axes.extra
        combos.extend(itertools.product(*dims))
    return combos


def _fill_placeholders(config: dict[str, Any], locs: dict[str, Loc], context: dict[str, Any],
                       ex: Expansion, schema: Schema, problems: Problems) -> None:
    known = list(context) + list(ex.runtime_placeholders)
    for key, value in list(config.items()):
        try:
            filled = fill(value, context, ex.runtime_placeholders)
        except PlaceholderError as exc:
            loc = locs[key]
            hint = (did_you_mean(exc.name, known) or "known: config keys, name, seed, sweep.") if exc.name else ""
            problems.add(loc.file, loc.line, key, f"{exc};" if hint else str(exc), hint)
            continue
        if filled is not value:
            converted, error = check_value(schema.param_info(key), filled)
            if error:
                problems.add(locs[key].file, locs[key].line, key, f"after placeholders, {error}")
            config[key] = converted


class _Admitted:
    """The trials kept so far, by key and by name; refuses duplicates with a problem each."""

    def __init__(self, ex: Expansion, problems: Problems):
        self.ex, self.problems = ex, problems
        self.pinned_axes = set(ex.overrides) & set(ex.axes.order)
        self.by_key: dict[str, TrialSpec] = {}
        self.by_name: dict[str, TrialSpec] = {}
        self.trials: list[TrialSpec] = []

    def add(self, trial: TrialSpec) -> None:
        ex = self.ex
        if trial.key in self.by_key:
            if not self.pinned_axes:
                self.problems.add(ex.file, ex.axes.line, "trials",
                                  f"duplicate trials: {self.by_key[trial.key].name} and {trial.name} have "
                                  "the same config", "sub-grids overlap, a value is listed twice, or a "
                                  "variant repeats another; remove one.")
            return
        if trial.name in self.by_name:
            self.problems.add(ex.file, ex.axes.line, "trials", f"two different trials are both named {trial.name!r}",
                              "give the axes distinct prefixes with `abbrev:`.")
            return
        self.by_key[trial.key] = self.by_name[trial.name] = trial
        self.trials.append(trial)


def _merged_point(combo, fixed: Layer, ex: Expansion, schema: Schema, problems: Problems) -> tuple[Layer, Any] | None:
    """One grid point's layers over the fixed ones (and --set over all); None when a required
    key is missing (reported)."""
    merged: Layer = dict(fixed)
    labels: dict[str, Any] = {}  # axes that are not config keys: variant, a random search's sample
    for point in combo:
        merged.update(point.layer)
        labels.update({k: v for k, v in point.axes.items() if k in _LABELS})
    merged.update(ex.overrides)
    missing = [k for k in schema.required() if k not in merged]
    for key in missing:
        problems.add(ex.file, ex.trainer_line, key, f"required by trainer {ex.trainer!r} but not set",
                     "set it in params: or base:.")
    return None if missing else (merged, labels)


def _seed_trials(merged: Layer, labels: dict[str, Any], ex: Expansion, schema: Schema, problems: Problems,
                 explicit: bool, used_excludes: set[int]) -> list[TrialSpec]:
    """The trials of one grid point, one per seed not excluded."""
    config = {k: v for k, (v, _) in merged.items()}
    locs = {k: loc for k, (_, loc) in merged.items()}
    variant = labels.get("variant")
    axes = {a: labels[a] if a in labels else config.get(a) for a in ex.axes.order}
    setting = trial_name({a: v for a, v in axes.items() if a not in ex.unnamed}, ex.abbrev, explicit)
    varied = {k: v for k, v in labels.items() if k in RESOURCE_AXES}
    resources = ex.vary(varied) if varied and ex.vary is not None else None
    budget = _budget(ex, resources or ex.resources, varied)
    out = []
    for seed in ex.seeds:
        hits = [i for i, e in enumerate(ex.excludes) if _matches(e, config, labels, seed)]
        if hits:
            used_excludes.update(hits)
            continue
        name = f"{setting}_s{seed}" if len(ex.seeds) > 1 else setting
        trial_config = dict(config)
        if "seed" in schema.params:
            trial_config["seed"] = seed
        context = {**trial_config, "name": name, "setting": setting, "seed": seed, "sweep": ex.sweep}
        if variant is not None:
            context["variant"] = variant
        _fill_placeholders(trial_config, locs, context, ex, schema, problems)
        key = trial_key(ex.trainer, trial_config, seed, budget, schema.unkeyed_defaults())
        out.append(TrialSpec(name, setting, key, ex.trainer, seed, MappingProxyType(axes),
                             MappingProxyType(trial_config), resources))
    return out


def expand_trials(ex: Expansion, schema: Schema, problems: Problems) -> list[TrialSpec]:
    fixed: Layer = {k: (v, Loc("schema default", None)) for k, v in schema.defaults().items()}
    for layer in ex.fixed:
        fixed.update(layer)
    explicit = bool(ex.abbrev) and all(a in ex.abbrev for a in ex.axes.order if a not in ex.unnamed)
    used_excludes: set[int] = set()
    admitted = _Admitted(ex, problems)
    for combo in _grid_points(ex.axes):
        point = _merged_point(combo, fixed, ex, schema, problems)
        if point is None:
            continue
        for trial in _seed_trials(*point, ex, schema, problems, explicit, used_excludes):
            admitted.add(trial)
    for i, exclude in enumerate(ex.excludes):
        if i not in used_excludes:
            shown = ", ".join(f"{k}={v!r}" for k, v in exclude.values.items())
            problems.add(exclude.loc.file, exclude.loc.line, "exclude",
                         f"entry {{{shown}}} matches no trial",
                         "check the values against the grid; a typo here would silently run them.")
    return admitted.trials
