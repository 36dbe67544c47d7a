"""``search:``: parameters drawn from distributions instead of listed.

    search:
      method: optuna            # random | optuna (adaptive; sampler tpe by default)
      sampler: tpe              # optuna only: tpe, random, cmaes, gp, nsga2, qmc
      num_samples: 24
      seed: 0
      space:
        loss.t: {loguniform: [5, 80]}
        loss.probMargin: {uniform: [0, 0.9]}
        loss.pointMaxW: {choice: [0, 1, 2]}
        model.width: {int: [16, 64]}           # both ends included
        optim.lr: {qloguniform: [1e-4, 1e-2, 1e-4]}   # low, high, step

``random`` draws every point when the file is read (Optuna's RandomSampler under ``seed``), so
the points are ordinary trials: each one runs every grid cell, variant and seed, ``--dry-run``
lists them, and a re-run draws the same ones. ``optuna`` asks Ray Tune's OptunaSearch for each
point as earlier ones finish; its points are known only while it runs, so it takes no grid,
variants or more than one seed. Pure apart from the sampler: no ray, mlflow or torch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from orchestrator.sweepfile._yaml import LineDict, plain
from orchestrator.sweepfile.errors import Problems, did_you_mean
from orchestrator.sweepfile.schema import Schema, check_value, type_name

__all__ = ["Distribution", "SearchSpec", "parse_search", "attach", "finish", "KINDS", "METHODS", "SAMPLERS",
           "check_objectives", "draw_random", "optuna_distributions", "raw_point", "SAMPLE_AXIS"]

KINDS = ("uniform", "loguniform", "quniform", "qloguniform", "int", "choice")
METHODS = ("random", "optuna")
SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2", "qmc")
SAMPLE_AXIS = "sample"  # the axis that numbers a random search's points
_KEYS = ("method", "sampler", "num_samples", "seed", "max_concurrent", "space")


@dataclass(frozen=True)
class Distribution:
    key: str  # the dotted config key
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None  # quniform / qloguniform
    choices: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind in ("loguniform", "qloguniform")

    def resolve(self, raw: Any) -> Any:
        """The value a trial gets from what the sampler drew: a choice by its index, a stepped
        value on its grid (Optuna has no log scale with a step), an int as an int."""
        if self.kind == "choice":
            return self.choices[int(raw)]
        if self.kind == "int":
            return int(raw)
        value = float(raw)
        if self.step:
            value = min(self.high, max(self.low, round(value / self.step) * self.step))
            value = float(f"{value:.12g}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "choices": list(self.choices)}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> "Distribution":
        return Distribution(data["key"], data["kind"], data.get("low", 0.0), data.get("high", 0.0), data.get("step"),
                            tuple(data.get("choices") or ()))

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice of {', '.join(json.dumps(c) for c in self.choices)}"
        step = f" step {self.step:g}" if self.step else ""
        return f"{self.kind} {self.low:g}..{self.high:g}{step}"


@dataclass(frozen=True)
class SearchSpec:
    method: str
    num_samples: int
    seed: int
    space: tuple[Distribution, ...]
    sampler: str = "tpe"
    points: tuple[Mapping[str, Any], ...] = ()  # random: the drawn points, in order
    base: Any = None  # optuna: the TrialSpec every point starts from (fixed params, seed)
    templates: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # optuna: unfilled {name}s
    runtime: tuple[str, ...] = ()  # placeholders the trainer fills itself ({gpus})
    sweep: str = ""
    line: int | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def adaptive(self) -> bool:
        return self.method == "optuna"

    def resolve(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Config overrides from a sampler's raw point (choice indices, unstepped floats)."""
        return {d.key: d.resolve(raw[d.key]) for d in self.space if d.key in raw}

    def point_config(self, base_config: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
        """A suggested point's whole config, the same in the driver and the worker: its values over
        where every point starts, with ``{name}``-style placeholders filled for this point (its
        name there is ``p-`` and a digest of its values, so each point has its own ``out_dir``)."""
        from orchestrator.sweepfile.placeholders import fill

        values = self.resolve(raw)
        config = {**base_config, **values}
        if self.templates:
            digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=repr).encode()).hexdigest()
            point = f"p-{digest[:10]}"
            context = {**config, "name": point, "setting": point, "seed": config.get("seed", 0), "sweep": self.sweep}
            for key, template in self.templates.items():
                config[key] = fill(template, context, self.runtime)
        return config


def _distribution(key: str, spec: Any, line: int | None, schema: Schema, file: str,
                  problems: Problems) -> Distribution | None:
    where = f"search.space.{key}"
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        given = f"unknown distribution {next(iter(spec))!r}" if isinstance(spec, dict) and len(spec) == 1 \
            else f"expected one distribution, e.g. {{uniform: [0, 0.9]}}, got {json.dumps(plain(spec), default=str)}"
        hint = did_you_mean(str(next(iter(spec))), KINDS) if isinstance(spec, dict) and len(spec) == 1 else ""
        problems.add(file, line, where, f"{given};", hint or f"kinds: {', '.join(KINDS)}.")
        return None
    kind, args = next(iter(spec.items()))
    args = plain(args)
    info = schema.param_info(key)
    if kind == "choice":
        if not isinstance(args, list) or not args:
            problems.add(file, line, where, "choice takes a non-empty list of values, e.g. {choice: [0, 1, 2]}")
            return None
        for value in args:
            _, error = check_value(info, value)
            if error:
                problems.add(file, line, where, f"choice value {json.dumps(value)}: {error}")
                return None
        return Distribution(key, kind, choices=tuple(args))
    want = 3 if kind.startswith("q") else 2
    shape = "[low, high, step]" if want == 3 else "[low, high]"
    if not isinstance(args, list) or len(args) != want or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args):
        problems.add(file, line, where, f"{kind} takes {shape} as numbers, got {json.dumps(args, default=str)}")
        return None
    low, high, step = float(args[0]), float(args[1]), (float(args[2]) if want == 3 else None)
    wanted = type_name(info.type)
    if kind == "int" and not all(float(a).is_integer() for a in args):
        problems.add(file, line, where, f"int takes whole numbers, got {args}")
    elif kind != "int" and "float" not in wanted and wanted != "any value":
        problems.add(file, line, where, f"{kind} draws real numbers, but {key} is {wanted};",
                     "use int: [low, high] or choice: [...] for it." if "int" in wanted else "use choice: [...].")
    elif low >= high:
        problems.add(file, line, where, f"low {low:g} must be below high {high:g}")
    elif "log" in kind and low <= 0:
        problems.add(file, line, where, f"{kind} needs a low above 0, got {low:g}", "use uniform for a range from 0.")
    elif step is not None and step <= 0:
        problems.add(file, line, where, f"the step must be above 0, got {step:g}")
    else:
        for bound in (low, high):
            _, error = check_value(info, int(bound) if kind == "int" else bound)
            if error:
                problems.add(file, line, where, f"bound {bound:g}: {error}")
                return None
        return Distribution(key, kind, low, high, step)
    return None


def _space(section: LineDict, schema: Schema, file: str, problems: Problems, prefix: str = "") -> list[Distribution]:
    out = []
    for name, spec in section.items():
        key = f"{prefix}{name}"
        line = section.lines.get(name)
        is_group = isinstance(spec, dict) and not (len(spec) == 1 and next(iter(spec)) in KINDS)
        if is_group and any(k.startswith(key + ".") for k in schema.params):
            out += _space(spec, schema, file, problems, key + ".")
            continue
        if schema.param_info(key) is None:
            problems.add(file, line, f"search.space.{key}", "not a parameter of this trainer;",
                         did_you_mean(key, list(schema.params)) or "see `orch trainers NAME`.")
            continue
        dist = _distribution(key, spec, line, schema, file, problems)
        if dist is not None:
            out.append(dist)
    return out


def _int(section: LineDict, name: str, default: int | None, minimum: int, file: str,
         problems: Problems) -> int | None:
    value = section.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.add(file, section.lines.get(name), f"search.{name}", f"expected a whole number >= {minimum}, "
                     f"got {json.dumps(plain(value), default=str)}")
        return None
    return value


def parse_search(doc: LineDict, schema: Schema, file: str, problems: Problems) -> SearchSpec | None:
    section = doc.get("search")
    if section is None:
        return None
    line = doc.lines.get("search")
    if not isinstance(section, dict):
        problems.add(file, line, "search", "expected a mapping with method:, num_samples: and space:")
        return None
    for key in section:
        if key not in _KEYS:
            problems.add(file, section.lines.get(key), f"search.{key}", "unknown key;", did_you_mean(str(key), _KEYS))
    method = section.get("method", "optuna")
    if method not in METHODS:
        problems.add(file, section.lines.get("method"), "search.method", f"unknown method {method!r};",
                     did_you_mean(str(method), METHODS) or f"one of {', '.join(METHODS)}.")
    sampler = section.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        problems.add(file, section.lines.get("sampler"), "search.sampler", f"unknown sampler {sampler!r};",
                     did_you_mean(str(sampler), SAMPLERS) or f"one of {', '.join(SAMPLERS)}.")
    elif "sampler" in section and method == "random":
        problems.add(file, section.lines.get("sampler"), "search.sampler", "only method: optuna takes a sampler",
                     "remove it, or use method: optuna.")
    num = _int(section, "num_samples", None, 1, file, problems)
    if num is None and "num_samples" not in section:
        problems.add(file, line, "search.num_samples", "how many points to try is required", "e.g. num_samples: 20.")
    seed = _int(section, "seed", 0, 0, file, problems)
    concurrent = _int(section, "max_concurrent", None, 1, file, problems)
    space_doc = section.get("space")
    if not isinstance(space_doc, dict) or not space_doc:
        problems.add(file, section.lines.get("space", line), "search.space",
                     "expected a mapping of parameter to distribution", "e.g. space: {loss.t: {loguniform: [5, 80]}}.")
        return None
    space = _space(space_doc, schema, file, problems)
    if num is None or seed is None or method not in METHODS or not space:
        return None
    extra = {"max_concurrent": concurrent} if concurrent else {}
    return SearchSpec(method, num, seed, tuple(space), sampler if method == "optuna" else "random",
                      line=line, extra=MappingProxyType(extra))


SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)  # Optuna refuses them on a study with several directions


def check_objectives(doc: LineDict, search: SearchSpec | None, objectives: tuple, file: str,
                     problems: Problems) -> None:
    """A sampler that optimises one objective cannot drive a search with several."""
    if search is None or len(objectives) < 2 or search.sampler not in SINGLE_OBJECTIVE_SAMPLERS:
        return
    section = doc.get("search")
    problems.add(file, section.lines.get("sampler", search.line), "search.sampler",
                 f"sampler {search.sampler} optimises one objective, and metric: names {len(objectives)} "
                 f"({', '.join(m for m, _ in objectives)});",
                 f"use one of {', '.join(x for x in SAMPLERS if x not in SINGLE_OBJECTIVE_SAMPLERS)} for several "
                 f"objectives, or keep one metric.")


def optuna_distributions(space: tuple[Distribution, ...]) -> dict[str, Any]:
    """Optuna's distributions for a space (choices as indices, so any value can be a choice)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for d in space:
        if d.kind == "choice":
            out[d.key] = CategoricalDistribution(list(range(len(d.choices))))
        elif d.kind == "int":
            out[d.key] = IntDistribution(int(d.low), int(d.high))
        elif d.kind == "quniform":
            out[d.key] = FloatDistribution(d.low, d.high, step=d.step)
        else:  # Optuna draws no log scale with a step: qloguniform is stepped by resolve()
            out[d.key] = FloatDistribution(d.low, d.high, log=d.log)
    return out


def draw_random(space: tuple[Distribution, ...], num_samples: int, seed: int) -> list[dict[str, Any]]:
    """``num_samples`` points from Optuna's RandomSampler under ``seed``: the same every time."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    distributions = optuna_distributions(space)
    points = []
    for _ in range(num_samples):
        trial = study.ask(distributions)
        points.append({d.key: d.resolve(trial.params[d.key]) for d in space})
        study.tell(trial, 0.0)
    return points


def attach(search: SearchSpec, axes, seeds: tuple[int, ...], overrides: Mapping[str, Any], file: str,
           problems: Problems) -> SearchSpec:
    """Fit a search into the sweep's axes: ``random``'s drawn points become one more dimension
    (numbered by the ``sample`` axis, the drawn values as axes too); ``optuna`` must stand alone."""
    from orchestrator.sweepfile.axes import Point
    from orchestrator.sweepfile.layers import Loc

    for d in search.space:
        if d.key in axes.order:
            problems.add(file, search.line, f"search.space.{d.key}", "is a grid, zip or variant axis too; "
                         "a parameter is varied once", "keep it in one of the two.")
        if d.key in overrides:
            problems.add("--set", None, d.key, "is searched over (search.space), so --set cannot fix it",
                         "drop it from the space with a profile, or drop --set.")
    if search.adaptive:
        if axes.order:
            problems.add(file, search.line, "search.method", f"optuna suggests each point while the sweep runs, so "
                         f"it takes no grid, zip or variants (this sweep varies {', '.join(axes.order)})",
                         "make them choices in search.space, or use method: random, which crosses its points "
                         "with every grid cell.")
        if len(seeds) > 1:
            problems.add(file, search.line, "search.method", "optuna scores each point once, so it runs one seed",
                         "set seeds: 1 (or drop seeds:), or use method: random for every point x seed.")
        return search
    points = draw_random(search.space, search.num_samples, search.seed)
    loc = Loc(file, search.line)
    axes.extra.append([Point({SAMPLE_AXIS: i, **p}, {k: (v, loc) for k, v in p.items()})
                       for i, p in enumerate(points)])
    axes.order += [SAMPLE_AXIS, *(d.key for d in search.space)]
    axes.line = axes.line or search.line
    return SearchSpec(**{**search.__dict__, "points": tuple(MappingProxyType(p) for p in points)})


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return "{" in value
    if isinstance(value, (list, tuple)):
        return any(_has_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    return False


def finish(search: SearchSpec, trials: list, axes, budget: Mapping[str, Any], max_concurrent: int | None,
           layers: list, runtime: tuple[str, ...], sweep: str) -> tuple[SearchSpec, list, int | None]:
    """After expansion: an optuna search keeps its one expanded trial as where every point starts,
    and the unfilled placeholder values of ``layers`` (lowest first) to fill per point; it lists
    no trials. ``search.max_concurrent`` wins over ``resources.max_concurrent``."""
    max_concurrent = search.extra.get("max_concurrent", max_concurrent)
    if not search.adaptive:
        return search, trials, max_concurrent
    raw: dict[str, Any] = {}
    for layer in layers:
        raw.update({k: v for k, (v, _) in layer.items()})
    templates = {k: v for k, v in raw.items() if _has_placeholder(v) and k not in {d.key for d in search.space}}
    extra = {**search.extra, "budget": dict(budget)}
    axes.order = [d.key for d in search.space]
    return SearchSpec(**{**search.__dict__, "base": trials[0], "extra": extra, "templates": MappingProxyType(templates),
                         "runtime": tuple(runtime), "sweep": sweep}), [], max_concurrent


def raw_point(space: tuple[Distribution, ...], params: Mapping[str, str]) -> dict[str, Any] | None:
    """A stored trial's point as the sampler saw it (choices as indices), from its logged params;
    None when one is missing or no longer in the space."""
    from orchestrator.protocol import param_text, typed_param

    raw: dict[str, Any] = {}
    for d in space:
        text = params.get(d.key)
        if text is None:
            return None
        if d.kind == "choice":
            index = next((i for i, c in enumerate(d.choices) if param_text(c) == text), None)
            if index is None:
                return None
            raw[d.key] = index
        else:
            raw[d.key] = typed_param(text)
    return raw
