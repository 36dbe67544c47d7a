"""What runs inside a Ray worker for one trial: the trainer, its report(), the NaN guard,
retries, OOM batch halving and log capture. The trainer itself never sees Ray."""

from __future__ import annotations

import io
import math
import os
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import ray
from ray import tune

from orchestrator.registry import get_trainer
from orchestrator.spec.schema import Schema

LOG_LIMIT = 1_000_000  # characters of a trial's output kept for its log artifact


class _Stop(BaseException):
    """Unwinds the trainer from inside report(); a BaseException so a trainer's own
    ``except Exception`` cannot swallow it."""

    def __init__(self, status: str, message: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message


class _Tee(io.TextIOBase):
    """Keeps the tail of what a trial prints, and still prints it."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * LOG_LIMIT:
            joined = "".join(self.parts)[-LOG_LIMIT:]
            self.parts, self.size = [joined], len(joined)
        try:
            self.stream.write(text)
        except Exception:  # noqa: BLE001 - a closed console must not fail the trial
            pass
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except Exception:  # noqa: BLE001
            pass

    def text(self) -> str:
        return "".join(self.parts)[-LOG_LIMIT:]


class Reporter:
    """The ``report(metrics, step)`` a trainer receives."""

    def __init__(self, on_nan: str, max_epochs: int | None, timeout_s: float | None):
        self.on_nan = on_nan
        self.max_epochs = max_epochs
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.nan_seen = False

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        values = {str(k): float(v) for k, v in metrics.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        bad = sorted((k for k, v in values.items() if not math.isfinite(v)),
                     key=lambda k: (not k.endswith("loss"), k))
        tune.report({**values, "orch_step": int(step), "orch_keys": list(values)})
        if bad:
            self.nan_seen = True
            if self.on_nan == "stop":
                shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
                raise _Stop("diverged", f"non-finite {shown} at step {step}")
        if self.max_epochs and step >= self.max_epochs:
            raise _Stop("finished", f"reached stop.max_epochs={self.max_epochs}")
        if self.timeout_s and time.monotonic() - self.started > self.timeout_s:
            raise _Stop("stopped", f"exceeded stop.timeout={self.timeout_s:g}s")


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def run_trial(config: dict[str, Any], payload: dict[str, Any]) -> None:
    """Tune function trainable: ``config`` only holds the index of the trial to run."""
    trial = payload["trials"][config["index"]]
    if os.path.isdir(payload["cwd"]):  # Tune starts trials in its own folder; on other nodes the
        os.chdir(payload["cwd"])  # folder may not exist and paths must be absolute anyway
    trainer = get_trainer(trial["trainer"])
    schema = Schema(trainer.config)
    train = trainer.load_train()
    flat = dict(trial["config"])
    batch_key = next((k for k in flat if k.rsplit(".", 1)[-1] == "batch_size"), None)
    retries_left = payload["retries"]
    attempt, status, message = 0, "failed", ""
    last_traceback = ""  # earlier attempts' tracebacks went out with their retry events
    extra_params: dict[str, Any] = {}
    tee_out, tee_err = _Tee(sys.stdout), _Tee(sys.stderr)
    while True:
        attempt += 1
        reporter = Reporter(payload["on_nan"], payload["max_epochs"], payload["timeout_s"])
        try:
            with redirect_stdout(tee_out), redirect_stderr(tee_err):
                train(schema.build(flat), reporter)
            status, message = "finished", ""
            break
        except _Stop as stop:
            status, message = stop.status, stop.message
            break
        except Exception as exc:  # noqa: BLE001 - any trainer error is this trial's failure
            text = traceback.format_exc()
            last_traceback = text
            message = f"{type(exc).__name__}: {exc}"
            if (_is_oom(exc) and payload["on_oom"] == "halve_batch" and batch_key
                    and int(flat[batch_key]) > 1):
                flat[batch_key] = int(flat[batch_key]) // 2
                extra_params[f"oom.{batch_key}"] = flat[batch_key]
                tune.report({"orch_event": "retry", "orch_message": f"{message}; halving {batch_key} "
                             f"to {flat[batch_key]}", "orch_traceback": text, "orch_attempt": attempt})
                continue
            if retries_left > 0:
                retries_left -= 1
                tune.report({"orch_event": "retry", "orch_message": message, "orch_traceback": text,
                             "orch_attempt": attempt})
                continue
            status = "failed"
            break
    context = ray.get_runtime_context()
    log = f"--- stdout ---\n{tee_out.text()}\n--- stderr ---\n{tee_err.text()}"
    tune.report({"orch_status": status, "orch_message": message, "orch_attempts": attempt,
                 "orch_traceback": last_traceback, "orch_log": log,
                 "orch_params": extra_params, "orch_node_id": context.get_node_id()})
