"""The command trainer's schema: its own options; any other key is a free-form parameter
for the script's ``{placeholders}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.trainer import param
from trainers.command.parsers import DEFAULT_PARSERS, DEFAULT_STEP_REGEX
from trainers.command.presets import PRESETS


@dataclass
class Config:
    __orch_free_form__ = "vars"  # keys not declared below land in `vars`

    command: list[str] = param(help="argv of the script, never run through a shell: "
                               "[python, train.py, --t, '{t}', --gpus, '{gpus}']")
    cwd: str = param("", help="working folder of the script; empty: where orch was run")
    env: dict[str, Any] = param({}, help="extra environment variables (placeholders allowed)")
    parse: str = param("", choices=("", *PRESETS), help="a preset for what the field's scripts print "
                       "(simplebaseline, mmpose, detectron2, poseval, bisenet); metrics: then adds parsers")
    metrics: list[dict[str, Any]] = param(list(DEFAULT_PARSERS), help="parsers of the script's output: "
                                          "markdown, latex, kv, json, regex, pairs, copypaste "
                                          "(see trainers/command/parsers.py)")
    step_regex: str = param(DEFAULT_STEP_REGEX, help="regex whose first group is the current step "
                            "(the notes' 'Epoch: [88][0/174]')")
    timeout: float | None = param(None, gt=0, help="seconds before the script is stopped; the trial fails")
    grace: float = param(10.0, ge=0, help="seconds between SIGTERM and SIGKILL when a script is stopped")
    tail_lines: int = param(20, ge=1, help="stderr lines quoted in a failure message")
    vars: dict[str, Any] = field(default_factory=dict)  # the free-form parameters
