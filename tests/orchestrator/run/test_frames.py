"""The notebook API against what the MLflow client reads from the same store (real Ray + MLflow)."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import pytest

import orchestrator
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def test_dataframes_equal_the_store(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("frames.yaml", """
        name: frames
        trainer: toy
        params: {epochs: 3, lr: 1e-3}
        grid: {t: [7, 10]}
        seeds: 3
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    runs = {r.data.tags["orch.trial_name"]: r for r in children(client, parents(client)[0].info.run_id)}

    trials = orchestrator.trials_dataframe("frames", tracking_uri=uri)
    assert len(trials) == len(runs) == 6 and trials.attrs["metric"] == "val/Mean"
    for _, row in trials.iterrows():
        run = runs[row["name"]]
        assert row["run_id"] == run.info.run_id and row["status"] == run.data.tags["orch.status"]
        assert row["params.lr"] == float(run.data.params["lr"]) and row["t"] == float(run.data.params["t"])
        assert row["metrics.val/Mean"] == pytest.approx(run.data.metrics["val/Mean"])
        history = client.get_metric_history(run.info.run_id, "val/Mean")
        best = max(history, key=lambda m: m.value)
        assert (row["best_step"], row["best"]) == (best.step, pytest.approx(best.value))
        assert row["steps"] == max(m.step for m in history)

    table = orchestrator.table_dataframe("frames", ["Mean"], tracking_uri=uri)
    assert list(table.index) == ["t7", "t10"]
    for setting, row in table.iterrows():
        values = []
        for name, run in runs.items():
            if run.data.tags["orch.setting"] == setting:
                values.append(max(m.value for m in client.get_metric_history(run.info.run_id, "val/Mean")))
        assert row["Mean"] == pytest.approx(statistics.fmean(values))
        assert row["Mean_std"] == pytest.approx(statistics.stdev(values)) and row["Mean_n"] == 3
    winner, other = (table.index[0], table.index[1]) if table["Mean_best"].iloc[0] else (table.index[1], table.index[0])
    assert math.isnan(table.loc[winner, "Mean_p_value"]) or table.loc[winner, "Mean_p_value"] is None
    assert 0 <= table.loc[other, "Mean_p_value"] <= 1
    assert table.loc[other, "Mean_diff_ci_low"] <= table.loc[other, "Mean_diff"] <= table.loc[other, "Mean_diff_ci_high"]


def test_the_package_face_stays_import_light():
    code = ("import sys, orchestrator; assert callable(orchestrator.trials_dataframe); "
            "print(sorted(m for m in ('pandas', 'mlflow', 'ray', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
