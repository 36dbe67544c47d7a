"""End to end: a toy sweep with 2 seeds, then `orch table` against what MLflow holds."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow
PCKH = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]


def test_pckh_json_equals_mean_std_from_the_mlflow_client(local_ray, store, write, tmp_path, monkeypatch):
    uri, client = store
    spec = load_sweep(write("two_seeds.yaml", """
        name: two_seeds
        trainer: toy
        params: {epochs: 4}
        grid: {t: [7, 10, 20], probMargin: [0, .8]}
        seeds: 2
        abbrev: {t: t, probMargin: m}
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["table", "--metric", "pckh", "--format", "json",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    rows = {r["setting"]: r for r in json.loads(result.stdout)}
    assert (tmp_path / "results" / "two_seeds.json").read_text() == result.stdout

    # the same numbers, computed directly from the MLflow client
    expected: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    statuses: dict[str, list[str]] = defaultdict(list)
    for run in children(client, parents(client)[0].info.run_id):
        setting = run.data.tags["orch.setting"]
        statuses[setting].append(run.data.tags["orch.status"])
        if run.data.tags["orch.status"] != "finished":
            continue
        mean_history = client.get_metric_history(run.info.run_id, "val/Mean")
        best_step = max(mean_history, key=lambda m: m.value).step
        for joint in PCKH:
            history = client.get_metric_history(run.info.run_id, "val/" + joint.replace("@", "_at_"))
            expected[setting][joint].append(next(m.value for m in history if m.step == best_step))
    assert set(rows) == {"t7m0", "t7m0.8", "t10m0", "t10m0.8", "t20m0", "t20m0.8"}
    for setting, row in rows.items():
        assert row["axes"]["t"] in (7.0, 10.0, 20.0)
        for joint in PCKH:
            cell = row["metrics"][f"val/{joint}"]
            if statuses[setting] == ["diverged", "diverged"]:
                assert cell["mean"] is None and cell["nan"] == 2
                continue
            values = expected[setting][joint]
            assert cell["n"] == 2 == len(values)
            assert cell["mean"] == pytest.approx(statistics.fmean(values), abs=1e-6)
            assert cell["std"] == pytest.approx(statistics.stdev(values), abs=1e-6)
    assert rows["t10m0.8"]["metrics"]["val/Mean"]["best"] is True

    md = CliRunner().invoke(app, ["table", "two_seeds", "--pivot", "t", "probMargin", "-o", "-",
                                  "--tracking-uri", uri])
    assert md.exit_code == 0 and md.stdout.splitlines()[0] == "| t \\ m | 0 | 0.8 |"  # the sweep's abbrev
    missing = CliRunner().invoke(app, ["table", "nope", "--tracking-uri", uri])
    assert missing.exit_code == 2 and "no sweep named 'nope'" in missing.output
