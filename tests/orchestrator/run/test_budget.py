"""budget: no new trial starts once one is spent; spent amounts add up over launches."""

from __future__ import annotations

import pytest

from orchestrator.run import run_sweep
from orchestrator.run.budget import BudgetGate
from orchestrator.sweepfile import load_sweep
from orchestrator.sweepfile.model import Budget
from tests.orchestrator.run.conftest import children, parents


def test_the_gate_counts_trials_wall_and_gpu_hours_with_what_earlier_launches_spent():
    now, used = [0.0], [0.0]
    gate = BudgetGate(Budget(trials=10, wall_s=3600, gpu_hours=2.0), done_before=4, wall_before=1800,
                      gpu_hours=lambda: used[0], clock=lambda: now[0])
    assert gate.over() is None
    gate.started = 6
    assert gate.over() == "trials" and gate.spent_on == "trials"
    gate = BudgetGate(Budget(wall_s=3600), 0, 1800, lambda: 0.0, clock=lambda: now[0])
    now[0] = 1799
    assert gate.over() is None
    now[0] = 1800
    assert gate.over() == "wall" and gate.spent()["budget_wall_s"] == 3600
    gate = BudgetGate(Budget(gpu_hours=2.0), 0, 0, lambda: used[0], clock=lambda: now[0])
    used[0] = 1.99
    assert gate.over() is None
    used[0] = 2.0
    assert gate.over() == "gpu_hours" and "2.00 of 2 GPU-h" in gate.describe()


@pytest.mark.slow
def test_a_wall_budget_stops_new_trials_and_holds_across_launches(local_ray, store, write):
    uri, client = store
    path = write("wall.yaml", """
        name: wall
        trainer: toy
        params: {epochs: 2, sleep: 0.5}
        grid: {t: [6, 7, 8, 9, 10, 11, 12, 13]}
        budget: {wall: 3s}
        resources: {max_concurrent: 1}
    """)
    first = run_sweep(load_sweep(path), tracking_uri=uri, quiet=True)
    ran = sum(first.counts.values())
    assert 1 <= ran < 8 and first.budget.startswith("budget spent (wall)")
    [parent] = parents(client)
    assert parent.data.metrics["sweep/budget_wall_s"] >= 3 and parent.data.metrics["sweep/budget_trials"] == ran
    assert len(children(client, parent.info.run_id)) == ran  # nothing half-started beyond the budget
    again = run_sweep(load_sweep(path), tracking_uri=uri, quiet=True)
    assert again.counts == {} and again.skipped == ran and again.budget.startswith("budget spent (wall)")
