"""Sweep files: load YAML with line numbers, merge layers, validate, expand into trials.

Pure: no ray, mlflow or torch is imported here or below.
"""

from orchestrator.sweepfile.errors import Problem, SpecError
from orchestrator.sweepfile.loader import TOP_LEVEL_KEYS, load_sweep, load_trainer_run
from orchestrator.sweepfile.model import Resources, Scheduler, StopRule, SweepSpec, TrialSpec, nest
from orchestrator.sweepfile.schema import ParamInfo, Schema

__all__ = [
    "ParamInfo", "Problem", "Resources", "Schema", "Scheduler", "SpecError", "StopRule",
    "SweepSpec", "TOP_LEVEL_KEYS", "TrialSpec", "load_sweep", "load_trainer_run", "nest",
]
