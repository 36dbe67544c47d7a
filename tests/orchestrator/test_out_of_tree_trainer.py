"""A trainer from another package, registered only through entry-point metadata (a dist-info
folder on PYTHONPATH, as pip would install it): its table group works in `orch table` and its
data set in `orch data synth`, with nothing in orch naming either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

LAB_TRAINER = '''
from dataclasses import dataclass
from pathlib import Path

from orchestrator.trainer import MetricColumn, MetricGroup, SynthDataset, Trainer, param


@dataclass
class Config:
    lr: float = param(0.1, gt=0, help="step size")
    seed: int = 0


def train(cfg, report):
    for step in (1, 2):
        report({"val/acc": 50 + 100 * cfg.lr * step + cfg.seed, "val/err": 10 - 10 * cfg.lr * step}, step)
    return {}


def write_blobs(out, n_train, n_val, seed, shape="square"):
    out = Path(out)
    for split, n in (("train", n_train), ("val", n_val)):
        (out / split).mkdir(parents=True)
        for i in range(n):
            (out / split / f"{shape}_{seed}_{i}.txt").write_text(shape)
    return out


TRAINER = Trainer(
    config=Config, train="labtrainer:train", metric="val/acc", mode="max", description="lab trainer",
    groups=(MetricGroup("labgroup", (MetricColumn("val/acc", "Accuracy", "Acc"),
                                     MetricColumn("val/err", "Error", "Err", higher_is_better=False)),
                        aliases=("lab",)),),
    datasets=(SynthDataset("blobs", "labtrainer:write_blobs", "text blobs", train=3, val=1,
                           options={"shape": ("square", "blob shape")}),),
)
'''


@pytest.fixture
def lab_env(tmp_path):
    site = tmp_path / "site"
    (site / "labtrainer").mkdir(parents=True)
    (site / "labtrainer" / "__init__.py").write_text(LAB_TRAINER)
    info = site / "labtrainer-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: labtrainer\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[orch.trainers]\nlab = labtrainer:TRAINER\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def orch(env, cwd, *args, timeout=240):
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_out_of_tree_data_set_is_listed_and_written(lab_env, tmp_path):
    listed = orch(lab_env, tmp_path, "data", "list")
    assert listed.returncode == 0 and "blobs" in listed.stdout and "lab" in listed.stdout
    wrote = orch(lab_env, tmp_path, "data", "synth", "blobs", str(tmp_path / "b"), "--opt", "shape=circle",
                 "--seed", "3")
    assert wrote.returncode == 0, wrote.stderr
    assert sorted(p.name for p in (tmp_path / "b" / "train").iterdir()) == [f"circle_3_{i}.txt" for i in range(3)]
    bad = orch(lab_env, tmp_path, "data", "synth", "blobs", str(tmp_path / "c"), "--opt", "colour=red")
    assert bad.returncode == 2 and "has no option 'colour'; its options: shape" in bad.stderr
    shown = orch(lab_env, tmp_path, "trainers", "lab")
    assert "table group labgroup/lab: Accuracy, Error" in shown.stdout and "data set blobs" in shown.stdout


@pytest.mark.slow
def test_out_of_tree_group_fills_orch_table(lab_env, tmp_path):
    (tmp_path / "lab.yaml").write_text(textwrap.dedent("""
        name: labsweep
        trainer: lab
        grid:
          lr: [0.1, 0.2]
        seeds: [0, 1]
    """))
    ran = orch(lab_env, tmp_path, "sweep", "lab.yaml", "--quiet")
    assert ran.returncode == 0, ran.stderr[-3000:]
    table = orch(lab_env, tmp_path, "table", "--metric", "lab", "--format", "json", "--out", "-")
    assert table.returncode == 0, table.stderr
    rows = {r["setting"]: r["metrics"] for r in json.loads(table.stdout)}
    assert set(rows) == {"lr0.1", "lr0.2"}
    assert rows["lr0.2"]["val/acc"]["mean"] == pytest.approx(90.5) and rows["lr0.2"]["val/acc"]["n"] == 2
    assert rows["lr0.2"]["val/err"]["mean"] == pytest.approx(6.0)
    # the group says lower is better for the error: the smaller one is bold
    assert rows["lr0.2"]["val/err"]["best"] and not rows["lr0.1"]["val/err"]["best"]
    latex = orch(lab_env, tmp_path, "table", "--metric", "labgroup", "--format", "latex", "--out", "-")
    assert "Acc & Err" in latex.stdout
