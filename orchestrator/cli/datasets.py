"""``orch data``: the synthetic data sets trainers declare (:class:`orchestrator.trainer.SynthDataset`),
listed and written through the registry, so a trainer installed from another package brings its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from orchestrator.registry import datasets
from orchestrator.trainer import SynthDataset

__all__ = ["DataError", "list_datasets", "write_dataset"]


class DataError(Exception):
    pass


def list_datasets() -> list[tuple[str, SynthDataset]]:
    """(trainer, data set) for every registered synthetic data set, by name."""
    return [found for _, found in sorted(datasets().items())]


def _option_value(dataset: SynthDataset, key: str, text: str) -> Any:
    if key not in dataset.options:
        known = ", ".join(dataset.options) or "none"
        raise DataError(f"data set {dataset.name!r} has no option {key!r}; its options: {known}")
    default = dataset.options[key][0]
    try:
        return type(default)(text) if isinstance(default, (int, float)) and not isinstance(default, bool) else text
    except ValueError:
        raise DataError(f"option {key}={text!r}: expected a {type(default).__name__}") from None


def write_dataset(name: str, out: Path, n_train: int | None = None, n_val: int | None = None,
                  seed: int = 0, options: Mapping[str, str] | None = None) -> tuple[Path, SynthDataset, int, int]:
    """Write data set ``name`` into the new or empty folder ``out``; returns (folder, data set,
    train size, val size). Every problem is a :class:`DataError` raised before anything is written."""
    found = datasets()
    if name not in found:
        raise DataError(f"unknown data set {name!r}; registered: {', '.join(sorted(found)) or 'none'} "
                        "(orch data list describes them)")
    dataset = found[name][1]
    values = {k: _option_value(dataset, k, v) for k, v in (options or {}).items()}
    for label, count in (("--train", n_train), ("--val", n_val)):
        if count is not None and count < 1:
            raise DataError(f"{label} {count}: needs at least 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out} exists and is not empty; pick a new folder")
    n_train, n_val = n_train or dataset.train, n_val or dataset.val
    try:
        written = dataset.load_write()(out, n_train, n_val, seed, **values)
    except ValueError as exc:  # the writer's own check of an option's value
        raise DataError(f"data set {name}: {exc}") from None
    return Path(written), dataset, n_train, n_val
