"""A trial that waits on its loader, for real through Ray and MLflow: a script reports a quarter
or more of its step time waiting for data over a few hundred steps; the console and the trial's
log say so once with the remedy, the run is tagged, and `orch runs` flags it. Short or
well-fed trials are not flagged."""

from __future__ import annotations

import sys

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.orchestrator.run.test_faults import _env, _run

pytestmark = pytest.mark.slow

SCRIPT = """
import sys
import orchestrator
wait, steps = float(sys.argv[1]), float(sys.argv[2])
for epoch in (1, 2):
    orchestrator.report(step=epoch, **{"time/data_wait": wait, "time/steps": steps, "val/Mean": 50.0 + epoch})
"""

SWEEP = """
name: loaderbound
trainer: command
params: {{command: ["{python}", "{script}", "{{wait}}", "{{steps}}"]}}
zip: {{wait: [0.41, 0.41, 0.1], steps: [700, 50, 700]}}
"""


def test_a_data_bound_trial_is_said_once_tagged_and_flagged(tmp_path):
    (tmp_path / "bound.py").write_text(SCRIPT)
    (tmp_path / "bound.yaml").write_text(SWEEP.format(python=sys.executable, script=tmp_path / "bound.py"))
    env = _env(tmp_path)
    code, out = _run(["sweep", "bound.yaml", "--quiet"], tmp_path, env)
    assert code == 0, out
    said = [line for line in out.splitlines() if "is data-bound" in line]
    assert len(said) == 1, out  # once, though both epochs were data-bound
    assert said[0].startswith("wait0.41_steps700 is data-bound: 41% of the step time went to waiting for data "
                              "(over 700 steps)") and "Raise data.workers" in said[0], said
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = {r.info.run_name: r for r in children(client, parents(client)[0].info.run_id)}
    assert runs["wait0.41_steps700"].data.tags["orch.data_wait"] == "0.410"
    assert "orch.data_wait" not in runs["wait0.41_steps50"].data.tags  # too few steps to say
    assert "orch.data_wait" not in runs["wait0.1_steps700"].data.tags  # fed well enough
    log = open(client.download_artifacts(runs["wait0.41_steps700"].info.run_id, "trial.log", str(tmp_path))).read()
    assert log.count("data-bound: 41% of the step time went to waiting for data") == 1, log
    code, listed = _run(["runs", "loaderbound"], tmp_path, env)
    [flag] = [line for line in listed.splitlines() if line.startswith("data-bound")]
    assert "wait0.41_steps700 (41%)" in flag and "steps50" not in flag and "raise data.workers" in flag
