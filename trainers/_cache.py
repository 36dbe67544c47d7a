"""``data.root: synthetic``: generated datasets, written once into a cache folder that concurrent
trials share (the first builds it under a lock, the others wait and reuse it)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

from orchestrator.util.cache import cache_root

__all__ = ["cache_root", "cached_dataset"]


def cached_dataset(name: str, build: Callable[[Path], object]) -> Path:
    """The folder ``<cache>/synthetic/<name>``, calling ``build(tmp_folder)`` first if it is not
    complete yet; a half-written folder never becomes visible (built aside, then renamed)."""
    root = cache_root() / "synthetic" / name
    if (root / "DONE").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "DONE").exists():
            tmp = root.with_name(root.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            build(tmp)
            (tmp / "DONE").write_text("complete\n")
            shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
    return root
