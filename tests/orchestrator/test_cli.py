from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from orchestrator import __version__
from orchestrator.cli import app
from tests.conftest import ROOT

runner = CliRunner()
GRID = str(ROOT / "sweeps" / "toy_grid.yaml")


def test_dry_run_json_lists_every_trial_for_scripts():
    result = runner.invoke(app, ["sweep", GRID, "--dry-run", "--format", "json"])
    assert result.exit_code == 0
    trials = json.loads(result.stdout)
    assert len(trials) == 24
    first = trials[0]
    assert set(first) == {"name", "key", "trainer", "seed", "axes", "config", "resources"}
    assert set(first["axes"]) == {"pointMaxW", "probMargin", "rs", "t"}
    assert first["config"]["epochs"] == 4 and first["trainer"] == "toy"
    assert first["resources"]["cpu"] == 1.0


def test_dry_run_table_and_set():
    result = runner.invoke(app, ["sweep", GRID, "--dry-run", "--set", "epochs=2",
                                 "--set", "t=13"])
    assert result.exit_code == 0
    assert "p0m0.7rs8421t13" in result.stdout
    assert "12 trials" in result.stdout


def test_profile_smoke():
    result = runner.invoke(app, ["sweep", GRID, "--dry-run", "--profile", "smoke", "--format", "json"])
    assert [t["name"] for t in json.loads(result.stdout)] == ["t10", "t15"]


def test_validate_many_files():
    files = sorted(str(p) for p in (ROOT / "sweeps").glob("*.yaml"))
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0
    assert result.stdout.count("ok  ") == len(files)


def test_trainers_lists_and_describes():
    listing = runner.invoke(app, ["trainers"])
    assert listing.exit_code == 0 and "toy" in listing.stdout and "val/Mean" in listing.stdout
    detail = runner.invoke(app, ["trainers", "toy"], env={"COLUMNS": "200"})
    assert "pointMaxW" in detail.stdout and "fail_at_epoch" in detail.stdout
    assert "[8,4,2,1]" in detail.stdout
    missing = runner.invoke(app, ["trainers", "nope"])
    assert missing.exit_code == 2 and "registered trainers: command, pose, pose3d, seg, toy" in missing.output


def test_trainers_lists_every_choice_parameters_values():
    detail = runner.invoke(app, ["trainers", "pose"], env={"COLUMNS": "400"})
    assert detail.exit_code == 0
    backbone = next(line for line in detail.stdout.splitlines() if "model.backbone" in line)
    assert "one of: resnet18, resnet34" in backbone and "mobilenet_v3_small" in backbone
    assert "[one of: mse, msssm]" in detail.stdout and "[one of: step, cosine]" in detail.stdout


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.stdout.strip() == f"orch {__version__}"


def test_help_imports_nothing_heavy():
    code = ("import sys; from orchestrator.cli import app; "
            "print([m for m in ('ray', 'mlflow', 'torch', 'pandas', 'yaml') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_piped_output_keeps_every_value_whole():
    """`orch trainers pose | grep mobilenet_v3_small`: a pipe is no 80-column screen."""
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "trainers", "pose"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    for whole in ("mobilenet_v3_small", "shufflenet_v2_x1_0", "train.keep_optimizer", "model.deconv_kernel"):
        assert whole in out.stdout, whole


def test_orch_train_says_what_it_runs_on_its_first_line():
    def first(*sets: str) -> str:
        args = [a for s in sets for a in ("--set", s)]
        out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "train", "toy", *args],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()[0]

    assert first("epochs=1") == "toy epochs=1"  # what differs from the defaults, not an empty `default:`
    assert first("epochs=1", "t=20") == "toy t=20.0 epochs=1"  # in the schema's order


@pytest.mark.slow
def test_piped_runs_status_and_data_list_keep_every_value_whole(tmp_path):
    """`orch runs SWEEP | grep RUN_ID` and the like: names, ids and paths come out whole."""
    (tmp_path / "wide.yaml").write_text("name: a_sweep_with_a_rather_long_name_for_its_table\ntrainer: toy\n"
                                        "params: {epochs: 1}\ngrid: {probMargin: [0.00125], pointMaxW: [0.0625]}\n"
                                        "zip: {t: [7, 8], sleep: [0.0, 0.001]}\n")

    def orch(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "…" not in out.stdout, out.stdout
        return out.stdout

    orch("sweep", "wide.yaml", "--quiet")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
            if "mlflow.parentRunId" in r.data.tags]
    names = {r.info.run_name for r in runs}
    assert names == {"probMargin0.00125_pointMaxW0.0625_t7_sleep0", "probMargin0.00125_pointMaxW0.0625_t8_sleep0.001"}
    listed = orch("runs", "a_sweep_with_a_rather_long_name_for_its_table")
    assert all(name in listed for name in names) and all(r.info.run_id in listed for r in runs)
    assert "a_sweep_with_a_rather_long_name_for_its_table" in orch("runs")
    assert "a_sweep_with_a_rather_long_name_for_its_table: 2 trials" in orch("status")
    datasets = orch("data", "list")
    assert "cityscapes" in datasets and "mpii" in datasets
