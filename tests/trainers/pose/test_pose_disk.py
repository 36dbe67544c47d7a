"""Checkpoints and a full disk, for real: the quickstart's smoke sweep with its checkpoints on a
small tmpfs. The first checkpoint does not fit: one paragraph, exit 3, nothing launched after it;
with room, the resume runs each trial once; `orch runs` shows what the checkpoints take and `orch
clean` frees it, the store's results untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from tests.disks import resize, run_orch, tmpfs
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow


def _trials(folder: Path) -> dict[str, tuple[str, str]]:
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    [parent] = parents(client)
    runs = children(client, parent.info.run_id)
    assert len(runs) == len({r.info.run_name for r in runs})  # one run per trial, never two
    return {r.info.run_name: (r.data.tags["orch.status"], r.data.tags.get("orch.message", "")) for r in runs}


def test_a_checkpoint_that_fills_the_disk_stops_the_sweep_in_a_paragraph_and_clean_frees_it(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with tmpfs(tmp_path / "disk", "60M") as disk:
        sweep = ["sweep", str(ROOT / "sweeps" / "quickstart.yaml"), "--profile", "smoke", "--quiet",
                 "--set", "train.out_dir=../disk/{name}", "--set", "resources.max_concurrent=1"]
        code, out, err, _ = run_orch(sweep, work)
        assert code == 3, out + err
        assert "Traceback" not in err and "inline_container" not in err, err
        [said] = [line for line in err.splitlines() if line.startswith("error:")]
        assert said.startswith("error: a disk is full: trial mse found it full (../disk/mse/checkpoint.tmp could "
                               "not be written (the checkpoint takes about ")
        assert "free on its file system" in said and "`orch clean quickstart --checkpoints finished`" in said
        trials = _trials(work)
        assert trials["mse"][0] == "failed" and trials["mse"][1].startswith("disk full: ../disk/mse/checkpoint.tmp")
        assert trials.get("msssm", ("killed",))[0] == "killed"  # launched no more (or stopped the next at once)
        assert list(disk.iterdir()) in ([], [disk / "mse"])  # the half-written file went

        resize(disk, "400M")
        code, out, err, _ = run_orch(sweep, work)
        assert code == 0, err
        assert {n: s for n, (s, _) in _trials(work).items()} == {"mse": "finished", "msssm": "finished"}

        code, out, _, _ = run_orch(["runs", "quickstart", "--tracking-uri", f"sqlite:///{work}/mlflow.db"],
                                   tmp_path)  # from another folder: relative out_dirs are under orch.workdir
        assert code == 0
        [line] = [ln for ln in out.splitlines() if ln.startswith("checkpoints: ")]
        assert "in 2 trial folder(s) under disk (2 finished " in line, line  # relative to where it is asked
        code, out, _, _ = run_orch(["clean", "quickstart", "--checkpoints", "finished", "--dry-run"], work)
        assert code == 0 and "would remove the checkpoints of 2 trial(s) (finished)" in out, out
        assert (disk / "mse" / "checkpoint.pt").is_file()
        code, out, _, _ = run_orch(["clean", "quickstart", "--checkpoints", "finished"], work)
        assert code == 0 and "removed the checkpoints of 2 trial(s) (finished)" in out and " freed:" in out, out
        assert not any(disk.iterdir())
        code, out, _, _ = run_orch(["runs", "quickstart"], work)
        assert code == 0 and "checkpoints:" not in out
        assert {n: s for n, (s, _) in _trials(work).items()} == {"mse": "finished", "msssm": "finished"}
