"""The Tune callback: turns trial events into tracked runs and progress lines."""

from __future__ import annotations

import json
from typing import Any

from ray import tune

from orchestrator.run.progress import SweepProgress
from orchestrator.spec.model import TrialSpec
from orchestrator.tracking.writer import SweepTracker


class TrackingCallback(tune.Callback):
    def __init__(self, trials: tuple[TrialSpec, ...], tracker: SweepTracker, progress: SweepProgress,
                 budget: int | None = None):
        self.trials = trials
        self.budget = budget  # steps after which a trial is complete (stop.max_epochs, ASHA max_t)
        self.last_step: dict[str, int] = {}
        self.tracker = tracker
        self.progress = progress
        self.final: dict[str, str] = {}  # tune trial id -> status, once the worker reported it
        self.outcomes: dict[str, str] = {}  # trial key -> status

    def __getstate__(self) -> dict:
        # Tune pickles its settings for its own restore; orch resumes from MLflow instead,
        # and a tracker (threads, database handles) cannot be pickled.
        return {}

    def _spec(self, trial: Any) -> TrialSpec:
        return self.trials[trial.config["index"]]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        spec = self._spec(trial)
        self.tracker.trial_started(spec)
        self.progress.trial_started(spec.name)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        spec = self._spec(trial)
        if "orch_event" in result:
            attempt = result.get("orch_attempt", 0)
            self.tracker.trial_ended(spec, "failed", {f"traceback-attempt{attempt}.txt": result["orch_traceback"]},
                                     {"orch.message": result["orch_message"][:5000]})
            self.tracker.trial_started(spec)
            self.progress.trial_retry(spec.name, result["orch_message"])
            return
        if "orch_status" in result:
            status = result["orch_status"]
            self.final[trial.trial_id] = status
            artifacts = {"trial.log": result.get("orch_log", "")}
            if status == "failed":
                artifacts["traceback.txt"] = result.get("orch_traceback", "")
            tags = {"orch.message": str(result.get("orch_message", ""))[:5000],
                    "orch.attempts": str(result.get("orch_attempts", 1)),
                    "orch.node_id": str(result.get("orch_node_id", ""))}
            extra = result.get("orch_params") or {}
            if extra:
                tags["orch.oom_params"] = json.dumps(extra)
            self.tracker.trial_ended(spec, status, artifacts, tags, params=extra)
            self.outcomes[spec.key] = status
            self.progress.trial_ended(spec.name, status, str(result.get("orch_message", "")))
            return
        metrics = {k: result[k] for k in result.get("orch_keys", ()) if k in result}
        step = int(result.get("orch_step", result.get("training_iteration", 0)))
        self.last_step[trial.trial_id] = step
        self.tracker.trial_metrics(spec, metrics, step)
        self.progress.trial_metrics(spec.name, metrics, step)

    def _ended_without_status(self, trial: Any, status: str, message: str) -> None:
        if trial.trial_id in self.final:
            return
        spec = self._spec(trial)
        self.final[trial.trial_id] = status
        self.tracker.trial_ended(spec, status, {}, {"orch.message": message[:5000]})
        self.outcomes[spec.key] = status
        self.progress.trial_ended(spec.name, status, message)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # the scheduler ended it before the worker's final report: at the step budget that is a
        # complete trial, before it an early stop (ASHA, median rule)
        if self.budget and self.last_step.get(trial.trial_id, 0) >= self.budget:
            self._ended_without_status(trial, "finished", f"reached the step budget {self.budget}")
        else:
            self._ended_without_status(trial, "stopped", "stopped early by the scheduler")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        # the worker itself died (killed, out of host memory): nothing reported a status
        message = str(getattr(trial, "error_msg", "") or "the trial's worker process died")
        self._ended_without_status(trial, "failed", message.strip().splitlines()[-1] if message else "")
