"""stop.stall on trials of one worker, for real through Ray and MLflow: a trainer whose progress
stops (a toy epoch that sleeps past the limit) and a script waiting for ever (the command trainer)
end as killed with the stall message, within the limit and a step; retries run the script again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.orchestrator.run.conftest import children, parents
from tests.orchestrator.run.test_faults import _env, _run

pytestmark = pytest.mark.slow

SWEEP = """
name: stalls
trainer: toy
params: {epochs: 2, sleep: 0.2}
grid:
  - {t: [1]}
  - {t: [2], sleep: [40]}
stop: {stall: 3s}
"""

SCRIPT = """
name: stalledscript
trainer: command
params:
  command: [python3, -c, "import time; print('waiting for input', flush=True); time.sleep(600)", orch-stall-test]
stop: {stall: 3s}
retries: 1
"""


def _runs(tmp_path) -> dict:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return {r.info.run_name: r for p in parents(client) for r in children(client, p.info.run_id)}


def test_stalled_trials_of_one_worker_end_killed_with_the_stall_message(tmp_path, write):
    write("stalls.yaml", SWEEP)
    write("script.yaml", SCRIPT)
    env = _env(tmp_path)
    code, out = _run(["sweep", "stalls.yaml", "--quiet"], tmp_path, env)
    assert code == 0, out  # a killed trial is no failure of the sweep
    code, out = _run(["sweep", "script.yaml", "--quiet"], tmp_path, env)
    assert "retry    default: no report or progress for 3s (stalled)" in out, out
    runs = _runs(tmp_path)
    assert runs["t1_sleep0.2"].data.tags["orch.status"] == "finished"  # progress every 0.02 s: never stalled
    for name, attempts in (("t2_sleep40", "1"), ("default", "2")):
        run = runs[name]
        assert run.data.tags["orch.status"] == "killed", name
        assert run.data.tags["orch.message"] == "no report or progress for 3s (stalled)"
        assert run.data.tags["orch.attempts"] == attempts  # retries: 1 ran the script once more
        # the toy's progress comes every 4 s: ended at its next step, well before its epoch's 40 s
        assert run.data.metrics["compute/wall_s"] < 25 * int(attempts), name
    assert not _scripts_left(), "a stalled script outlived its trial"


def _scripts_left() -> list[str]:
    found = []
    for name in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if b"orch-stall-test" in cmd and b"pytest" not in cmd:
            found.append(name)
    return found
