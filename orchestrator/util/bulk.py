"""Building 100,000s of small objects in one go (a sweep's histories, a table's cells) with the
cyclic garbage collector paused: none of them form cycles, yet every 700 new tuples set off a
collection, and the older generations' passes walk the whole heap of a process that imported
MLflow. `orch table` over 2,000 trials x 20 metrics: 0.90 -> 0.83 s median here."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside; nested uses leave it to the outermost. Reference counting
    still frees everything as usual, and what cycles there are wait for the next collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
