"""Every bad input: exit code 2, file:line and key in one readable paragraph, no traceback,
nothing launched or written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app

runner = CliRunner()


def orch(*args: str):
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, SystemExit) or result.exception is None, result.exception
    return result


BAD = {
    "unknown_key": (
        "trainer: toy\nparams:\n  pointmaxW: 1\n",
        ":3: pointmaxW: unknown key; did you mean pointMaxW?",
    ),
    "unknown_key_in_grid": (
        "trainer: toy\ngrid:\n  probmargin: [0, .5]\n",
        ":3: probmargin: unknown key; did you mean probMargin?",
    ),
    "wrong_type": (
        "trainer: toy\nparams:\n  epochs: 2.5\n",
        ":3: epochs: expected int, got float 2.5",
    ),
    "wrong_type_in_axis_value": (
        "trainer: toy\ngrid:\n  t:\n    - 7\n    - hot\n",
        ":5: t: expected float, got str 'hot'",
    ),
    "list_param_written_flat": (
        "trainer: toy\ngrid:\n  rs: [8, 4, 2, 1]\n",
        ":3: rs: is a list-valued parameter, so each grid value is a list; write rs: [[8, 4, 2, 1]]",
    ),
    "out_of_range": (
        "trainer: toy\nparams: {probMargin: 1.5}\n",
        ":2: probMargin: must be <= 1, got 1.5",
    ),
    "zip_unequal": (
        "trainer: toy\nzip:\n  pointMaxW: [0, 1, 4]\n  probMargin: [0, .5]\n",
        ":2: zip: lists must have equal lengths: pointMaxW has 3, probMargin has 2",
    ),
    "empty_axis": (
        "trainer: toy\ngrid:\n  t: []\n",
        ":3: t: empty grid axis",
    ),
    "unknown_trainer": (
        "name: x\ntrainer: posee\n",
        ":2: trainer: unknown trainer 'posee'; registered trainers: ",
    ),
    "duplicate_trials": (
        "trainer: toy\ngrid:\n  - {t: [7, 10]}\n  - {t: [10, 12]}\n",
        ":2: trials: duplicate trials: t10 and t10 have the same config",
    ),
    "duplicate_values": (
        "trainer: toy\ngrid:\n  t: [7, 7.0]\n",
        "duplicate trials",
    ),
    "unknown_top_level": (
        "trainer: toy\ngird:\n  t: [7]\n",
        ":2: gird: unknown top-level key; did you mean grid?",
    ),
    "yaml_syntax": (
        "trainer: toy\ngrid:\n  t: [7, 10\nseeds: 2\n",
        "not valid YAML",
    ),
    "missing_trainer": (
        "grid: {t: [7]}\n",
        ":1: trainer: missing",
    ),
    "seed_in_params": (
        "trainer: toy\nparams: {seed: 3}\n",
        ":2: seed: the seed is set by the sweep's `seeds:` key",
    ),
    "exclude_matches_nothing": (
        "trainer: toy\ngrid: {t: [7, 10]}\nexclude:\n  - {t: 50}\n",
        ":4: exclude: entry {t=50.0} matches no trial",
    ),
    "bad_resources": (
        "trainer: toy\nresources:\n  gpu: -1\n  memory: lots\n",
        ":4: resources.memory: cannot read 'lots' as an amount of memory",
    ),
    "bad_metric_mode": (
        "trainer: toy\nmetric: {name: val/Mean, mode: maximum}\n",
        ":2: metric.mode: must be one of max, min, got 'maximum'",
    ),
    "missing_base_file": (
        "trainer: toy\nbase: configs/nope.yaml\n",
        ":2: base: config file",
    ),
    "abbrev_typo": (
        "trainer: toy\ngrid: {t: [7]}\nabbrev: {tt: t}\n",
        ":3: abbrev.tt: is not an axis of this sweep; did you mean t?",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_file_line_key(case, write):
    text, expected = BAD[case]
    path = write(f"{case}.yaml", text)
    result = orch("sweep", str(path), "--dry-run")
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert "nothing was launched" in result.output


def test_all_problems_in_a_file_are_reported_at_once(write):
    path = write("many.yaml", """
        trainer: toy
        params:
          pointmaxW: 1
          epochs: two
        grid:
          t: []
        zip:
          lr: [1.0e-3]
          probMargin: [0, 1]
    """)
    result = orch("validate", str(path))
    assert result.exit_code == 2
    assert result.output.count("error:") == 4
    for where in (":3: pointmaxW", ":4: epochs", ":6: t", ":7: zip"):
        assert where in result.output
    assert "4 problems in" in result.output


def test_bad_set_override_is_reported(write):
    path = write("ok.yaml", "trainer: toy\n")
    result = orch("sweep", str(path), "--dry-run", "--set", "tt=3", "--set", "epochs")
    assert result.exit_code == 2
    assert "--set: tt: unknown key given with --set; did you mean t?" in result.output
    assert "--set: epochs: expected KEY=VALUE" in result.output


def test_missing_file(tmp_path):
    result = orch("sweep", str(tmp_path / "nope.yaml"), "--dry-run")
    assert result.exit_code == 2 and "nope.yaml: no such sweep file" in result.output


def test_unknown_placeholder(write):
    from tests.orchestrator.sweepfile.strtrainer import registered

    path = write("ph.yaml", "trainer: _strtest\nparams:\n  out: 'runs/{sweep}/{nmae}'\n")
    with registered():
        result = orch("validate", str(path))
    assert result.exit_code == 2
    assert ":3: out: unknown placeholder {nmae}; did you mean name?" in result.output


def test_real_process_exit_code_no_traceback_nothing_written(write, tmp_path):
    path = write("bad.yaml", "trainer: toy\nparams: {pointmaxW: 1}\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "sweep", str(path)],
                          capture_output=True, text=True, cwd=workdir, env=env)
    assert proc.returncode == 2
    assert f"{path}:2: pointmaxW: unknown key; did you mean pointMaxW?" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert list(workdir.iterdir()) == []  # no mlruns, no results, no Ray session dir
