"""The Tune callback: decodes the worker's events (:mod:`orchestrator.protocol`) into tracked
runs and progress lines."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from ray import tune

from orchestrator.run.reporter import data_bound, data_bound_words
from orchestrator.protocol import DISK_FULL, Final, Metrics, Retry, Tag, TrialStatus, decode
from orchestrator.run import interrupt
from orchestrator.run.board import BoardReader
from orchestrator.run.progress import SweepProgress
from orchestrator.run.usage import Usage
from orchestrator.sweepfile.model import TrialSpec
from orchestrator.tracking import SweepTracker

_MESSAGE_LIMIT = 5000
HALTED = "stopped: the disk is full (a trial could not write its checkpoint); it resumes from its own"


class TrackingCallback(tune.Callback):
    def __init__(self, trials: tuple[TrialSpec, ...], tracker: SweepTracker, progress: SweepProgress,
                 budget: int | None = None, usage: Usage | None = None, sampled=None,
                 board: BoardReader | None = None):
        self.trials = trials
        self.board = board or BoardReader(None)  # trials' positions inside an epoch, for the live view
        self.sampled = sampled  # run.search.SampledTrials, for a search whose points come while it runs
        self.usage = usage or Usage(1.0, 0.0)
        self.budget = budget  # steps after which a trial is complete (stop.max_epochs, ASHA max_t)
        self.last_step: dict[str, int] = {}
        self.tracker = tracker
        self.progress = progress
        self.final: dict[str, TrialStatus] = {}  # tune trial id -> status, once the worker reported it
        self.outcomes: dict[str, TrialStatus] = {}  # trial key -> status
        self.started: dict[str, Any] = {}  # tune trial id -> tune trial, for those that started
        self._ending = threading.Lock()  # a SIGTERM records the unfinished from its own thread
        self.nodes: dict[str, str] = {}  # tune trial id -> where its last report came from
        self.space = None  # checkpoints.SpaceWatch: says once when the disk cannot hold the checkpoints
        self.data_bound: dict[str, float] = {}  # trial key -> the largest share of step time spent waiting for data

    def __getstate__(self) -> dict:
        # Tune pickles its settings for its own restore; orch resumes from MLflow instead,
        # and a tracker (threads, database handles) cannot be pickled.
        return {}

    def _spec(self, trial: Any) -> TrialSpec:
        if "index" in trial.config:
            return self.trials[trial.config["index"]]
        spec = self.sampled.for_trial(trial.trial_id, trial.config)
        self.tracker.add_trial(spec)
        return spec

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        for trial_id, position in self.board.poll().items():
            trial = self.started.get(trial_id)
            if trial is not None and trial_id not in self.final:
                self.progress.trial_position(self._spec(trial).name, position)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.started[trial.trial_id] = trial
        spec = self._spec(trial)
        self.usage.started(spec.key)
        self.tracker.trial_started(spec)
        self.progress.trial_started(spec.name)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if result.get("node_ip"):  # where it runs, for the message if its worker or node is lost
            self.nodes[trial.trial_id] = f"pid {result.get('pid', '?')} on {result['node_ip']}"
        spec = self._spec(trial)
        event = decode(result)
        if isinstance(event, Metrics):
            self.last_step[trial.trial_id] = event.step
            self.usage.saw(spec.key, event.values)
            self.tracker.trial_metrics(spec, dict(event.values), event.step)
            self.progress.trial_metrics(spec.name, dict(event.values), event.step)
            if self.space is not None:  # the first checkpoint sizes what the sweep will write
                self.progress.note(self.space.saw(spec.key))
            self._data_bound(spec, event.values)
        elif isinstance(event, Retry):
            self.tracker.trial_ended(spec, TrialStatus.FAILED,
                                     {f"traceback-attempt{event.attempt}.txt": event.traceback},
                                     {Tag.MESSAGE: event.message[:_MESSAGE_LIMIT]},
                                     compute=self.usage.ended(spec.key))
            self.usage.started(spec.key)
            self.tracker.trial_started(spec)
            self.progress.trial_retry(spec.name, event.message)
        elif isinstance(event, Final):
            self._final(trial, spec, event)

    def _data_bound(self, spec: TrialSpec, values) -> None:
        """Say once per trial that it waits on its loader (the live view; the trial's log says it too)."""
        share = data_bound(dict(values))
        if share is None:
            return
        if spec.key not in self.data_bound:
            workers = spec.config.get("data.workers")
            self.progress.note(f"{spec.name} is data-bound: {data_bound_words(share, values['time/steps'], workers)}")
        self.data_bound[spec.key] = max(share, self.data_bound.get(spec.key, 0.0))

    def _tags(self, spec: TrialSpec, tags: dict) -> dict:
        share = self.data_bound.get(spec.key)
        return {**tags, Tag.DATA_WAIT: f"{share:.3f}"} if share is not None else tags

    def _final(self, trial: Any, spec: TrialSpec, event: Final) -> None:
        self.final[trial.trial_id] = event.status
        artifacts = {"trial.log": event.log}
        if event.status == TrialStatus.FAILED:
            artifacts["traceback.txt"] = event.traceback
        tags = {Tag.MESSAGE: event.message[:_MESSAGE_LIMIT], Tag.ATTEMPTS: str(event.attempts),
                Tag.NODE_ID: event.node_id}
        if event.params:
            tags[Tag.OOM_PARAMS] = json.dumps(dict(event.params))
        self.outcomes[spec.key] = event.status
        current = interrupt.active()
        if event.status == TrialStatus.FAILED and event.message.startswith(DISK_FULL) and current is not None:
            current.halted = f"trial {spec.name} found it full ({event.message.removeprefix(DISK_FULL).lstrip(': ')})"  # every trial after it would fail the same way
        # the console calls it ended only once that is in the store
        self.tracker.trial_ended(spec, event.status, artifacts, self._tags(spec, tags), params=dict(event.params),
                                 compute=self.usage.ended(spec.key), on_durable=lambda: self.progress.trial_ended(spec.name, event.status, event.message))

    def _ended_without_status(self, trial: Any, status: TrialStatus, message: str) -> None:
        with self._ending:
            if trial.trial_id in self.final:
                return
            self.final[trial.trial_id] = status
        spec = self._spec(trial)
        self.outcomes[spec.key] = status
        self.tracker.trial_ended(spec, status, {}, self._tags(spec, {Tag.MESSAGE: message[:_MESSAGE_LIMIT]}),
                                 compute=self.usage.ended(spec.key), on_durable=lambda: self.progress.trial_ended(spec.name, status, message))

    def end_unfinished(self, status: TrialStatus, message: str) -> None:
        """Record every trial that started and has no final status yet (an interrupt)."""
        for trial in list(self.started.values()):
            self._ended_without_status(trial, status, message)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # the scheduler ended it before the worker's final report: at the step budget that is a
        # complete trial, before it an early stop (ASHA, median rule)
        current = interrupt.active()
        if current is not None and current.interrupted:  # Tune stopping everything after Ctrl-C
            self._ended_without_status(trial, TrialStatus.KILLED,
                                       f"interrupted by {current.signal_name or 'SIGINT'}")
        elif current is not None and current.halted:
            self._ended_without_status(trial, TrialStatus.KILLED, HALTED)
        elif self.budget and self.last_step.get(trial.trial_id, 0) >= self.budget:
            self._ended_without_status(trial, TrialStatus.FINISHED, f"reached the step budget {self.budget}")
        else:
            self._ended_without_status(trial, TrialStatus.STOPPED, "stopped early by the scheduler")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # the worker itself died (killed, out of host memory, its node lost): nothing reported a status
        self._ended_without_status(trial, TrialStatus.FAILED, self._died(trial))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # the same, with `retries` left: Tune starts it again (on another node if its own is gone),
        # in the same run; on_trial_start follows
        spec = self._spec(trial)
        message = self._died(trial)
        self.tracker.trial_ended(spec, TrialStatus.FAILED, {}, {Tag.MESSAGE: message[:_MESSAGE_LIMIT]},
                                 compute=self.usage.ended(spec.key))
        self.progress.trial_retry(spec.name, message)

    def _died(self, trial: Any) -> str:
        """One line for a trial whose worker died, naming the pid and node it ran on."""
        line = _last_error(trial)
        where = self.nodes.get(trial.trial_id, "")
        lost = any(w in line.lower() for w in ("node", "unavailable", "socket closed"))
        if where:
            return f"its worker ({where}) {'was lost' if lost else 'died'}: {line or 'no error was reported'}"
        return line or "the trial's worker process died"


def _last_error(trial: Any) -> str:
    """The first line of the last failure in Tune's error file for ``trial`` ("" when none)."""
    try:
        path = Path(trial.error_file) if trial.error_file else None
        text = path.read_text(errors="replace") if path is not None and path.is_file() else str(trial.get_error() or "")
    except Exception:  # noqa: BLE001 - no storage left to read it from
        return ""
    block = text.rsplit("Failure # ", 1)[-1].splitlines()[1:]
    line = next((part.strip() for part in block if part.strip()), "")
    return re.sub(r"^The actor \w+ is unavailable: ", "", line)[:300]
