"""Writes a sweep to MLflow: one parent run per sweep, one nested child run per trial key.

Exactly once: a child run is found by its trial key under the sweep's parent before one
is created, so a resumed or retried trial reuses its run. Writes go through one
background thread in order, so the Ray event loop never waits on the database, and a
trial's ``finished`` status is written only after its metrics.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from orchestrator.protocol import DONE_STATUSES, Tag, TrialStatus
from orchestrator.sweepfile.model import SweepSpec, TrialSpec
from orchestrator.tracking._paging import search_all
from orchestrator.tracking.lease import HEARTBEAT_S, TagLease
from orchestrator.tracking.parent import open_parent
from orchestrator.tracking.provenance import environment_report, git_state
from orchestrator.tracking.store import experiment_id, make_client, resolve_uri, to_mlflow_name

__all__ = ["SweepTracker", "ExistingTrial", "log_parent_artifact"]

_MAX_PARAM = 6000


@dataclass(frozen=True)
class ExistingTrial:
    run_id: str
    status: TrialStatus


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text[:_MAX_PARAM]


class SweepTracker:
    def __init__(self, spec: SweepSpec, uri: str | None = None):
        self.spec = spec
        self.uri = resolve_uri(uri)
        self.client = make_client(self.uri)
        self.experiment_id = experiment_id(self.client, spec.experiment, self.uri)
        self.parent_id: str | None = None
        self.git = git_state()  # once per sweep run: the code every trial of this run used
        self.existing: dict[str, ExistingTrial] = {}
        self._runs: dict[str, str] = {}  # trial key -> run id, owned by the writer thread
        self._attempts: dict[str, int] = {}
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._errors: list[str] = []
        self._thread = threading.Thread(target=self._drain, name="orch-mlflow-writer", daemon=True)
        self._thread.start()
        self.lease = None
        self.resumed = False
        self.previous_tags: dict[str, str] = {}
        self._stopping = threading.Event()
        self._beats = threading.Thread(target=self._heartbeat, name="orch-lease-heartbeat", daemon=True)

    # ---- parent run and what already exists --------------------------------------------
    def open_parent(self, new: bool = False) -> str:
        """Take the sweep's lease, find or create its parent run, and read which trials it has."""
        opened = open_parent(self.client, self.experiment_id, self.spec, self.uri, self.git, new)
        self.parent_id, self.lease, self.previous_tags = opened.run_id, opened.lease, opened.previous_tags
        self.resumed = opened.resumed
        self.existing = self._children() if opened.resumed else {}
        self._runs = {key: t.run_id for key, t in self.existing.items()}
        if isinstance(self.lease, TagLease):
            self._beats.start()
        return self.parent_id

    def _heartbeat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_S):
            self._queue.put(self.lease.beat)

    def _children(self) -> dict[str, ExistingTrial]:
        out: dict[str, ExistingTrial] = {}
        for run in search_all(self.client, [self.experiment_id], f"tags.`{Tag.PARENT}` = '{self.parent_id}'"):
            key = run.data.tags.get(Tag.KEY)
            status = TrialStatus.parse(run.data.tags.get(Tag.STATUS))
            if key and (key not in out or status in DONE_STATUSES):
                out[key] = ExistingTrial(run.info.run_id, status)
        return out

    def done_keys(self, rerun: tuple[str, ...] = ()) -> set[str]:
        """Trial keys a resume skips: their results are kept (``rerun``: statuses to run again)."""
        keep = DONE_STATUSES - {TrialStatus.parse(r) for r in rerun}
        return {k for k, t in self.existing.items() if t.status in keep}

    # ---- per-trial writes, queued ------------------------------------------------------
    def trial_started(self, trial: TrialSpec) -> None:
        self._queue.put(lambda: self._start(trial))

    def trial_metrics(self, trial: TrialSpec, metrics: dict[str, float], step: int) -> None:
        stamp = int(time.time() * 1000)
        self._queue.put(lambda: self._metrics(trial, metrics, step, stamp))

    def trial_ended(self, trial: TrialSpec, status: TrialStatus, artifacts: dict[str, str],
                    tags: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> None:
        self._queue.put(lambda: self._end(trial, status, artifacts, tags or {}, params or {}))

    def _start(self, trial: TrialSpec) -> None:
        from mlflow.entities import Param, RunTag

        self._attempts[trial.key] = self._attempts.get(trial.key, 0) + 1
        run_id = self._runs.get(trial.key)
        tags = {Tag.STATUS: TrialStatus.RUNNING.value, Tag.ATTEMPT: str(self._attempts[trial.key])}
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            return
        tags.update({Tag.PARENT: self.parent_id, Tag.KEY: trial.key, Tag.SWEEP: self.spec.name,
                     Tag.TRIAL_NAME: trial.name, Tag.SETTING: trial.setting, Tag.SEED: str(trial.seed),
                     Tag.TRAINER: trial.trainer, Tag.AXES: json.dumps(dict(trial.axes))})
        tags.update({Tag.axis(a): _param_value(v) for a, v in trial.axes.items()})
        if self.git:  # per trial too: `orch diff` compares two runs' code
            tags.update({Tag.GIT_COMMIT: self.git["commit"], Tag.GIT_DIRTY: self.git["dirty"]})
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=trial.name)
        run_id = self._runs[trial.key] = run.info.run_id
        params = {k: _param_value(v) for k, v in trial.config.items()}
        params.setdefault("seed", str(trial.seed))
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])
        self.client.log_text(run_id, yaml.safe_dump(trial.nested_config(), sort_keys=False), "config.yaml")
        self.client.log_text(run_id, environment_report(), "environment.txt")
        if self.git.get("patch"):
            self.client.log_text(run_id, self.git["patch"], "git_diff.patch")

    def _metrics(self, trial: TrialSpec, metrics: dict[str, float], step: int, stamp: int) -> None:
        from mlflow.entities import Metric

        items = [Metric(to_mlflow_name(k), float(v), stamp, step) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self._runs[trial.key], metrics=items[i:i + 1000])

    def _end(self, trial: TrialSpec, status: TrialStatus, artifacts: dict[str, str], tags: dict[str, str],
             params: dict[str, Any]) -> None:
        from mlflow.entities import Param, RunTag

        run_id = self._runs[trial.key]
        if params:  # new keys only (e.g. oom.batch_size): MLflow forbids changing a logged param
            self.client.log_batch(run_id, params=[Param(k, _param_value(v)) for k, v in params.items()])
        for name, text in artifacts.items():
            if text:
                self.client.log_text(run_id, text, name)
        all_tags = {**tags, Tag.STATUS: status.value}
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in all_tags.items()])
        self.client.set_terminated(run_id, status.run_status)

    # ---- the writer thread ---------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            op = self._queue.get()
            try:
                if op is None:
                    return
                op()
            except Exception as exc:  # noqa: BLE001 - keep writing the other trials
                self._errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()

    def flush(self) -> list[str]:
        self._queue.join()
        return list(self._errors)

    def close(self, status: str = "FINISHED", summary: dict[str, Any] | None = None) -> list[str]:
        self._stopping.set()
        errors = self.flush()
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self.parent_id:
            if summary:
                from mlflow.entities import Metric

                stamp = int(time.time() * 1000)
                metrics = [Metric(f"sweep/{k}", float(v), stamp, 0) for k, v in summary.items()
                           if isinstance(v, (int, float)) and math.isfinite(v)]
                self.client.log_batch(self.parent_id, metrics=metrics)
            self.client.set_terminated(self.parent_id, status)
        if self.lease is not None:
            self.lease.release()
        return errors


def log_parent_artifact(parent_run_id: str, path, uri: str | None = None) -> None:
    """Attach a file (a plot, a table) to a sweep's parent run."""
    make_client(resolve_uri(uri)).log_artifact(parent_run_id, str(path), "results")
