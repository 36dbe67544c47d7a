"""Output presets for the field's scripts: a fixture printing each tool's shape runs as a command
sweep (real Ray and MLflow); metrics land under canonical names and `orch table` with the
matching group fills every column."""

from __future__ import annotations

import json
import sys

import pytest

from orchestrator.analysis.publish import TableRequest, make_table
from orchestrator.run import run_sweep
from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
FIXTURES = ROOT / "tests" / "fixtures"

CASES = {  # preset: (fixture, table group, a value the table must show)
    "simplebaseline": ("simplebaseline_train.py", "pckh", ("val/Mean", 85.0)),
    "mmpose": ("mmpose_train.py", "coco", ("val/AP50", 90.0)),
    "detectron2": ("detectron2_train.py", "coco", ("val/AP", 64.9012)),
    "poseval": ("poseval_eval.py", "pckh", ("val/Shoulder", 79.9)),
    "bisenet": ("bisenet_train.py", "miou", ("val/mIoU_ms_flip", 67.8901)),
}


@pytest.mark.parametrize("preset", sorted(CASES))
def test_a_preset_fills_its_table_group(preset, local_ray, store, write, tmp_path):
    uri, client = store
    script, group, (key, value) = CASES[preset]
    metric = "val/mIoU" if group == "miou" else "val/AP" if group == "coco" else "val/Mean"
    spec = load_sweep(write(f"{preset}.yaml", f"""
        name: preset_{preset}
        trainer: command
        params:
          command: [{sys.executable}, {FIXTURES / script}]
          parse: {preset}
        metric: {{name: {metric}, mode: max}}
    """))
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True)
    assert outcome.counts == {"finished": 1}, outcome
    text, _ = make_table(TableRequest(spec.name, (group,), fmt="json", out="-", tracking_uri=uri))
    [row] = json.loads(text)
    cells = row["metrics"]
    assert all(c["mean"] is not None for c in cells.values()), cells  # every column filled
    assert cells[key]["mean"] == pytest.approx(value)
    md, _ = make_table(TableRequest(spec.name, (group,), out="-", tracking_uri=uri))
    [line] = [line for line in md.splitlines() if line.startswith("| default")]
    assert " - " not in line
    if preset == "simplebaseline":  # its Mean@0.1 is the reference's, and the table says so
        assert "- Mean@0.1 (ref): PCKh at threshold 0.11" in md


def test_simplebaseline_reads_losses_by_phase_and_the_reference_mean_at_01(local_ray, store, write):
    uri, client = store
    spec = load_sweep(write("sb.yaml", f"""
        name: sb_phases
        trainer: command
        params:
          command: [{sys.executable}, {FIXTURES / "simplebaseline_train.py"}]
          parse: simplebaseline
    """))
    run_sweep(spec, tracking_uri=uri, quiet=True)
    [run] = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
             if "orch.trial_key" in r.data.tags]
    history = {k: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, k)]
               for k in ("train/loss", "val/loss", "val/Mean_at_0.1_ref")}
    assert history["train/loss"][-1] == (1, pytest.approx(0.00121 / 2, abs=1e-5))
    assert all(v > 0.0009 for _, v in history["val/loss"])  # the Test: lines, never the training ones
    assert history["val/Mean_at_0.1_ref"] == [(0, pytest.approx(80 / 3, abs=1e-3)), (1, pytest.approx(85 / 3, abs=1e-3))]
