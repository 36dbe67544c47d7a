"""Sweep files: load YAML with line numbers, merge layers, validate, expand into trials.

Pure: no ray, mlflow or torch is imported here or below.
"""

from orchestrator.spec.errors import Problem, SpecError
from orchestrator.spec.loader import TOP_LEVEL_KEYS, load_sweep, load_trainer_run
from orchestrator.spec.model import Resources, Scheduler, StopRule, SweepSpec, TrialSpec, nest
from orchestrator.spec.schema import ParamInfo, Schema

__all__ = [
    "ParamInfo", "Problem", "Resources", "Schema", "Scheduler", "SpecError", "StopRule",
    "SweepSpec", "TOP_LEVEL_KEYS", "TrialSpec", "load_sweep", "load_trainer_run", "nest",
]
