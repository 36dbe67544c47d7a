"""The MLflow UI's shared view of a sweep (pure: the JSON orch writes as an experiment tag)."""

from orchestrator.sweepfile import load_sweep
from orchestrator.tracking.ui_view import ui_path, view_key, view_state


def test_view_lists_the_children_with_axes_seed_status_and_metric_best_first(write):
    spec = load_sweep(write("v.yaml", """
        name: my sweep
        trainer: toy
        grid: {t: [7, 10]}
        variants: {a: {lr: 1e-3}, b: {lr: 2e-3}}
        seeds: 2
        metric: {name: train/loss, mode: min}
    """))
    state = view_state(spec, "abc123")
    assert state["searchFilter"] == "tags.`mlflow.parentRunId` = 'abc123'"
    assert state["selectedColumns"] == ["params.`t`", "tags.`orch.axis.variant`", "params.`seed`",
                                        "metrics.`train/loss`", "tags.`orch.status`"]
    assert state["orderByKey"] == "metrics.`train/loss`" and state["orderByAsc"] is True
    assert view_key("my sweep") == "orch-my-sweep"
    assert ui_path("3", "my sweep") == "/#/experiments/3/runs?workflowType=machine_learning&viewStateShareKey=orch-my-sweep"
