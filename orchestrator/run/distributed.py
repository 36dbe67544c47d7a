"""One trial on several data-parallel workers: Ray Train's TorchTrainer started inside the Tune
trial (Train V2), one worker per GPU (or per CPU share, gloo), anywhere in the cluster.

Ray Train sets up ``torch.distributed``; the trainer sees a process group and does plain DDP
(:mod:`trainers._dist`). Every rank runs the trainer with a :class:`Reporter` whose stop
decisions (NaN guard, max_epochs, timeout) are agreed by all ranks, so none is left waiting in a
collective; rank 0 alone sends what the trial reports, its progress and its log to the trial
over a queue. The trial relays that to Tune as a one-worker trial would, and watches it: a trial
that sends neither a report nor a progress position for ``stop.stall`` is stalled (a dead peer,
a hung collective) and its workers are killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import ray

from orchestrator.util.processes import ENV_DIR
from orchestrator.protocol import TrialStatus
from orchestrator.run.stall import Stalled, _duration

__all__ = ["Stalled", "WorkersFailed", "fit_workers", "worker_resources", "trial_head"]

_BEAT_EVERY_S = 2.0  # rank 0 tells the trial it is alive at most this often
_STOP_CODES = (None, TrialStatus.FINISHED, TrialStatus.KILLED, TrialStatus.DIVERGED)  # agreed by max


class WorkersFailed(Exception):
    """A worker raised or died: the message says which and what in a line, ``detail`` is Ray
    Train's whole account (the worker's traceback)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail or message


def trial_head() -> dict[str, float]:
    """What the Tune trial itself reserves: next to nothing (it only waits on its workers, which
    reserve their own), but Tune needs a non-empty request; a MiB of memory is one."""
    return {"cpu": 0, "memory": 2**20}


def worker_resources(resources: dict[str, Any]) -> dict[str, float]:
    """One worker's Ray resources: its CPUs and memory as the sweep gives them, one whole GPU."""
    out = {"CPU": float(resources["cpu"]), **{k: float(v) for k, v in resources.get("custom", {}).items()}}
    if resources.get("gpu"):
        out["GPU"] = 1.0
    if resources.get("memory"):
        out["memory"] = float(resources["memory"])
    return out


def agree(code: int) -> int:
    """The largest stop code of any rank (the trainer's process group, gloo or NCCL)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return code
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([code], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


class _Beats:
    """Rank 0's progress: the live view's position (the board) and, a few seconds apart, a sign
    of life for the trial's stall watchdog."""

    def __init__(self, progress, channel):
        self.progress, self.channel, self.due = progress, channel, 0.0

    def __call__(self, i: int, n: int, **figures: Any) -> None:
        self.progress(i, n, **figures)
        now = time.monotonic()
        if now >= self.due:
            self.due = now + _BEAT_EVERY_S
            self.channel.put(("beat",))


def _per_worker(config: dict[str, Any]) -> None:
    """Runs in every Train worker: the trainer's loop under a rank-agreeing Reporter."""
    import ray.train

    from orchestrator.registry import build_config, get_trainer
    from orchestrator.run._capture import Log, Tee
    from orchestrator.run.board import TrialProgress
    from orchestrator.run.reporter import LOG_LIMIT, Reporter, _Stop, threads_as_ray_sets

    threads_as_ray_sets()
    rank = ray.train.get_context().get_world_rank()
    channel = config["channel"]
    context = ray.get_runtime_context()
    channel.put(("worker", rank, context.current_actor, context.get_node_id(), os.getpid()))
    if os.path.isdir(config["cwd"]):
        os.chdir(config["cwd"])
    if config.get("process_dir") and os.path.isdir(config["process_dir"]):
        os.environ[ENV_DIR] = config["process_dir"]
    main = rank == 0
    send = (lambda result: channel.put(("result", result))) if main else (lambda result: None)
    progress = _Beats(TrialProgress(config["board"], config["trial_id"]), channel) if main else TrialProgress(None, "")
    reporter = Reporter(config["on_nan"], config["max_epochs"], config["timeout_s"], progress, send=send, agree=agree)
    train = get_trainer(config["trainer"]).load_train()
    log = Log(LOG_LIMIT)
    status, message = TrialStatus.FINISHED, ""
    try:
        # the process's own streams: Train's stdout writes through whatever sys.stderr is then
        with redirect_stdout(Tee(sys.__stdout__, log)), redirect_stderr(Tee(sys.__stderr__, log, "[stderr] ")):
            train(build_config(config["trainer"], config["flat"]), reporter)
    except _Stop as stop:
        status, message = stop.status, stop.message
    finally:
        if main:  # rank 0's output is the trial's log, also when the trainer raised
            channel.put(("log", log.text()))
    if main:
        channel.put(("done", status.value, message))


def _train_run(trainer: str, flat: dict[str, Any], payload: dict[str, Any], trial_id: str, channel, storage: str):
    """Ray Train's run of ``_per_worker`` on the trial's workers (no retries of its own: orch's apply)."""
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    resources = payload["resources"]
    return TorchTrainer(
        _per_worker,
        train_loop_config={"channel": channel, "trainer": trainer, "flat": flat, "cwd": payload["cwd"],
                           "process_dir": payload["process_dir"], "board": payload.get("board"),
                           "trial_id": trial_id, "on_nan": payload["on_nan"], "max_epochs": payload["max_epochs"],
                           "timeout_s": payload["timeout_s"]},
        scaling_config=ScalingConfig(num_workers=payload["workers"], use_gpu=bool(resources.get("gpu")),
                                     resources_per_worker=worker_resources(resources)),
        run_config=RunConfig(name=f"orch-{trial_id or 'trial'}", storage_path=storage,
                             failure_config=FailureConfig(max_failures=0)))


def fit_workers(trainer: str, flat: dict[str, Any], reporter, payload: dict[str, Any], trial_id: str):
    """Train ``flat`` on ``payload['workers']`` workers, relaying rank 0's reports through
    ``reporter.relay``; returns when training ended as FINISHED, raises the trainable's _Stop for
    another status, :class:`Stalled` or :class:`WorkersFailed`."""
    from ray.util.queue import Queue

    from orchestrator.run.reporter import _Stop

    # the workers' prints stay prints (Train would also send each through the root logger, twice
    # into the trial's log); set here, in the trial, so Train passes it on to every worker
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    channel = Queue(actor_options={"num_cpus": 0})
    storage = tempfile.mkdtemp(prefix="orch-train-")
    run = _train_run(trainer, flat, payload, trial_id, channel, storage)
    errors: list[BaseException] = []

    def fit() -> None:
        try:
            run.fit()
        except BaseException as exc:  # noqa: BLE001 - handed to the trial's thread
            errors.append(exc)

    thread = threading.Thread(target=fit, name="orch-train-fit", daemon=True)
    thread.start()
    watch = _Watch(payload.get("stall_s"))
    try:
        done = _relay(thread, channel, reporter, watch)
    finally:
        watch.kill(by_pid=False)  # none is left holding its GPU, whatever ended the trial
        try:
            ray.kill(channel.actor)
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(storage, ignore_errors=True)
    if watch.fired:
        raise Stalled(f"no report or progress for {_duration(watch.stall_s)} (stalled)")
    if errors:
        raise WorkersFailed(_failure_line(errors[0], payload["workers"]), str(errors[0]))
    if done is None:
        raise WorkersFailed("the workers ended without a final status")
    status, message = TrialStatus(done[1]), done[2]
    if status != TrialStatus.FINISHED or message:
        raise _Stop(status, message)


def _relay(thread: threading.Thread, channel, reporter, watch: "_Watch"):
    """Pass the workers' messages on until the run ends; the watchdog fires on a silence."""
    from ray.util.queue import Empty

    done = None
    while thread.is_alive() or not channel.empty():
        try:
            event = channel.get(timeout=1.0)
        except Empty:
            if watch.stalled() and not watch.fired:
                watch.fire()
            continue
        watch.alive()
        done = _handle(event, reporter, watch) or done
    thread.join()
    return done


class _Watch:
    """The stall watchdog's state and the workers it would kill."""

    def __init__(self, stall_s: float | None):
        self.stall_s = stall_s
        self.last = time.monotonic()
        self.workers: list[Any] = []
        self.fired = False

    def alive(self) -> None:
        self.last = time.monotonic()

    def stalled(self) -> bool:
        return bool(self.stall_s) and time.monotonic() - self.last > self.stall_s

    def fire(self) -> None:
        self.fired = True
        print(f"stalled: no report or progress for {_duration(self.stall_s)}; stopping the "
              f"{len(self.workers)} workers", file=sys.stderr, flush=True)
        self.kill(by_pid=True)

    def kill(self, by_pid: bool) -> None:
        """Every worker: through Ray, and on this node by its pid too, since a process that is
        stopped or stuck in a system call never answers Ray's request to exit."""
        here = ray.get_runtime_context().get_node_id()
        for handle, node, pid in self.workers:
            try:
                ray.kill(handle)
            except Exception:  # noqa: BLE001 - already gone
                pass
            if by_pid and node == here and _is_train_worker(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _is_train_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"RayTrainWorker" in f.read()
    except OSError:  # gone, or no /proc: Ray's kill is all there is
        return False


def _handle(event: tuple, reporter, watch: _Watch):
    """One message from a worker; the final one is returned."""
    kind = event[0]
    if kind == "worker":
        watch.workers.append(tuple(event[2:5]))
    elif kind == "result":
        reporter.relay(event[1])
    elif kind == "log":
        sys.stdout.write(event[1])  # into the trial's own log (run_trial's Tee)
        sys.stdout.flush()
    elif kind == "done":
        return event
    return None


def _failure_line(exc: BaseException, workers: int) -> str:
    """One line for the trial's message: which worker failed and how (the first line of what it
    raised, or that it died), from Ray Train's WorkerGroupError; its text otherwise."""
    failures = getattr(exc, "worker_failures", None) or {}
    said: dict[str, list[int]] = {}  # what went wrong -> the ranks it happened to, in order
    for rank, error in sorted(failures.items()):
        cause = getattr(error, "cause", None) or error  # a RayTaskError carries the trainer's own
        first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
        if isinstance(cause, ray.exceptions.RayActorError) or "health check" in str(error):
            said.setdefault("died (the process ended or stopped answering)", []).append(rank)
        else:
            said.setdefault(f"raised {type(cause).__name__}: {first}", []).append(rank)
    if said:
        return "; ".join(f"{_ranks(ranks)} of {workers} {what}" for what, ranks in said.items())
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return f"the data-parallel workers failed: {first}"


def _ranks(ranks: list[int]) -> str:
    """``worker 1``, ``workers 0 and 1``, ``workers 0, 1 and 3``."""
    if len(ranks) == 1:
        return f"worker {ranks[0]}"
    return f"workers {', '.join(map(str, ranks[:-1]))} and {ranks[-1]}"
