"""The embedded instance's workers import Tune before their first trial, and a trial still gets
the threads its CPUs allow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# its own embedded instance (the session's has no preload): a 1-CPU actor reports what its worker
# had imported before it ran, and numpy's BLAS threads before and after orch sizes them
SCRIPT = r"""
import json, sys
from orchestrator.run.environment import start_ray, worker_modules
start_ray(preload=worker_modules())
import ray

@ray.remote(num_cpus=1)
class Trial:
    def run(self):
        loaded = {m: m in sys.modules for m in ("ray.tune", "orchestrator.run.trainable", "torch")}
        import threadpoolctl
        def blas():
            return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        before = blas()
        from orchestrator.run.trainable import threads_as_ray_sets
        threads_as_ray_sets()
        import os
        return {"loaded": loaded, "before": before, "after": blas(), "omp": os.environ.get("OMP_NUM_THREADS")}

print("RESULT " + json.dumps(ray.get(Trial.remote().run.remote())))
ray.shutdown()
"""


def test_workers_import_tune_ahead_and_a_one_cpu_trial_runs_one_blas_thread():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=180)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(lines[0][len("RESULT "):])
    # imported as the worker started, before the trial was handed to it; the trainer's torch is not
    assert seen["loaded"] == {"ray.tune": True, "orchestrator.run.trainable": True, "torch": False}
    assert seen["omp"] == "1"
    assert seen["before"], "numpy's BLAS was loaded with Tune"
    if (os.cpu_count() or 1) >= 2:  # what the preload alone leaves: a pool sized to the machine
        assert max(seen["before"]) >= 2
    assert seen["after"] == [1] * len(seen["after"])
