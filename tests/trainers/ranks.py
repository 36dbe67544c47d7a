"""Run a function on N gloo ranks in spawned processes, no Ray: what torchrun would do, small."""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from typing import Any, Callable


def _rank_main(fn, rank: int, world: int, init_file: str, args: tuple, out) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ["LOCAL_RANK"] = str(rank)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        out.put((rank, fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        out.put((rank, exc))
        raise
    finally:
        dist.destroy_process_group()


def run_ranks(fn: Callable[..., Any], world: int, *args: Any, timeout: float = 240) -> list[Any]:
    """``fn(*args)`` on every rank of a ``world``-rank process group; the results in rank order."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    fd, init_file = tempfile.mkstemp(prefix="orch-pg-")
    os.close(fd)
    os.unlink(init_file)  # the file store creates it
    procs = [ctx.Process(target=_rank_main, args=(fn, r, world, init_file, args, out)) for r in range(world)]
    for p in procs:
        p.start()
    results: dict[int, Any] = {}
    try:
        for _ in range(world):
            rank, value = out.get(timeout=timeout)
            if isinstance(value, BaseException):
                raise value
            results[rank] = value
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return [results[r] for r in range(world)]
