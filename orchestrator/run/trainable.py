"""What runs inside a Ray worker for one trial: the trainer, its report(), the NaN guard,
retries, OOM batch halving and log capture. The trainer itself never sees Ray."""

from __future__ import annotations

import errno
import math
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import ray
from ray import tune

from orchestrator.util.processes import ENV_DIR
from orchestrator.run._capture import Log, Tee
from orchestrator.run.board import TrialProgress
from orchestrator.run.reporter import LOG_LIMIT, Reporter, _Stop, threads_as_ray_sets
from orchestrator.run.stall import StallWatch
from orchestrator.protocol import DISK_FULL, PARAM_PREFIX_OOM, Final, Retry, TrialStatus, encode
from orchestrator.registry import build_config, get_trainer
from orchestrator.util.secrets import mask_text, secret_values

def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class _Attempts:
    """Retries and OOM batch halving: decides, after a trainer error, whether to try again."""

    def __init__(self, flat: dict[str, Any], retries: int, on_oom: str):
        self.flat = flat
        self.retries_left = retries
        self.on_oom = on_oom
        self.batch_key = next((k for k in flat if k.rsplit(".", 1)[-1] == "batch_size"), None)
        self.changed: dict[str, Any] = {}  # params logged as oom.<key>
        self.count = 0

    def again(self, exc: BaseException) -> str | None:
        """A retry message when another attempt should run, else None."""
        message = _message_of(exc)
        key = self.batch_key
        if _is_oom(exc) and self.on_oom == "halve_batch" and key and int(self.flat[key]) > 1:
            self.flat[key] = int(self.flat[key]) // 2
            self.changed[f"{PARAM_PREFIX_OOM}{key}"] = self.flat[key]
            return f"{message}; halving {key} to {self.flat[key]}"
        if self.retries_left > 0 and disk_full(exc) is None:  # a full disk stays full for the next try
            self.retries_left -= 1
            return message
        return None


def disk_full(exc: BaseException) -> OSError | None:
    """The ENOSPC error in ``exc``'s chain (a trainer's checkpoint, its log), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _message_of(exc: BaseException) -> str:
    from orchestrator.run.distributed import WorkersFailed
    from orchestrator.run.stall import Stalled

    full = disk_full(exc)
    if full is not None:
        from orchestrator.util.checkpoints import free_words

        if not full.filename:
            return f"{DISK_FULL}: {full.strerror or full}"
        return f"{DISK_FULL}: {full.filename} could not be written ({full.strerror}; {free_words(Path(full.filename))})"
    if isinstance(exc, (Stalled, WorkersFailed)):  # their text says it all; the class adds nothing
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _traceback_of(exc: BaseException) -> str:
    """The traceback to keep: a worker's own, as Ray Train gave it, else this process's."""
    from orchestrator.run.distributed import WorkersFailed

    return exc.detail if isinstance(exc, WorkersFailed) else traceback.format_exc()


def _status_of(exc: BaseException) -> TrialStatus:
    from orchestrator.run.stall import Stalled

    return TrialStatus.KILLED if isinstance(exc, Stalled) else TrialStatus.FAILED


def run_trial(config: dict[str, Any], payload: dict[str, Any]) -> None:
    """Tune function trainable: ``config`` only holds the index of the trial to run."""
    threads_as_ray_sets()
    if "index" in config:
        trial = payload["trials"][config["index"]]
        # a trial whose resources an axis varies brings its own worker count and resources
        payload = {**payload, **{k: trial[k] for k in ("workers", "resources") if k in trial}}
    else:  # a point a searcher suggested: its values over where every point starts
        base = payload["search_base"]
        trial = {"trainer": base["trainer"], "config": payload["search"].point_config(base["config"], config)}
    if os.path.isdir(payload["cwd"]):  # Tune starts trials in its own folder; on other nodes the
        os.chdir(payload["cwd"])  # folder may not exist and paths must be absolute anyway
    if os.path.isdir(payload["process_dir"]):  # where trials register the process groups they start
        os.environ[ENV_DIR] = payload["process_dir"]
    workers = int(payload.get("workers", 1))
    train = get_trainer(trial["trainer"]).load_train() if workers == 1 else None
    attempts = _Attempts(dict(trial["config"]), payload["retries"], payload["on_oom"])
    hidden = secret_values(trial["config"], payload.get("secrets", ()))  # scrubbed from logs and messages
    status, message, last_traceback = TrialStatus.FAILED, "", ""
    log = Log(LOG_LIMIT)
    trial_id = tune.get_context().get_trial_id() or ""
    progress = TrialProgress(payload.get("board"), trial_id)
    tee_out, tee_err = Tee(sys.stdout, log), Tee(sys.stderr, log, "[stderr] ")
    while True:
        attempts.count += 1
        reporter = Reporter(payload["on_nan"], payload["max_epochs"], payload["timeout_s"], progress)
        watch = StallWatch(payload.get("stall_one_s") if workers == 1 else None, lambda: max(reporter.at, progress.at))
        try:
            with redirect_stdout(tee_out), redirect_stderr(tee_err), watch.watching():
                if workers > 1:
                    from orchestrator.run.distributed import fit_workers

                    fit_workers(trial["trainer"], dict(attempts.flat), reporter, payload, trial_id)
                else:
                    train(build_config(trial["trainer"], attempts.flat), reporter)
            if watch.fired:  # the trainer caught what the watchdog raised, or its script was killed
                raise watch.error()
            status, message = TrialStatus.FINISHED, ""
            break
        except _Stop as stop:
            status, message = stop.status, stop.message
            break
        except Exception as exc:  # noqa: BLE001 - any trainer error is this trial's failure
            exc = watch.error() if watch.fired else exc  # a killed script's error is the stall's
            last_traceback = _traceback_of(exc)  # earlier ones went out with their retry events
            message = _message_of(exc)
            retry = attempts.again(exc)
            if retry is None:
                status = _status_of(exc)
                break
            tune.report(encode(Retry(reporter.step, attempts.count, mask_text(retry, hidden),
                                     mask_text(last_traceback, hidden))))
    text = mask_text(log.text(), hidden)
    final = Final(reporter.step, status, mask_text(message, hidden), attempts.count,
                  mask_text(last_traceback, hidden), text, attempts.changed, ray.get_runtime_context().get_node_id())
    # the last values ride along, so a scheduler that keeps every result (the median rule) finds
    # the sweep metric at the final step too
    last = {**reporter.last, payload["metric"]: reporter.last.get(payload["metric"], math.nan)}
    tune.report({**last, **encode(final)})
