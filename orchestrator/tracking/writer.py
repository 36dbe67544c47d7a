"""Writes a sweep to MLflow: one parent run per sweep, one nested child run per trial key.

Exactly once: a child run is found by its trial key under the sweep's parent before one
is created, so a resumed, retried or replayed trial reuses its run. Writes go in order through
one background queue (:mod:`orchestrator.tracking.queue`), so the Ray event loop never waits on
the store, a trial's final status is written only after its metrics, an outage is retried, and
what cannot be written before the sweep closes is spooled and replayed by the next run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from orchestrator.util.files import write_atomic
from orchestrator.protocol import COMPUTE_PREFIX, DONE_STATUSES, Compute, Tag, TrialStatus, param_text
from orchestrator.util.secrets import mask_config
from orchestrator.sweepfile.model import SweepSpec, TrialSpec, nest
from orchestrator.tracking import _sqlite_reader
from orchestrator.tracking._paging import search_all
from orchestrator.tracking.lease import HEARTBEAT_S, TagLease
from orchestrator.tracking.parent import open_parent
from orchestrator.tracking.provenance import environment_report, git_state
from orchestrator.tracking.queue import (Op, Outage, WriteQueue, fallback_spool, is_transient, metric_points,
                                         read_spool)
from orchestrator.tracking.store import (experiment_id, local_artifact_dir, make_client, resolve_uri, sqlite_path,
                                         to_mlflow_name)

__all__ = ["SweepTracker", "ExistingTrial", "FLUSH_TIMEOUT_S"]

# how long closing waits for an unreachable store before it spools what is left
FLUSH_TIMEOUT_S = float(os.environ.get("ORCH_FLUSH_TIMEOUT_S", "120"))


@dataclass(frozen=True)
class ExistingTrial:
    run_id: str
    status: TrialStatus
    compute: dict = field(default_factory=dict)  # its compute/ totals so far
    params: frozenset = frozenset()  # the param keys it has (fewer than its config's: killed while described)
    artifact_uri: str = ""


def spool_path(sweep: str, uri: str) -> Path:
    """Where writes a run could not make are kept: ``./.orch-spool/<sweep>-<store>.jsonl``."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:10]
    return Path.cwd() / ".orch-spool" / f"{sweep}-{digest}.jsonl"


class SweepTracker:
    def __init__(self, spec: SweepSpec, uri: str | None = None,
                 on_outage: Callable[[Outage | None], None] = lambda outage: None, claimed: Any = None):
        self.spec = spec
        self.uri = resolve_uri(uri)
        self._claimed = claimed  # the local lease claim_store took, if it ran first
        self.client = make_client(self.uri)
        self.experiment_id = experiment_id(self.client, spec.experiment, self.uri)
        self.parent_id: str | None = None
        self.git = git_state()  # once per sweep run: the code every trial of this run used
        self.existing: dict[str, ExistingTrial] = {}
        self.lease: Any = None
        self.resumed = False
        self.previous_tags: dict[str, str] = {}
        self.previous_metrics: dict[str, float] = {}  # the parent's, before this run (sweep/budget_*)
        self.replayed = 0
        self._discarded = False
        self._trials = {t.key: t for t in spec.trials}
        self._runs: dict[str, str] = {}  # trial key -> run id, owned by the writer thread
        self._attempts: dict[str, int] = {}
        self._described: set[str] = set()  # child runs this launch gave their params and artifacts
        self._folders: dict[str, Path] = {}  # run id -> its local artifact folder (local stores only)
        self._compute: dict[str, dict[str, float]] = {}  # trial key -> compute/ totals, owned by the writer thread
        self._server = sqlite_path(self.uri) is None
        self._queue = WriteQueue(self._apply, spool_path(spec.name, self.uri), on_outage)
        self._stopping = threading.Event()
        self._beats = threading.Thread(target=self._heartbeat, name="orch-lease-heartbeat", daemon=True)

    # ---- parent run and what already exists --------------------------------------------
    def open_parent(self, new: bool = False) -> str:
        """Take the sweep's lease, find or create its parent run, replay what an earlier run
        spooled, and read which trials it has."""
        opened = open_parent(self.client, self.experiment_id, self.spec, self.uri, self.git, new, self._claimed)
        self.parent_id, self.lease, self.previous_tags = opened.run_id, opened.lease, opened.previous_tags
        self.previous_metrics = opened.previous_metrics
        self.resumed = opened.resumed
        self._know(self._children() if opened.resumed else {})
        if not new:
            self._replay()
        if isinstance(self.lease, TagLease):
            self._beats.start()
        # the package list of the trials' environment artifact (0.4 s), read while Tune starts
        # its workers rather than when the first trial's run is described
        self._queue.put(Op("warm", droppable=True))
        return self.parent_id

    def _replay(self) -> None:
        for path in (self._queue.spool, fallback_spool(self._queue.spool)):  # the temp one: a full disk's
            ops = read_spool(path)
            for op in ops:
                if op.kind != "parent" and op.key in self._trials:  # this run's close sets the parent's
                    self._apply(op)
            if ops:
                path.unlink()
                self.replayed += len(ops)
                self._know(self._children())
                print(f"notice: wrote the {len(ops)} writes an earlier run of {self.spec.name} had kept in "
                      f"{path}", file=sys.stderr, flush=True)

    def _know(self, existing: dict[str, ExistingTrial]) -> None:
        self.existing = existing
        self._runs = {key: t.run_id for key, t in existing.items()}
        self._compute = {key: dict(t.compute) for key, t in existing.items()}
        for t in existing.values():
            self._folder(t.run_id, t.artifact_uri)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_S):
            self._queue.put(Op("beat", droppable=True))

    def _children(self) -> dict[str, ExistingTrial]:
        out: dict[str, ExistingTrial] = {}
        for run_id, tags, params, metrics, artifact_uri in self._child_runs():
            key = tags.get(Tag.KEY)
            status = TrialStatus.parse(tags.get(Tag.STATUS))
            if key and (key not in out or status in DONE_STATUSES):
                compute = {k: v for k, v in metrics.items() if k.startswith(COMPUTE_PREFIX)}
                out[key] = ExistingTrial(run_id, status, compute, params, artifact_uri)
        return out

    def _child_runs(self) -> list[tuple]:
        """(run id, tags, param names, latest metrics, artifact URI) of the parent's runs, newest
        first: straight from a local SQLite store (a resumed sweep of 1,000s of trials starts
        seconds sooner), else through the client."""
        if not self._server:  # (ORCH_READ_VIA_CLIENT: the reader refuses, as UnknownSchema)
            try:
                found = _sqlite_reader.children_sqlite(self.uri, self.experiment_id, self.parent_id)
            except _sqlite_reader.UnknownSchema:
                found = None
            if found is not None:
                return found
        return [(run.info.run_id, dict(run.data.tags), frozenset(run.data.params), dict(run.data.metrics),
                 run.info.artifact_uri)
                for run in search_all(self.client, [self.experiment_id], f"tags.`{Tag.PARENT}` = '{self.parent_id}'")]

    def compute_totals(self) -> dict[str, float]:
        """The sweep's compute so far: stored totals and what ended in this run (any thread)."""
        return Compute.totals(list(self._compute.values()))

    def done_keys(self, rerun: tuple[str, ...] = ()) -> set[str]:
        """Trial keys a resume skips: their results are kept (``rerun``: statuses to run again)."""
        keep = DONE_STATUSES - {TrialStatus.parse(r) for r in rerun}
        return {k for k, t in self.existing.items() if t.status in keep}

    # ---- per-trial writes, queued ------------------------------------------------------
    def add_trial(self, trial: TrialSpec) -> None:
        """A trial the sweep file could not list: a point a searcher suggested while it runs."""
        self._trials.setdefault(trial.key, trial)

    def trial_started(self, trial: TrialSpec) -> None:
        self._queue.put(Op("start", trial.key))

    def trial_metrics(self, trial: TrialSpec, metrics: dict[str, float], step: int) -> None:
        values = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self._queue.put(Op("metrics", trial.key, {"metrics": values, "step": step,
                                                  "stamp": int(time.time() * 1000)}))

    def trial_ended(self, trial: TrialSpec, status: TrialStatus, artifacts: dict[str, str],
                    tags: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                    compute: dict[str, float] | None = None, on_durable: Callable[[], None] | None = None) -> None:
        """Queue a trial's final status and this attempt's compute (added to the run's totals);
        ``on_durable`` runs once it is in the store."""
        self._queue.put(Op("end", trial.key, {"status": status.value, "artifacts": artifacts, "tags": tags or {},
                                              "params": params or {}, "compute": compute or {}}, on_durable))

    def _apply(self, op: Op) -> None:
        if op.kind == "warm":
            environment_report()
        elif op.kind == "beat":
            self.lease.beat()
        elif op.kind == "parent":
            if not self._discarded:
                self._finish_parent(op.data["status"], op.data["summary"])
        elif op.kind == "discard":
            self.client.delete_run(self.parent_id)
            self._discarded = True
        elif op.kind == "start":
            self._start(self._trials[op.key])
        elif op.kind == "metrics":
            self._metrics(op.key, metric_points(op))
        elif op.kind == "end":
            d = op.data
            self._end(op.key, TrialStatus.parse(d["status"]), d["artifacts"], d["tags"], d["params"],
                      d.get("compute") or {}, d.get("points") or [])

    def _find_child(self, key: str) -> str | None:
        """A child run for ``key`` that exists already (a create whose answer was lost)."""
        found = self.client.search_runs([self.experiment_id], filter_string=(
            f"tags.`{Tag.PARENT}` = '{self.parent_id}' and tags.`{Tag.KEY}` = '{key}'"), max_results=1)
        return found[0].info.run_id if found else None

    def _start(self, trial: TrialSpec) -> None:
        from mlflow.entities import RunTag

        self._attempts[trial.key] = self._attempts.get(trial.key, 0) + 1
        run_id = self._runs.get(trial.key) or (self._find_child(trial.key) if self._server else None)
        tags = {Tag.STATUS: TrialStatus.RUNNING.value, Tag.ATTEMPT: str(self._attempts[trial.key])}
        if run_id is not None:
            self._runs[trial.key] = run_id
            self.client.update_run(run_id, status="RUNNING")
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            self._complete(run_id, trial)
            return
        self._create_child(trial, tags)

    def _create_child(self, trial: TrialSpec, tags: dict[str, str]) -> None:
        tags.update({Tag.PARENT: self.parent_id, Tag.KEY: trial.key, Tag.SWEEP: self.spec.name,
                     Tag.TRIAL_NAME: trial.name, Tag.SETTING: trial.setting, Tag.SEED: str(trial.seed),
                     Tag.TRAINER: trial.trainer, Tag.AXES: json.dumps(dict(trial.axes))})
        tags.update({Tag.axis(a): param_text(v) for a, v in mask_config(trial.axes, self.spec.secrets).items()})
        if self.git:  # per trial too: `orch diff` compares two runs' code
            tags.update({Tag.GIT_COMMIT: self.git["commit"], Tag.GIT_DIRTY: self.git["dirty"]})
        # the tags (key, axes: the point) come with the run in one write; the rest may be cut short
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=trial.name)
        run_id = self._runs[trial.key] = run.info.run_id
        self._folder(run_id, run.info.artifact_uri)
        self._describe(run_id, trial)

    def _complete(self, run_id: str, trial: TrialSpec) -> None:
        """Describe a run found again whose description was cut short (an earlier launch killed
        between creating it and logging its params, or a create whose answer was lost)."""
        if run_id in self._described:
            return
        stored = self.existing.get(trial.key)
        have = (stored.params if stored is not None and stored.run_id == run_id
                else frozenset(self.client.get_run(run_id).data.params))
        if set(self._params(trial)) <= have:
            self._described.add(run_id)
        else:
            self._describe(run_id, trial)

    def _folder(self, run_id: str, artifact_uri: str) -> None:
        folder = local_artifact_dir(artifact_uri) if not self._server else None
        if folder is not None:
            self._folders[run_id] = folder

    def _params(self, trial: TrialSpec) -> dict[str, str]:
        public = mask_config(trial.config, self.spec.secrets)  # the trial itself got the real values
        params = {k: param_text(v) for k, v in public.items()}
        params.setdefault("seed", str(trial.seed))
        params.update({k: str(v) for k, v in self.spec.dist_params(trial).items()})
        return params

    def _describe(self, run_id: str, trial: TrialSpec) -> None:
        """A child run's artifacts, then its params, last: a run with all its params is described
        in full (logging the same values again is allowed, so a resume can finish the job)."""
        from mlflow.entities import Param

        public = mask_config(trial.config, self.spec.secrets)
        self._text(run_id, yaml.safe_dump(nest(public), sort_keys=False), "config.yaml")
        self._text(run_id, environment_report(), "environment.txt")
        if self.git.get("patch"):
            self._text(run_id, self.git["patch"], "git_diff.patch")
        self._batch(run_id, params=[Param(k, v) for k, v in self._params(trial).items()])
        self._described.add(run_id)

    @staticmethod
    def _points(points: list[dict[str, Any]]) -> list:
        from mlflow.entities import Metric

        return [Metric(to_mlflow_name(k), float(v), p["stamp"], p["step"]) for p in points
                for k, v in p["metrics"].items()]

    def _metrics(self, key: str, points: list[dict[str, Any]]) -> None:
        items = self._points(points)
        for i in range(0, len(items), 1000):
            self.client.log_batch(self._runs[key], metrics=items[i:i + 1000])

    def _end(self, key: str, status: TrialStatus, artifacts: dict[str, str], tags: dict[str, str],
             params: dict[str, Any], compute: dict[str, float], points: list[dict[str, Any]] = ()) -> None:
        """Artifacts first, then the last reports (``points``), compute, new params and the
        status in one write: a run that says it finished has its log. The compute totals count
        only once the write went through."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._runs[key]
        for name, text in artifacts.items():
            if text or name == "trial.log":  # the log is there even when the trainer printed nothing
                self._text(run_id, text, name)
        totals = Compute.merge(self._compute.get(key, {}), compute) if compute else {}
        stamp = int(time.time() * 1000)
        closing = dict(metrics=[Metric(k, float(v), stamp, 0) for k, v in totals.items()],
                       # new keys only (e.g. oom.batch_size): MLflow forbids changing a logged param
                       params=[Param(k, param_text(v)) for k, v in params.items()],
                       tags=[RunTag(k, v) for k, v in {**tags, Tag.STATUS: status.value}.items()])
        try:
            self._batch(run_id, **{**closing, "metrics": [*self._points(points), *closing["metrics"]]})
        except Exception as exc:  # noqa: BLE001 - a report the store refuses must not cost the result
            if not points or is_transient(exc):
                raise
            for point in points:  # each report on its own, as if they had not been folded
                try:
                    self._batch(run_id, metrics=self._points([point]))
                except Exception as refused:  # noqa: BLE001 - recorded; the rest go on
                    if is_transient(refused):
                        raise
                    self._queue.errors.append(f"{type(refused).__name__}: {refused}")
            self._batch(run_id, **closing)
        if totals:
            self._compute[key] = totals
        self.client.set_terminated(run_id, status.run_status)

    def _batch(self, run_id: str, metrics: list = (), params: list = (), tags: list = ()) -> None:
        """One log_batch (one transaction) where MLflow's limits allow, else chunks of each."""
        metrics, params, tags = list(metrics), list(params), list(tags)
        if len(metrics) <= 900 and len(params) <= 100 and len(tags) <= 100:
            self.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            return
        for items, size, name in ((metrics, 1000, "metrics"), (params, 100, "params"), (tags, 100, "tags")):
            for i in range(0, len(items), size):
                self.client.log_batch(run_id, **{name: items[i:i + size]})

    def _text(self, run_id: str, text: str, name: str) -> None:
        """A text artifact; into the run's local folder directly where the store keeps one
        (what MLflow's local artifact repository does, without its lookup of the run)."""
        folder = self._folders.get(run_id)
        if folder is None:
            self.client.log_text(run_id, text, name)
            return
        write_atomic(folder / name, text)

    def _finish_parent(self, status: str, summary: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(f"sweep/{k}", float(v), stamp, 0) for k, v in summary.items()
                   if isinstance(v, (int, float)) and math.isfinite(v)]
        # the sweep as its file has it now; an optuna search's earlier points are in no file
        adaptive = self.spec.search is not None and self.spec.search.adaptive
        keys = set(self._trials) | (set(self._compute) if adaptive else set())
        metrics += [Metric(k, v, stamp, 0) for k, v in
                    Compute.totals(c for key, c in self._compute.items() if key in keys).items()]
        if metrics:
            self.client.log_batch(self.parent_id, metrics=metrics)
        self.client.set_terminated(self.parent_id, status)

    def discard_parent(self) -> None:
        """Nothing ran after all: delete the parent run if this run created it."""
        if self.parent_id and not self.resumed:
            self._queue.put(Op("discard"))

    # ---- closing ---------------------------------------------------------------------------
    @property
    def outage(self) -> Outage | None:
        return self._queue.outage

    @property
    def spooled(self) -> tuple[int, Path]:
        """(writes kept in the spool file for the next run, the file)."""
        return self._queue.spooled, self._queue.spool

    @property
    def lost_keys(self) -> list[str]:
        """The trial keys of writes neither the store nor a spool file could take."""
        return [op.key for op in self._queue.lost]

    def flush(self) -> list[str]:
        self._queue.flush()
        return list(self._queue.errors)

    def close(self, status: str = "FINISHED", summary: dict[str, Any] | None = None,
              timeout: float = FLUSH_TIMEOUT_S) -> list[str]:
        """Write the parent's final status after every queued write; wait up to ``timeout`` for
        an unreachable store, then spool the rest. Returns the writes that failed for good."""
        self._stopping.set()
        if self.parent_id:
            self._queue.put(Op("parent", data={"status": status, "summary": summary or {}}))
        self._queue.close(timeout)
        # a server lease is released only when the server answers (else it lapses after its timeout)
        if self.lease is not None and not (isinstance(self.lease, TagLease) and self._queue.spooled):
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001 - a lapsed lease is taken over anyway
                pass
        return list(self._queue.errors)

