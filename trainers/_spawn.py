"""Run a function on N ranks of a process group in spawned processes, no Ray: what torchrun
would do, small. The data-parallel tests use it on CPU (gloo), ``bench/ddp.py`` on CPU or GPUs
(NCCL, one GPU per rank)."""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from typing import Any, Callable


def _rank_main(fn, rank: int, world: int, init_file: str, args: tuple, out, backend: str, threads: int) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(threads)
    os.environ["LOCAL_RANK"] = str(rank)
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        out.put((rank, fn(*args)))
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        out.put((rank, exc))
        raise
    finally:
        dist.destroy_process_group()


def run_ranks(fn: Callable[..., Any], world: int, *args: Any, timeout: float = 240, backend: str = "gloo",
              threads: int = 1) -> list[Any]:
    """``fn(*args)`` on every rank of a ``world``-rank process group (``threads`` torch threads
    each; with ``nccl``, rank r on GPU r); the results in rank order. ``fn`` must be importable."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    fd, init_file = tempfile.mkstemp(prefix="orch-pg-")
    os.close(fd)
    os.unlink(init_file)  # the file store creates it
    procs = [ctx.Process(target=_rank_main, args=(fn, r, world, init_file, args, out, backend, threads)) for r in range(world)]
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
