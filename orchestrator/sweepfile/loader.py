"""Read a sweep file (and its profile and ``--set`` overrides) into a validated SweepSpec."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from orchestrator.registry import RegistryError, get_trainer
from orchestrator.util.secrets import secret_keys
from orchestrator.sweepfile._yaml import LineDict, YamlSyntaxError, parse_scalar, parse_yaml, read_text
from orchestrator.sweepfile.axes import RESOURCE_AXES, Axes, parse_abbrev, parse_axes, parse_excludes
from orchestrator.sweepfile.errors import Problem, Problems, SpecError, did_you_mean
from orchestrator.sweepfile.expand import Expansion, expand_trials
from orchestrator.sweepfile.layers import Layer, Loc, check_layer, flatten_layer, load_base
from orchestrator.sweepfile.model import Resources, SweepSpec
from orchestrator.sweepfile.options import (parse_budget, parse_choice, parse_experiment, parse_int, parse_objectives,
                                       parse_resources, parse_scheduler, parse_seeds, parse_stop,
                                       data_parallel, stall_default, vary_resources)
from orchestrator.sweepfile.schema import Schema
from orchestrator.sweepfile.slurm import parse_slurm
from orchestrator.sweepfile.search import SAMPLE_AXIS, attach, check_objectives, finish, parse_search

__all__ = ["load_sweep", "load_trainer_run", "parse_overrides", "TOP_LEVEL_KEYS"]

TOP_LEVEL_KEYS = ("name", "description", "trainer", "base", "params", "grid", "zip", "variants",
                  "seeds", "exclude", "abbrev", "resources", "metric", "stop", "retries", "on_oom",
                  "scheduler", "tracking", "profiles", "secrets", "max_trials", "search", "budget", "slurm")
MAX_TRIALS = 10_000  # above this a sweep is refused unless max_trials: / --max-trials says more
_MERGED_IN_PROFILE = ("params", "resources", "stop", "abbrev", "search", "budget", "slurm")


def _read(path: Path, file: str) -> LineDict:
    if not path.is_file():
        raise SpecError([Problem(file, None, "", "no such sweep file",
                                 "check the path; sweeps live in sweeps/.")])
    try:
        doc = parse_yaml(read_text(path))
    except YamlSyntaxError as exc:
        raise SpecError([Problem(file, exc.line, "", f"not valid YAML: {exc}",
                            "check indentation and quoting around this line.")]) from None
    if not isinstance(doc, LineDict):
        first = next((i for i, text in enumerate(read_text(path).splitlines(), 1)
                      if text.strip() and not text.lstrip().startswith("#")), 1)
        raise SpecError([Problem(file, first, "", f"a sweep file is a mapping with at least `trainer:`, "
                                 f"not a {'list' if isinstance(doc, list) else 'single value'}",
                                 "see docs/sweeps.md for an example.")])
    return doc


def _check_profiles(doc: LineDict, file: str, problems: Problems) -> None:
    """Every profile's keys, whether or not this run applies it: a typo in `smoke:` is found
    by `orch validate`, not on the day someone runs the smoke test."""
    profiles = doc.get("profiles")
    if profiles is None:
        return
    if not isinstance(profiles, dict):
        problems.add(file, doc.lines.get("profiles"), "profiles", "expected a mapping of profile name to keys")
        return
    allowed = [k for k in TOP_LEVEL_KEYS if k not in ("name", "trainer", "profiles")]
    for name, overlay in profiles.items():
        if not isinstance(overlay, dict):
            problems.add(file, profiles.lines.get(name), f"profiles.{name}", "expected a mapping of top-level sweep keys")
            continue
        for key in overlay:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or "a profile may change: " + ", ".join(allowed)
                problems.add(file, overlay.lines.get(key), f"profiles.{name}.{key}", "cannot be set by a profile;", hint)


def _merged(base: dict, overlay: dict) -> LineDict:
    """``overlay`` over ``base``, mappings merged at every depth: a profile's ``params: {data:
    {synth_train: 32}}`` changes that one key and keeps the file's other ``data`` keys."""
    out = LineDict(base)
    out.line, out.lines = getattr(base, "line", None), dict(getattr(base, "lines", {}))
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = _merged(base[key], value)
        out[key] = value
        out.lines[key] = getattr(overlay, "lines", {}).get(key)
    return out


def _apply_profile(doc: LineDict, profile: str, file: str, problems: Problems) -> LineDict:
    profiles = doc.get("profiles") or LineDict()
    if not isinstance(profiles, dict) or profile not in profiles:
        names = ", ".join(map(str, profiles)) if isinstance(profiles, dict) and profiles else "none"
        problems.add(file, doc.lines.get("profiles"), "profiles",
                     f"no profile named {profile!r}; this sweep defines: {names}")
        return doc
    overlay = profiles[profile]
    if not isinstance(overlay, dict):
        problems.add(file, profiles.lines.get(profile), f"profiles.{profile}",
                     "expected a mapping of top-level sweep keys")
        return doc
    out = LineDict(doc)
    out.line, out.lines = doc.line, dict(doc.lines)
    for key, value in overlay.items():
        line = overlay.lines.get(key)
        if key not in TOP_LEVEL_KEYS or key in ("name", "trainer", "profiles"):
            continue  # reported by _check_profiles
        if key in _MERGED_IN_PROFILE and isinstance(doc.get(key), dict) and isinstance(value, dict):
            value = _merged(doc[key], value)
        out[key] = value
        out.lines[key] = line
    return out


def parse_overrides(overrides: Sequence[str], schema: Schema, problems: Problems) -> Layer:
    """``--set loss.t=15 --set loss.rs=[3,1]``: values typed as YAML types them."""
    layer: Layer = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.add("--set", None, item, "expected KEY=VALUE", "e.g. --set loss.t=15.")
            continue
        layer[key] = (parse_scalar(text), Loc("--set", None))
    return check_layer(layer, schema, problems, " given with --set")


SET_SECTIONS = ("resources", "stop", "budget", "slurm")  # --set resources.gpu=0 reaches these
SET_KEYS = ("seeds", "retries", "on_oom", "max_trials")  # and --set seeds=3 these


def _sweep_level_sets(doc: LineDict, overrides: Sequence[str], schema: Schema, problems: Problems) -> list[str]:
    """Put the ``--set`` values of sweep-level keys into ``doc`` (over the file and its profile);
    the others, the trainer's parameters, are returned. A key of the trainer's own wins."""
    rest = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        head, _, tail = key.partition(".")
        if not sep or key in schema.params or head in schema.groups or \
                not ((head in SET_SECTIONS and tail) or key in SET_KEYS):
            rest.append(item)
            continue
        problems.from_set.add(key)
        if key in SET_KEYS:
            doc[key], doc.lines[key] = parse_scalar(text), None
            continue
        section = LineDict(doc[head]) if isinstance(doc.get(head), dict) else LineDict()
        section.lines = dict(getattr(doc.get(head), "lines", {}))
        section[tail], section.lines[tail] = parse_scalar(text), None
        doc[head] = section
        doc.lines.setdefault(head, None)
    return rest


def load_sweep(path: str | Path, overrides: Sequence[str] = (), profile: str | None = None,
               max_trials: int | None = None) -> SweepSpec:
    """Read, validate and expand a sweep file; raise SpecError listing every problem found."""
    path = Path(path)
    file = str(path)
    doc = _read(path, file)
    return _load(doc, path, file, read_text(path), overrides, profile, max_trials)


def load_trainer_run(trainer: str, overrides: Sequence[str] = ()) -> SweepSpec:
    """A one-trial sweep of a trainer's defaults plus ``--set``: what ``orch train NAME`` runs."""
    doc = LineDict({"name": f"train-{trainer}", "trainer": trainer})
    doc.line, doc.lines = 1, {}
    file = f"orch train {trainer}"
    return _load(doc, Path(file), file, "", overrides, None)


def _trainer_checks(trainer, trials, layers: list[Layer], axes_line: int | None, fallback: Loc,
                    problems: Problems) -> None:
    """The trainer's own checks (parsers, list lengths, ...) on every trial, each problem reported
    once, at the place that last set the key (``--set``, params, a base file), else the axes."""
    check = trainer.load_check()
    if check is None:
        return
    seen = set()
    for trial in trials:
        for key, message in check(dict(trial.config)):
            if (key, message) in seen:
                continue
            seen.add((key, message))
            if key in trial.axes and key not in layers[-1]:  # axes override all but --set
                loc = Loc(fallback.file, axes_line or fallback.line)
            else:
                loc = next((layer[key][1] for layer in reversed(layers) if key in layer), fallback)
            problems.add(loc.file, loc.line, key, message)


def _trainer_of(doc: LineDict, path: Path, file: str, problems: Problems):
    """(sweep name, trainer name, its line, the registered Trainer); stops at a missing or unknown
    trainer, since nothing else can be checked without its schema."""
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        problems.add(file, doc.lines.get("name"), "name", f"expected a non-empty string, got {name!r}")
        name = path.stem
    trainer_name = doc.get("trainer")
    trainer_line = doc.lines.get("trainer", 1)
    if trainer_name is None:
        problems.add(file, doc.line or 1, "trainer", "missing: a sweep must name its trainer",
                     "add e.g. `trainer: toy`; `orch trainers` lists them.")
        problems.raise_if_any()
    try:
        trainer = get_trainer(str(trainer_name))
    except RegistryError as exc:
        problems.add(file, trainer_line, "trainer", f"{exc}.")
        problems.raise_if_any()
        raise
    return name, str(trainer_name), trainer_line, trainer


def _fixed_layers(doc: LineDict, path: Path, file: str, schema: Schema, problems: Problems) -> list[Layer]:
    """``base:`` files then ``params:``, flattened and checked against the schema."""
    fixed: list[Layer] = []
    if doc.get("base") is not None:
        fixed.extend(load_base(doc["base"], doc.lines.get("base"), path, schema, problems))
    if doc.get("params") is not None:
        if isinstance(doc["params"], dict):
            fixed.append(flatten_layer(doc["params"], schema, file, problems))
        else:
            problems.add(file, doc.lines.get("params"), "params", "expected a mapping of key: value")
    return [check_layer(layer, schema, problems) for layer in fixed]


def _secrets(doc: LineDict, schema: Schema, trials, file: str, problems: Problems) -> tuple[str, ...]:
    """Config keys never written in clear: ``secrets:`` entries, ``param(secret=True)`` ones,
    and every key whose name looks secret (orchestrator.util.secrets)."""
    listed = doc.get("secrets") or []
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        problems.add(file, doc.lines.get("secrets"), "secrets", "expected a list of config keys, e.g. "
                     "[db_pass] (names with KEY, TOKEN, PASSWORD, SECRET, CREDENTIAL or AUTH are secret anyway)")
        listed = []
    keys = {k for t in trials for k in t.config}
    marked = {k for k, info in schema.params.items() if info.secret} | set(listed)
    return tuple(sorted(secret_keys({k: None for k in keys}, marked)))


def _on_oom(doc: LineDict, file: str, schema: Schema, trainer_name: str, problems: Problems) -> str:
    on_oom = parse_choice(doc, "on_oom", ("fail", "halve_batch"), "fail", file, problems)
    if on_oom == "halve_batch" and not any(k.rsplit(".", 1)[-1] == "batch_size" for k in schema.params):
        problems.add(file, doc.lines.get("on_oom"), "on_oom",
                     f"halve_batch needs a batch_size parameter, which trainer {trainer_name!r} lacks")
    return on_oom


def _trial_limit(doc: LineDict, file: str, problems: Problems, given: int | None) -> int:
    if given is not None:
        return given
    if doc.get("max_trials") is None:
        return MAX_TRIALS
    value = doc["max_trials"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.add(file, doc.lines.get("max_trials"), "max_trials", f"expected a whole number >= 1, got {value!r}")
        return MAX_TRIALS
    return value


def _count_trials(axes, seeds: int, limit: int, file: str, problems: Problems) -> bool:
    """Count the trials before building any: a grid of millions is refused, not expanded."""
    count = 0
    for subgrid in axes.subgrids:
        size = seeds
        for dim in [*subgrid, *axes.extra]:
            size *= max(len(dim), 1)
        count += size
    if count > limit:
        problems.add(file, axes.line or 1, "max_trials", f"the sweep expands to {count:,} trials, more than the "
                     f"limit of {limit:,}", "shrink the grid or seeds, or raise the limit with `max_trials: N` "
                     "or --max-trials N.")
        return False
    return True


def _resources(doc: LineDict, axes: Axes, trainer, trainer_name: str, search, file: str, problems: Problems):
    """(the sweep's resources settled for its trainer, max_concurrent, how a point's resource
    axes become its trial's resources or None, the most workers a trial has)."""
    resources, max_concurrent = parse_resources(doc, file, problems)
    section = doc.get("resources") if isinstance(doc.get("resources"), dict) else None
    resources = data_parallel(resources, section, trainer.distributed, trainer_name, file, problems)
    vary = _resource_axes(axes, resources, section, trainer.distributed, trainer_name, search, file, problems)
    widest = max([resources.workers, *(vary(p.axes).workers for p in _resource_points(axes))] if vary else
                 [resources.workers])
    return resources, max_concurrent, vary, widest


def _resource_points(axes: Axes) -> list:
    dims = [d for sub in axes.subgrids for d in sub] + list(axes.extra)
    return [p for d in dims for p in d if any(k in RESOURCE_AXES for k in p.axes)]


def _resource_axes(axes: Axes, resources: Resources, section: LineDict | None, distributed: bool,
                   trainer: str, search, file: str, problems: Problems):
    """How a grid point's ``resources.gpu`` / ``resources.workers`` become its trial's resources
    (None when nothing varies them), each value checked where it was written."""
    points = _resource_points(axes)
    if not points:
        return None
    if all(k in axes.order for k in RESOURCE_AXES):
        problems.add(file, points[0].loc.line if points[0].loc else axes.line, "resources.workers",
                     "the GPUs and the workers of the trials are both varied", "vary one: resources.gpu "
                     "on GPUs (one worker per card), resources.workers on CPU workers.")
        return None
    if search is not None and search.adaptive:
        problems.add(file, points[0].loc.line if points[0].loc else axes.line,
                     next(k for k in points[0].axes if k in RESOURCE_AXES), "a search cannot vary what its trials reserve",
                     "run one sweep per resource setting, or grid the resources with a random search.")
        return None

    def vary(values):
        return vary_resources(resources, section, distributed, trainer, dict(values))[0]

    for point in points:
        _, message, hint = vary_resources(resources, section, distributed, trainer, dict(point.axes))
        if message:
            key = next(k for k in point.axes if k in RESOURCE_AXES)
            problems.add(point.loc.file if point.loc else file, point.loc.line if point.loc else axes.line,
                         key, message, hint)
    return vary


def _checked_doc(doc: LineDict, file: str, profile: str | None, problems: Problems) -> LineDict:
    """The file's keys checked, its profiles checked, the chosen one applied."""
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.add(file, doc.lines.get(key), str(key), "unknown top-level key;",
                         did_you_mean(str(key), TOP_LEVEL_KEYS))
    _check_profiles(doc, file, problems)
    return _apply_profile(doc, profile, file, problems) if profile else doc


def _load(doc: LineDict, path: Path, file: str, source: str, overrides: Sequence[str],
          profile: str | None, max_trials: int | None = None) -> SweepSpec:
    problems = Problems()
    doc = _checked_doc(doc, file, profile, problems)
    name, trainer_name, trainer_line, trainer = _trainer_of(doc, path, file, problems)
    schema = Schema(trainer.config)
    fixed = _fixed_layers(doc, path, file, schema, problems)
    set_layer = parse_overrides(_sweep_level_sets(doc, overrides, schema, problems), schema, problems)

    axes = parse_axes(doc, schema, file, problems)
    limit = _trial_limit(doc, file, problems, max_trials)
    seeds = parse_seeds(doc, file, problems, limit)
    excludes = parse_excludes(doc, schema, axes, file, problems)
    abbrev = parse_abbrev(doc, schema, axes, file, problems)
    search = parse_search(doc, schema, file, problems)
    if search is not None:
        search = attach(search, axes, seeds, {k for k in set_layer}, file, problems)
        if not search.adaptive:
            abbrev = {SAMPLE_AXIS: "r", **abbrev}
    resources, max_concurrent, vary, widest = _resources(doc, axes, trainer, trainer_name, search, file, problems)
    objectives = parse_objectives(doc, file, problems, trainer.metric, trainer.mode)
    metric, mode = objectives[0]
    check_objectives(doc, search, objectives, file, problems)
    stop = stall_default(parse_stop(doc, file, problems), widest)
    budget_limits = parse_budget(doc, file, problems)
    retries = parse_int(doc, "retries", 0, file, problems)
    on_oom = _on_oom(doc, file, schema, trainer_name, problems)
    scheduler = parse_scheduler(doc, file, problems)
    experiment, slurm = parse_experiment(doc, name, file, problems), parse_slurm(doc, file, problems)
    description = doc.get("description") or ""

    if not _count_trials(axes, len(seeds), limit, file, problems):
        problems.raise_if_any()
    budget = {"max_epochs": stop.max_epochs} if stop.max_epochs else {}
    unnamed = tuple(d.key for d in search.space) if search is not None else ()
    expansion = Expansion(name, trainer_name, trainer.placeholders, fixed, set_layer, axes, seeds,
                          excludes, abbrev, budget, file, trainer_line, unnamed, resources, vary)
    if resources.workers > 1:  # the world size changes what is trained (the global batch)
        budget["workers"] = resources.workers
    trials = expand_trials(expansion, schema, problems)
    _trainer_checks(trainer, trials, [*fixed, set_layer], axes.line, Loc(file, trainer_line), problems)
    secrets = _secrets(doc, schema, trials, file, problems)
    if not trials and not problems:
        problems.add(file, axes.line or 1, "exclude", "every trial is excluded: nothing would run")
    problems.raise_if_any()
    if search is not None:
        defaults = {k: (v, Loc("schema default", None)) for k, v in schema.defaults().items()}
        search, trials, max_concurrent = finish(search, trials, axes, budget, max_concurrent,
                                                [defaults, *fixed, set_layer], trainer.placeholders, name)
    return SweepSpec(
        name=name, path=file, trainer=trainer_name, description=str(description).strip(),
        metric=metric, mode=mode, axes=tuple(axes.order), seeds=seeds, trials=tuple(trials),
        resources=resources, max_concurrent=max_concurrent, stop=stop, retries=retries,
        on_oom=on_oom, scheduler=scheduler, experiment=experiment,
        source=source, profile=profile, overrides=tuple(overrides),
        secrets=secrets, abbrev={k: v for k, v in abbrev.items() if k in axes.order}, search=search,
        objectives=objectives, budget=budget_limits, slurm=slurm,
    )
