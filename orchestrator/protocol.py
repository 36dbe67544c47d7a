"""What the worker and the driver say to each other, and every name orch writes into MLflow.

One module so that a status, an event field or a tag is spelled once: the worker encodes
events into the dicts Ray Tune carries (:func:`encode`), the driver's callback decodes them
(:func:`decode`), the tracking writer and reader use :class:`Tag`. Stdlib only: the worker, the
driver and the pure table code all import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, Union

__all__ = ["TrialStatus", "DONE_STATUSES", "DISK_FULL", "Tag", "Metrics", "Retry", "Final", "Event", "encode",
           "decode", "STEP_KEY", "ENTRY_POINT_GROUP", "PARAM_PREFIX_OOM", "COMPUTE_PREFIX",
           "DESCRIPTIVE_PREFIXES", "Compute", "param_text",
           "typed_param"]

ENTRY_POINT_GROUP = "orch.trainers"  # the entry-point group trainer packages register in
PARAM_PREFIX_OOM = "oom."  # params logged when OOM halving changed a value: oom.train.batch_size
# metrics orch logs per trial, and sums on the parent, when a trial ends: totals, not curves
COMPUTE_PREFIX = "compute/"
# metrics that describe a trial rather than score it: tables never bold them (model/params)
DESCRIPTIVE_PREFIXES = ("model/", COMPUTE_PREFIX)


PARAM_LIMIT = 6000  # characters of a param value MLflow is given


def param_text(value: Any) -> str:
    """How a config value is logged as an MLflow param (always a string): lists and mappings as JSON."""
    import json

    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text[:PARAM_LIMIT]


def typed_param(text: str | None) -> Any:
    """A logged param read back as the number (or bool) it was, where it was one; else the text."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


class Compute:
    """What a trial used, logged by the driver when it ends (every attempt adds to the totals) and
    summed on the parent run. GPU- and CPU-hours are the trial's reserved resources x wall time."""

    WALL_S = f"{COMPUTE_PREFIX}wall_s"
    GPU_HOURS = f"{COMPUTE_PREFIX}gpu_hours"
    CPU_HOURS = f"{COMPUTE_PREFIX}cpu_hours"
    PEAK_GPU_MEMORY_GB = f"{COMPUTE_PREFIX}peak_gpu_memory_gb"  # the largest the trainer reported
    IMAGES_PER_S = f"{COMPUTE_PREFIX}images_per_s"  # the mean over the last attempt's epochs
    SUMMED = (WALL_S, GPU_HOURS, CPU_HOURS)
    # what trainers report per epoch (trainers/_torch.py StepMeter), read into the two above
    TRAINER_PEAK_MEMORY = "time/peak_memory_gb"
    TRAINER_IMAGES_PER_S = "time/images_per_s"

    @staticmethod
    def merge(before: Mapping[str, float], now: Mapping[str, float]) -> dict[str, float]:
        """An earlier attempt's totals plus this one's: times add up, the peak is the larger."""
        out = {**before, **now}
        for key in Compute.SUMMED:
            out[key] = before.get(key, 0.0) + now.get(key, 0.0)
        if Compute.PEAK_GPU_MEMORY_GB in before or Compute.PEAK_GPU_MEMORY_GB in now:
            out[Compute.PEAK_GPU_MEMORY_GB] = max(before.get(Compute.PEAK_GPU_MEMORY_GB, 0.0),
                                                  now.get(Compute.PEAK_GPU_MEMORY_GB, 0.0))
        return out

    @staticmethod
    def totals(trials: "Iterable[Mapping[str, float]]") -> dict[str, float]:
        """A sweep's totals from its trials' metrics: times summed, the largest peak."""
        out: dict[str, float] = {}
        for metrics in trials:
            for key in Compute.SUMMED:
                if key in metrics:
                    out[key] = out.get(key, 0.0) + metrics[key]
            if Compute.PEAK_GPU_MEMORY_GB in metrics:
                out[Compute.PEAK_GPU_MEMORY_GB] = max(out.get(Compute.PEAK_GPU_MEMORY_GB, 0.0),
                                                      metrics[Compute.PEAK_GPU_MEMORY_GB])
        return out


class TrialStatus(str, Enum):
    """How a trial ended (or that it is still running). A ``str`` so it compares, prints and
    serialises as its value: ``TrialStatus.FINISHED == "finished"``."""

    FINISHED = "finished"  # ran to the end (or to its step budget)
    DIVERGED = "diverged"  # a metric went non-finite and the NaN guard stopped it: a result
    FAILED = "failed"  # the trainer raised, or its worker died
    STOPPED = "stopped"  # a scheduler (ASHA, median rule) stopped it early: a result
    KILLED = "killed"  # interrupted from outside (Ctrl-C, SIGTERM) or past stop.timeout
    RUNNING = "running"  # started, not ended: in progress, or orch died under it

    def __str__(self) -> str:
        return self.value

    @property
    def run_status(self) -> str:
        """The MLflow run status a trial with this status gets."""
        return {"finished": "FINISHED", "diverged": "FINISHED", "failed": "FAILED",
                "running": "RUNNING"}.get(self.value, "KILLED")

    @classmethod
    def parse(cls, value: str | None) -> "TrialStatus":
        """A stored status; anything unknown (an older orch, a hand-edited tag) reads as running."""
        try:
            return cls(value)
        except ValueError:
            return cls.RUNNING


# results a resume keeps: a scheduler's early stop is a result too (re-run only with --rerun
# stopped); failed, killed (Ctrl-C, timeout) and running trials are run again
# how a trial's message starts when its trainer could not write (its checkpoint) for a full disk:
# the sweep then stops launching, since every trial after it would fail the same way
DISK_FULL = "disk full"

DONE_STATUSES = frozenset({TrialStatus.FINISHED, TrialStatus.DIVERGED, TrialStatus.STOPPED})


class Tag:
    """MLflow tag names. Parent runs carry the sweep-level ones, child runs the trial-level ones."""

    # which runs are orch's, and how they hang together
    KIND = "orch.kind"  # "sweep" on a parent run
    SWEEP = "orch.sweep"
    PARENT = "mlflow.parentRunId"  # MLflow's own: the UI nests children under it
    NOTE = "mlflow.note.content"  # MLflow's own: the run description the UI shows
    SOURCE_COMMIT = "mlflow.source.git.commit"
    # MLflow's own, on the experiment: which view its UI opens (3.17 reads both; see tracking/ui_view.py)
    EXPERIMENT_KIND = "mlflow.experimentKind"
    SHARED_VIEW_PREFIX = "mlflow.sharedViewState."
    # the sweep (parent run)
    TRAINER = "orch.trainer"
    METRIC = "orch.metric"
    MODE = "orch.mode"
    AXES = "orch.axes"  # JSON: axis names on the parent, {axis: value} on a child
    ABBREV = "orch.abbrev"  # JSON {axis: short name} from the sweep's `abbrev:`, for table headers
    SEARCH = "orch.search"  # JSON {method, sampler, num_samples, seed, space} of a sweep with `search:`
    OBJECTIVES = "orch.objectives"  # JSON [[metric, mode], ...] of a multi-objective sweep
    SEEDS = "orch.seeds"
    TRIALS = "orch.trials"  # how many trials the sweep file had when it last ran
    OWNER = "orch.owner"  # JSON {host, pid, token, command, since} of the launcher running it now
    HEARTBEAT = "orch.heartbeat"  # unix seconds, renewed while the owner runs
    # a trial (child run)
    KEY = "orch.trial_key"
    STATUS = "orch.status"
    TRIAL_NAME = "orch.trial_name"
    SETTING = "orch.setting"
    SEED = "orch.seed"
    ATTEMPT = "orch.attempt"  # how many times this run was started
    ATTEMPTS = "orch.attempts"  # tries inside the last start (retries, OOM halving)
    MESSAGE = "orch.message"
    NODE_ID = "orch.node_id"
    DATA_WAIT = "orch.data_wait"  # the share of step time a data-bound trial waited for batches
    OOM_PARAMS = "orch.oom_params"
    AXIS_PREFIX = "orch.axis."
    # provenance
    VERSION = "orch.version"
    HOST = "orch.host"
    COMMAND = "orch.command"
    PYTHON = "orch.python"
    WORKDIR = "orch.workdir"  # where orch sweep ran: relative train.out_dir folders are under it
    GIT_COMMIT = "orch.git_commit"
    GIT_DIRTY = "orch.git_dirty"
    GIT_PATCH = "orch.git_patch"  # a digest of the uncommitted changes, to notice that they changed

    SWEEP_KIND = "sweep"  # the value of KIND on a parent run

    @staticmethod
    def axis(name: str) -> str:
        return f"{Tag.AXIS_PREFIX}{name}"


# ---- worker -> driver events, carried in Ray Tune result dicts ---------------------------------
STEP_KEY = "orch_step"  # the scheduler's time attribute: every event carries it
_EVENT_KEY = "orch_event"
_KEYS_KEY = "orch_keys"
_DATA_KEY = "orch_data"


@dataclass(frozen=True)
class Metrics:
    """A ``report(metrics, step)`` call. The values go top-level into the Tune result, where
    schedulers look for the sweep metric."""

    step: int
    values: Mapping[str, float]


@dataclass(frozen=True)
class Retry:
    """An attempt failed and the worker tries again (retries, OOM batch halving)."""

    step: int
    attempt: int
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class Final:
    """The worker's last word on a trial."""

    step: int
    status: TrialStatus
    message: str = ""
    attempts: int = 1
    traceback: str = ""  # of the final attempt, when it failed
    log: str = ""  # what the trainer printed
    params: Mapping[str, Any] = field(default_factory=dict)  # values changed on the way (OOM)
    node_id: str = ""


Event = Union[Metrics, Retry, Final]


def encode(event: Event) -> dict[str, Any]:
    """The dict to hand to ``tune.report``."""
    if isinstance(event, Metrics):
        values = {str(k): float(v) for k, v in event.values.items()}
        return {**values, STEP_KEY: int(event.step), _EVENT_KEY: "metrics", _KEYS_KEY: list(values)}
    if isinstance(event, Retry):
        data = {"attempt": event.attempt, "message": event.message, "traceback": event.traceback}
        return {STEP_KEY: int(event.step), _EVENT_KEY: "retry", _DATA_KEY: data}
    data = {"status": event.status.value, "message": event.message, "attempts": event.attempts,
            "traceback": event.traceback, "log": event.log, "params": dict(event.params),
            "node_id": event.node_id}
    return {STEP_KEY: int(event.step), _EVENT_KEY: "final", _DATA_KEY: data}


def decode(result: Mapping[str, Any]) -> Event | None:
    """The event inside a Tune result; None for a result orch did not send (Tune's own)."""
    kind = result.get(_EVENT_KEY)
    step = int(result.get(STEP_KEY, 0))
    if kind == "metrics":
        return Metrics(step, {k: result[k] for k in result.get(_KEYS_KEY, ()) if k in result})
    data = result.get(_DATA_KEY) or {}
    if kind == "retry":
        return Retry(step, int(data.get("attempt", 0)), str(data.get("message", "")),
                     str(data.get("traceback", "")))
    if kind == "final":
        return Final(step, TrialStatus.parse(data.get("status")), str(data.get("message", "")),
                     int(data.get("attempts", 1)), str(data.get("traceback", "")), str(data.get("log", "")),
                     dict(data.get("params") or {}), str(data.get("node_id", "")))
    return None
