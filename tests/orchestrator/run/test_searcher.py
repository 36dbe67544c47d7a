"""The optuna searcher for every sampler a sweep may name: Tune pickles it into tuner.pkl when
a Tuner is made, so each must pickle and still suggest afterwards (no Ray instance needed)."""

from __future__ import annotations

import pytest
from ray import cloudpickle

from orchestrator.run.search import Resumed, make_searcher
from orchestrator.sweepfile import load_sweep
from orchestrator.sweepfile.errors import SpecError
from orchestrator.sweepfile.search import SAMPLERS, SINGLE_OBJECTIVE_SAMPLERS

SWEEP = """
name: s
trainer: toy
params: {{epochs: 1}}
metric: {metric}
search:
  method: optuna
  sampler: {sampler}
  num_samples: 4
  seed: 3
  space:
    t: {{uniform: [5, 13]}}
    pointMaxW: {{uniform: [0, 3]}}
"""


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("metric", ["{val/Mean: max}", "{val/Mean: max, val/surface: min}"])
def test_every_sampler_pickles_for_tune_and_still_suggests(tmp_path, sampler, metric):
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.format(sampler=sampler, metric=metric))
    if sampler in SINGLE_OBJECTIVE_SAMPLERS and "," in metric:  # refused when the file loads
        with pytest.raises(SpecError, match="optimises one objective"):
            load_sweep(path)
        return
    searcher, line = make_searcher(load_sweep(path), Resumed())
    assert line == f"search: optuna ({sampler}), 4 points to ask for"
    cloudpickle.dumps(searcher)  # what tune.Tuner does with it
    point = searcher.suggest("trial-0")
    assert set(point) == {"t", "pointMaxW"} and 5 <= point["t"] <= 13 and 0 <= point["pointMaxW"] <= 3
