"""The tracker on a real local store (no Ray): a trial's last reports and its result are one
write, and a report the store refuses does not cost the result."""

from __future__ import annotations

import pytest

from orchestrator.protocol import TrialStatus
from orchestrator.sweepfile import load_sweep
from orchestrator.tracking import SweepTracker

pytestmark = pytest.mark.slow  # MLflow creates a real store

SWEEP = """
    name: w
    trainer: toy
    grid: {t: [7, 10]}
"""


def _child(client, tracker, trial):
    [run] = client.search_runs([tracker.experiment_id], f"tags.`orch.trial_key` = '{trial.key}'")
    return run


def test_reports_and_the_result_land_together(write, store):
    uri, client = store
    spec = load_sweep(write("w.yaml", SWEEP))
    tracker = SweepTracker(spec, uri)
    tracker.open_parent()
    durable = []
    for trial in spec.trials:
        tracker.trial_started(trial)
        for step in (1, 2, 3):
            tracker.trial_metrics(trial, {"val/Mean": 10.0 * step, "val/Mean@0.1": float(step)}, step)
        tracker.trial_ended(trial, TrialStatus.FINISHED, {"trial.log": "ok"},
                            on_durable=lambda name=trial.name: durable.append(name))
    assert tracker.close("FINISHED") == []
    assert sorted(durable) == sorted(t.name for t in spec.trials)
    for trial in spec.trials:
        run = _child(client, tracker, trial)
        assert run.info.status == "FINISHED" and run.data.tags["orch.status"] == "finished"
        history = client.get_metric_history(run.info.run_id, "val/Mean")
        assert [(m.step, m.value) for m in history] == [(1, 10.0), (2, 20.0), (3, 30.0)]
        assert run.data.metrics["val/Mean_at_0.1"] == 3.0


def test_a_report_the_store_refuses_is_an_error_and_the_result_still_lands(write, store):
    uri, client = store
    spec = load_sweep(write("w.yaml", SWEEP))
    trial = spec.trials[0]
    tracker = SweepTracker(spec, uri)
    tracker.open_parent()
    tracker.trial_started(trial)
    tracker.trial_metrics(trial, {"val/Mean": 5.0}, 1)
    tracker.trial_metrics(trial, {"val//top1": 0.5}, 2)  # MLflow refuses a name that is not a clean path
    tracker.trial_ended(trial, TrialStatus.FINISHED, {"trial.log": "ok"})
    errors = tracker.close("FINISHED")
    assert any("val//top1" in e for e in errors), errors
    run = _child(client, tracker, trial)
    assert run.info.status == "FINISHED" and run.data.tags["orch.status"] == "finished"
    assert run.data.metrics.get("val/Mean") == 5.0
