"""The run settings of a sweep file: resources, metric, stop, retries, scheduler, tracking, seeds."""

from __future__ import annotations

import dataclasses
import math
import re
from types import MappingProxyType
from typing import Any

from orchestrator.sweepfile._yaml import LineDict, plain
from orchestrator.sweepfile.errors import Problems, did_you_mean
from orchestrator.sweepfile.model import Budget, Resources, Scheduler, StopRule

__all__ = ["parse_resources", "parse_metric", "parse_objectives", "parse_budget", "parse_duration", "parse_stop", "stall_default", "data_parallel", "vary_resources", "parse_scheduler", "parse_seeds",
           "parse_memory", "parse_int", "parse_choice", "parse_experiment"]

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?|(b))?\s*$", re.I)
_POWER = {"k": 1, "m": 2, "g": 3, "t": 4}
# option -> (minimum, whole number?) per scheduler; steps are the trainer's report steps
_SCHEDULER_TYPES = {
    "none": {},
    "asha": {"grace_period": (1, True), "reduction_factor": (1.01, False), "max_t": (1, True),
             "brackets": (1, True)},
    "median": {"grace_period": (0, False), "min_samples_required": (1, True), "min_time_slice": (0, True)},
}
_SCHEDULER_OPTIONS = {name: set(types) for name, types in _SCHEDULER_TYPES.items()}


def parse_memory(value: Any) -> int | None:
    """``80G``, ``512Mi``, ``80000`` (a bare number is MB, like ylaunch --memory=80000) -> bytes."""
    if isinstance(value, bool):
        return None
    m = _MEMORY.match(str(value))
    if not m or float(m.group(1)) <= 0:
        return None
    number, unit, binary, plain_bytes = m.groups()
    if plain_bytes:
        return int(float(number))
    base = 1024 if binary else 1000
    return int(float(number) * base ** _POWER[(unit or "m").lower()])


def _section(doc: LineDict, name: str, file: str, problems: Problems) -> LineDict | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(file, doc.lines.get(name), name, f"expected a mapping, got {type(value).__name__}")
        return None
    return value


def _unknown(section: LineDict, name: str, allowed: set[str], file: str, problems: Problems) -> None:
    for key in section:
        if key not in allowed:
            problems.add(file, section.lines.get(key), f"{name}.{key}", "unknown key;",
                         did_you_mean(str(key), allowed))


def _number(section: LineDict, key: str, file: str, problems: Problems, name: str,
            minimum: float = 0.0, integer: bool = False) -> Any:
    value = section.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and value >= minimum
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        kind = "an integer" if integer else "a finite number"
        full = f"{name}.{key}" if name else key
        problems.add(file, section.lines.get(key), full, f"expected {kind} >= {minimum:g}, got {value!r}")
        return None
    return value


def parse_resources(doc: LineDict, file: str, problems: Problems) -> tuple[Resources, int | None]:
    section = _section(doc, "resources", file, problems)
    if section is None:
        return Resources(), None
    _unknown(section, "resources", {"cpu", "gpu", "memory", "custom", "max_concurrent", "workers"}, file, problems)
    cpu = _number(section, "cpu", file, problems, "resources") if "cpu" in section else 1.0
    gpu = _number(section, "gpu", file, problems, "resources") if "gpu" in section else 0.0
    if isinstance(gpu, (int, float)) and gpu > 1 and gpu != int(gpu):
        problems.add(file, section.lines.get("gpu"), "resources.gpu",
                     f"a fraction is allowed below 1 GPU only, got {gpu}", "use a whole number above 1.")
    memory = None
    if section.get("memory") is not None:
        memory = parse_memory(section["memory"])
        if memory is None:
            problems.add(file, section.lines.get("memory"), "resources.memory",
                         f"cannot read {section['memory']!r} as an amount of memory",
                         "write e.g. 80G, 512M or 80000 (MB).")
    custom: dict[str, float] = {}
    if section.get("custom") is not None:
        raw = section["custom"]
        if not isinstance(raw, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                for v in raw.values()):
            problems.add(file, section.lines.get("custom"), "resources.custom",
                         "expected a mapping of resource name to amount, e.g. {big_node: 1}")
        else:
            custom = {str(k): float(v) for k, v in raw.items()}
    max_concurrent = None
    if section.get("max_concurrent") is not None:
        max_concurrent = _number(section, "max_concurrent", file, problems, "resources", 1, True)
    workers = _number(section, "workers", file, problems, "resources", 1, True) if "workers" in section else None
    resources = Resources(float(cpu or 0), float(gpu or 0), memory, MappingProxyType(custom), workers or 1)
    return resources, max_concurrent


def data_parallel(resources: Resources, section: LineDict | None, distributed: bool, trainer: str,
                  file: str, problems: Problems) -> Resources:
    """``resources`` with its worker count settled for the trainer: ``gpu: N`` on a trainer that
    trains data-parallel means N workers of one GPU each, ``workers: N`` asks for N explicitly
    (and must agree with ``gpu:``); a trainer that cannot train data-parallel keeps one worker."""
    lines = section.lines if section is not None else {}
    explicit = section is not None and "workers" in section
    gpu, workers = resources.gpu, resources.workers
    if not distributed:
        if explicit and workers > 1:
            problems.add(file, lines.get("workers"), "resources.workers",
                         f"trainer {trainer!r} cannot train one trial on several workers",
                         "remove workers: (a command trainer's script can use the trial's GPUs itself, "
                         "through {gpus} or torchrun's --nproc_per_node {nproc}); pose, seg and pose3d "
                         "train data-parallel.")
        return resources
    if gpu > 1 and not explicit:
        workers = int(gpu)
    if workers > 1 and 0 < gpu < 1:
        problems.add(file, lines.get("gpu"), "resources.gpu", f"a fraction of a GPU ({gpu:g}) cannot be "
                     f"shared by {workers} data-parallel workers", f"give each worker a whole GPU: gpu: {workers}.")
    elif explicit and gpu >= 1 and gpu != workers:
        problems.add(file, lines.get("gpu"), "resources.gpu", f"{gpu:g} GPUs for {workers} workers: each "
                     "data-parallel worker trains on one GPU", f"write gpu: {workers} (or gpu: 0 for CPU workers).")
    return dataclasses.replace(resources, workers=workers)


def vary_resources(base: Resources, section: LineDict | None, distributed: bool, trainer: str,
                   varied: dict[str, Any]) -> tuple[Resources, str, str]:
    """One grid point's resources, its resource axes over the sweep's ``resources:``; with
    a problem (message, hint) when they cannot be, ``""`` otherwise. ``resources.gpu: N`` on a
    trainer that trains data-parallel is N workers of one GPU each (below 1: one worker on a
    share); ``resources.workers: N`` is N CPU workers."""
    fixed = section if section is not None else {}
    if "resources.workers" in varied:
        workers = int(varied["resources.workers"])
        if not distributed and workers > 1:
            return base, f"trainer {trainer!r} cannot train one trial on several workers", \
                "vary resources.gpu instead (a command trainer's script uses the trial's GPUs through {gpus} or {nproc})."
        if base.gpu > 0:
            return base, f"the trials' GPUs are fixed (gpu: {base.gpu:g}) while their workers vary", \
                "vary resources.gpu: each data-parallel worker trains on one GPU, so the GPUs give the workers."
        return dataclasses.replace(base, workers=workers), "", ""
    gpu = float(varied["resources.gpu"])
    if gpu > 1 and gpu != int(gpu):
        return base, f"a fraction is allowed below 1 GPU only, got {gpu:g}", "use whole numbers above 1."
    if not distributed:
        return dataclasses.replace(base, gpu=gpu), "", ""
    if "workers" in fixed:
        return base, f"the trials' workers are fixed (workers: {base.workers}) while their GPUs vary", \
            "remove workers: from resources: - on GPUs each card is one worker, so gpu: N gives N."
    return dataclasses.replace(base, gpu=gpu, workers=max(1, int(gpu))), "", ""


def parse_objectives(doc: LineDict, file: str, problems: Problems, default: str,
                     default_mode: str) -> tuple[tuple[str, str], ...]:
    """The metric a sweep optimises, or several: ``metric: {val/Mean: max, model/params: min}``
    (or a list of ``{name, mode}``) makes a multi-objective sweep; the first is the primary one."""
    value = doc.get("metric")
    line = doc.lines.get("metric")
    if isinstance(value, list):
        out = []
        for item, item_line in zip(value, getattr(value, "lines", [line] * len(value))):
            if isinstance(item, dict) and len(item) == 1 and "name" not in item:
                (name, mode), = item.items()
                out.append(_objective(str(name), mode, item_line, file, problems))
            elif isinstance(item, dict):
                sub = LineDict({"metric": item})
                sub.lines = {"metric": item_line}
                out.append(parse_metric(sub, file, problems, default, default_mode))
            else:
                problems.add(file, item_line, "metric", f"expected {{name: ..., mode: max|min}}, got {item!r}")
        return _distinct(out, line, file, problems) or ((default, default_mode),)
    if isinstance(value, dict) and value and not set(value) & {"name", "mode"}:
        out = [_objective(str(k), v, value.lines.get(k, line), file, problems) for k, v in value.items()]
        return _distinct(out, line, file, problems)
    return (parse_metric(doc, file, problems, default, default_mode),)


def _objective(name: str, mode: object, line: int | None, file: str, problems: Problems) -> tuple[str, str]:
    if mode not in ("max", "min"):
        problems.add(file, line, f"metric.{name}", f"mode must be max or min, got {mode!r}")
        return name, "max"
    return name, str(mode)


def _distinct(out: list, line: int | None, file: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    names = [n for n, _ in out]
    if len(set(names)) < len(names):
        problems.add(file, line, "metric", "lists a metric twice", "name each objective once.")
    return tuple(out)


def parse_metric(doc: LineDict, file: str, problems: Problems, default: str,
                 default_mode: str) -> tuple[str, str]:
    value = doc.get("metric")
    if value is None:
        return default, default_mode
    if isinstance(value, str):
        return value, default_mode
    if not isinstance(value, dict):
        problems.add(file, doc.lines.get("metric"), "metric", "expected {name: ..., mode: max|min}")
        return default, default_mode
    _unknown(value, "metric", {"name", "mode"}, file, problems)
    name = value.get("name", default)
    if not isinstance(name, str) or not name:
        problems.add(file, value.lines.get("name", value.line), "metric.name",
                     "expected the name of a reported metric, e.g. val/Mean")
    mode = parse_choice(value, "mode", ("max", "min"), default_mode, file, problems, "metric")
    return str(name), mode


def parse_choice(section: LineDict, key: str, choices: tuple[str, ...], default: str, file: str,
                 problems: Problems, name: str = "") -> str:
    value = section.get(key, default)
    if value not in choices:
        full = f"{name}.{key}" if name else key
        problems.add(file, section.lines.get(key), full,
                     f"must be one of {', '.join(choices)}, got {value!r}")
        return default
    return value


def parse_int(doc: LineDict, key: str, default: int, file: str, problems: Problems) -> int:
    if doc.get(key) is None:
        return default
    value = _number(doc, key, file, problems, "", 0, True)
    return default if value is None else value


def parse_stop(doc: LineDict, file: str, problems: Problems) -> StopRule:
    section = _section(doc, "stop", file, problems)
    if section is None:
        return StopRule()
    _unknown(section, "stop", {"max_epochs", "on_nan", "timeout", "stall"}, file, problems)
    max_epochs = None
    if section.get("max_epochs") is not None:
        max_epochs = _number(section, "max_epochs", file, problems, "stop", 1, True)
    timeout = None
    if section.get("timeout") is not None:  # a duration (2h, 90m) or a number of seconds
        timeout = parse_duration(section["timeout"])
        if timeout is None:
            problems.add(file, section.lines.get("timeout"), "stop.timeout", f"expected a duration, got "
                         f"{section['timeout']!r}", "e.g. timeout: 2h, 90m, 45s or a number of seconds.")
    on_nan = parse_choice(section, "on_nan", ("stop", "continue"), "stop", file, problems, "stop")
    stall = None  # unset: the default for the trial's worker count (see stall_default)
    if section.get("stall") in ("off", False):
        stall = 0.0
    elif section.get("stall") is not None:
        stall = parse_duration(section["stall"])
        if stall is None:
            problems.add(file, section.lines.get("stall"), "stop.stall", f"expected a duration, got "
                         f"{section['stall']!r}", "e.g. stall: 30m, 90s or a number of seconds; off turns it off.")
    return StopRule(max_epochs, on_nan, None if timeout is None else float(timeout), stall, stall is not None)


STALL_DEFAULT_S = 1800.0  # a data-parallel trial silent this long is taken to hang in a collective


def stall_default(stop: StopRule, workers: int) -> StopRule:
    """``stop.stall`` as it applies: what the file says (``off`` -> none), else 30 minutes for a
    trial of several workers, where a dead peer leaves the others waiting for ever, and none for one."""
    if stop.stall_s is None:
        return dataclasses.replace(stop, stall_s=STALL_DEFAULT_S if workers > 1 else None)
    return dataclasses.replace(stop, stall_s=stop.stall_s or None)


def parse_scheduler(doc: LineDict, file: str, problems: Problems) -> Scheduler:
    value = doc.get("scheduler")
    if value is None:
        return Scheduler()
    if isinstance(value, str):
        value = LineDict({"name": value})
        value.lines["name"] = doc.lines.get("scheduler")
    if not isinstance(value, dict):
        problems.add(file, doc.lines.get("scheduler"), "scheduler", "expected a name or {name: ..., ...}")
        return Scheduler()
    name = parse_choice(value, "name", tuple(_SCHEDULER_OPTIONS), "none", file, problems, "scheduler")
    _unknown(value, "scheduler", {"name"} | _SCHEDULER_OPTIONS[name], file, problems)
    for key, (minimum, integer) in _SCHEDULER_TYPES[name].items():
        if key in value:
            _number(value, key, file, problems, "scheduler", minimum, integer)
    options = {k: plain(v) for k, v in value.items() if k != "name"}
    return Scheduler(name, MappingProxyType(options))


def parse_experiment(doc: LineDict, sweep_name: str, file: str, problems: Problems) -> str:
    value = doc.get("tracking")
    if value is None:
        return sweep_name
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        _unknown(value, "tracking", {"experiment"}, file, problems)
        experiment = value.get("experiment", sweep_name)
        if isinstance(experiment, str) and experiment:
            return experiment
    problems.add(file, doc.lines.get("tracking"), "tracking",
                 "expected an experiment name or {experiment: NAME}")
    return sweep_name


def parse_seeds(doc: LineDict, file: str, problems: Problems, limit: int = 10_000) -> tuple[int, ...]:
    value = doc.get("seeds")
    line = doc.lines.get("seeds")
    if value is None:
        return (0,)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            problems.add(file, line, "seeds", f"expected at least 1 seed, got {value}")
            return (0,)
        if value > limit:
            problems.add(file, line, "seeds", f"{value:,} seeds are more than the limit of {limit:,} trials",
                         "use fewer seeds, or raise the limit with `max_trials: N` or --max-trials N.")
            return (0,)
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool)
                                                 for s in value):
        if len(set(value)) != len(value):
            problems.add(file, line, "seeds", f"seeds repeat: {value}", "each seed may appear once.")
        return tuple(dict.fromkeys(value))
    problems.add(file, line, "seeds", f"expected a count N (seeds 0..N-1) or a list of ints, got {value!r}")
    return (0,)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float | None:
    """``6h``, ``90m``, ``45s``, ``2d`` or a number of seconds -> seconds; None when it is not one."""
    if isinstance(value, bool):
        return None
    m = _DURATION.match(str(value))
    if not m or float(m.group(1)) <= 0:
        return None
    return float(m.group(1)) * _UNIT_S[m.group(2).lower()]


def parse_budget(doc: LineDict, file: str, problems: Problems) -> Budget | None:
    section = _section(doc, "budget", file, problems)
    if section is None:
        return None
    _unknown(section, "budget", {"trials", "wall", "gpu_hours"}, file, problems)
    trials = _number(section, "trials", file, problems, "budget", 1, integer=True) if "trials" in section else None
    gpu_hours = _number(section, "gpu_hours", file, problems, "budget", 0) if "gpu_hours" in section else None
    wall = None
    if "wall" in section:
        wall = parse_duration(section["wall"])
        if wall is None:
            problems.add(file, section.lines.get("wall"), "budget.wall", f"expected a duration, got {section['wall']!r}",
                         "e.g. wall: 6h, 90m, 45s or a number of seconds.")
    if not (trials or wall or gpu_hours):
        if not problems:
            problems.add(file, doc.lines.get("budget"), "budget", "sets no limit")
        return None
    return Budget(trials, wall, float(gpu_hours) if gpu_hours else None)
