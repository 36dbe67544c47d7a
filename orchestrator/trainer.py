"""The trainer contract, importable with nothing but the standard library.

A trainer is a function ``train(config, report) -> dict[str, float]`` plus a
``Config`` dataclass that is its schema. A package registers one by pointing an entry point
of the group :data:`orchestrator.protocol.ENTRY_POINT_GROUP` at a :class:`Trainer`, as this
project's pyproject.toml does for its own (``toy = "trainers.toy:TRAINER"``).

``Trainer.train`` is a ``"module:function"`` string so that listing and validating
trainers never imports torch; the function is imported only when a trial runs.

A trainer owns its metadata, declared next to its schema: the metric groups that ``orch table
--metric NAME`` expands (ordered columns, short LaTeX headers, which way is better, the names
other tools print for the same quantity) and the synthetic data sets ``orch data synth NAME``
writes. The core reads both from the registry and names no joint, class or data set itself.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

__all__ = ["MetricColumn", "MetricGroup", "Report", "SynthDataset", "Trainer", "param", "progress_of",
           "PROGRESS_FIGURES"]

# what a trainer may pass to progress() besides the position; values may be 0-d tensors (a loss on
# the GPU): they are read only when a position is actually sent, so calling it costs no sync
PROGRESS_FIGURES = ("epoch", "epochs", "loss", "images_per_s")


class Report(Protocol):
    """``report(metrics, step)``: called at every evaluation, metrics by name (``val/Mean``).

    orch's report also has ``progress(i, n, **figures)``: the position inside the current epoch
    (batch ``i`` of ``n``; iteration ``i`` of ``n`` for iteration-based training) and
    :data:`PROGRESS_FIGURES` for the live view. It is throttled by orch (a position a second at
    most) and never tracked; get it with :func:`progress_of`, which gives a no-op for a plain
    function, so a trainer calls it after every batch and runs the same standalone."""

    def __call__(self, metrics: dict[str, float], step: int) -> None: ...


def _no_progress(i: int, n: int, **figures: Any) -> None:
    return None


def progress_of(report: Any) -> Callable[..., None]:
    """``report.progress`` when the caller's report has one, else a function that does nothing."""
    fn = getattr(report, "progress", None)
    return fn if callable(fn) else _no_progress


TrainFn = Callable[[Any, Report], "dict[str, float]"]


@dataclass(frozen=True)
class MetricColumn:
    """One column of a table group."""

    key: str  # the name reported: "val/Shoulder"
    label: str = ""  # markdown / CSV / HTML header; default: the key without "val/"
    latex: str = ""  # short header for LaTeX rows ("Shou"); default: the label
    higher_is_better: bool = True
    aliases: tuple[str, ...] = ()  # what other tools print for the same quantity: "Shou", "Total"
    optional: bool = False  # a column only when some trial logged it (e.g. an extra eval mode)
    note: str = ""  # a footnote the table prints when the column is shown
    digits: int | None = None  # decimals in tables; default: the group's, else chosen from the values

    @property
    def header(self) -> str:
        return self.label or (self.key[4:] if self.key.startswith("val/") else self.key)

    @property
    def latex_header(self) -> str:
        return self.latex or self.header

    def names(self) -> tuple[str, ...]:
        """Every spelling that means this column: key, label, LaTeX header, aliases."""
        return tuple(dict.fromkeys((self.key, self.header, self.latex_header, *self.aliases)))


@dataclass(frozen=True)
class MetricGroup:
    """A named set of columns researchers paste together: ``pckh``, ``miou``, ``coco``."""

    name: str
    columns: tuple[MetricColumn, ...]
    aliases: tuple[str, ...] = ()  # other names for the whole group: coco -> ap, oks
    description: str = ""
    # --per-class: logged keys under this prefix become columns too, in ``classes`` order
    per_class_prefix: str = ""
    classes: tuple[str, ...] = ()
    class_latex: Mapping[str, str] = field(default_factory=dict)  # short headers: "TLight"
    digits: int | None = None  # decimals of every column that does not set its own

    def column_for(self, printed: str) -> MetricColumn | None:
        """The column another tool's name means (``Shou`` -> val/Shoulder), case-insensitive."""
        wanted = printed.strip().lower()
        return next((c for c in self.columns if wanted in (n.lower() for n in c.names())), None)


@dataclass(frozen=True)
class SynthDataset:
    """A synthetic data set in a real on-disk format, written by ``orch data synth NAME DIR``."""

    name: str
    # "module:function" called as fn(out, n_train, n_val, seed, **options) -> Path; no torch
    write: str
    description: str
    train: int  # default sizes
    val: int
    unit: str = "images"  # what the sizes count: images, people
    options: Mapping[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (default, help)

    def load_write(self) -> Callable[..., Any]:
        return _load(self.write)


@dataclass(frozen=True)
class Trainer:
    """What a trainer package exposes to the registry."""

    config: type  # the schema: a dataclass, nested dataclasses for groups
    train: str  # "module:function", imported lazily
    metric: str = ""  # default sweep metric, e.g. "val/Mean"
    mode: str = "max"  # "max" or "min"
    description: str = ""
    placeholders: tuple[str, ...] = ()  # names filled in at run time, e.g. "gpus"
    # overrides that make a run take seconds on a CPU: the contract test trains with them
    smoke: Mapping[str, Any] = field(default_factory=dict)
    # "module:function" taking a trial's flat config and returning [(key, problem)]: checks the
    # schema cannot express, run by validation before anything launches; must not import torch
    check: str = ""
    groups: tuple[MetricGroup, ...] = ()  # table groups (``orch table --metric NAME``)
    datasets: tuple[SynthDataset, ...] = ()  # ``orch data synth NAME``
    # trains one trial data-parallel on several workers when a process group is set up
    # (trainers._dist): ``resources.gpu: N`` / ``workers: N`` then start N workers on Ray Train
    distributed: bool = False

    def load_train(self) -> TrainFn:
        return _load(self.train)

    def load_check(self) -> Callable[[dict[str, Any]], list[tuple[str, str]]] | None:
        return _load(self.check) if self.check else None


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",  # noqa: A002 - mirrors argparse/typer naming
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    secret: bool = False,
    unkeyed_default: bool = False,
) -> Any:
    """A dataclass field with help text and bounds that validation and ``orch trainers`` read."""
    # secret: never written in clear (params, tags, artifacts, logs show ***; the trial gets it)
    # unkeyed_default: left out of trial keys and checkpoint fingerprints while it holds its default,
    # so a parameter added to a schema later keeps every earlier trial (finished or resumable)
    metadata = {"help": help, "ge": ge, "gt": gt, "le": le, "choices": choices, "secret": secret,
                "unkeyed_default": unkeyed_default}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata)
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)
