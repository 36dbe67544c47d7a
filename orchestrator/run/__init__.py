"""Run a validated sweep on Ray Tune; the only package that imports ray.

Embedded local Ray by default (loopback only, no dashboard), or ``address`` to join a
cluster. Trials already finished in the tracking store (by trial key) are skipped, so
re-running a sweep resumes it.

    outcome = run_sweep(load_sweep("sweeps/quickstart.yaml"))
    start_ray()   # what benches and tests use to start Ray exactly as orch does
"""

from orchestrator.run.environment import (ClusterUnreachable, ResourcesUnavailable, configure_environment,
                                          start_ray)
from orchestrator.run.tuner import SweepOutcome, run_sweep

__all__ = ["ClusterUnreachable", "ResourcesUnavailable", "SweepOutcome", "configure_environment", "run_sweep",
           "start_ray"]
