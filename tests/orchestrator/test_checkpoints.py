"""A sweep's checkpoints on disk, for real files: what they take, what `orch clean` removes (only
checkpoint files, never anything else in the folder) and the free-space line before a launch
(on a 1 MB tmpfs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.util.checkpoints import CleanError, SpaceWatch, clean, disk_use, human
from orchestrator.protocol import Tag, TrialStatus
from orchestrator.analysis.records import SweepRecord, TrialResult
from tests.disks import tmpfs


def _record(tmp_path: Path, statuses: dict[str, TrialStatus], sizes: dict[str, int]) -> SweepRecord:
    trials = []
    for name, status in statuses.items():
        folder = tmp_path / "checkpoints" / "sw" / name
        if name in sizes:
            folder.mkdir(parents=True)
            (folder / "checkpoint.pt").write_bytes(b"\0" * sizes[name])
        trials.append(TrialResult(run_id=name * 4, name=name, setting=name, key=name, seed=0, status=status, axes={},
                                  params={"train.out_dir": f"checkpoints/sw/{name}"}))
    return SweepRecord("sw", "p", "1", "FINISHED", 0, "pose", "val/Mean", "max", (), len(trials), tuple(trials),
                       tags={Tag.WORKDIR: str(tmp_path)})


STATUSES = {"a": TrialStatus.FINISHED, "b": TrialStatus.FAILED, "c": TrialStatus.DIVERGED,
            "d": TrialStatus.KILLED, "e": TrialStatus.RUNNING, "f": TrialStatus.FINISHED}


def test_disk_use_counts_checkpoint_files_by_status_from_the_launch_folder(tmp_path, monkeypatch):
    record = _record(tmp_path, STATUSES, {"a": 3000, "b": 2000, "c": 1000, "d": 500, "e": 700})
    monkeypatch.chdir(tmp_path.parent)  # relative out_dirs are read under the parent run's orch.workdir
    use = disk_use(record)
    assert (use.bytes, use.trials) == (7200, 5)
    assert use.by_status == {"finished": [1, 3000], "failed": [1, 2000], "diverged": [1, 1000], "killed": [1, 500],
                             "running": [1, 700]}
    words = use.words("sw")
    assert words.startswith("checkpoints: 7.2 kB in 5 trial folder(s) under ") and "1 failed 2.0 kB" in words
    assert "`orch clean sw` removes the failed ones" in words
    assert human(185_300_000) == "185 MB" and human(1_234_000_000) == "1.2 GB" and human(12) == "12 B"


def test_clean_failed_removes_failed_and_diverged_only_and_keeps_other_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = _record(tmp_path, STATUSES, {"a": 3000, "b": 2000, "c": 1000, "d": 500, "e": 700})
    notes = tmp_path / "checkpoints" / "sw" / "c" / "notes.txt"
    notes.write_text("mine")
    dry = clean(record, "failed", dry_run=True)
    assert dry.freed == 3000 and (tmp_path / "checkpoints/sw/b/checkpoint.pt").exists()
    done = clean(record, "failed")
    assert sorted(n for n, _, _ in done.removed) == ["b", "c"] and done.freed == 3000
    assert done.kept == {"finished": 1, "killed": 1, "running": 1}
    assert not (tmp_path / "checkpoints/sw/b").exists()  # emptied, so removed
    assert notes.read_text() == "mine" and not (notes.parent / "checkpoint.pt").exists()
    assert disk_use(record).bytes == 4200


def test_clean_all_spares_running_trials_and_is_refused_while_the_sweep_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = _record(tmp_path, STATUSES, {"a": 3000, "d": 500, "e": 700})
    with pytest.raises(CleanError, match=r"sweep sw is running now \(vm pid 1\).*--checkpoints failed"):
        clean(record, "all", running_owner="vm pid 1")
    with pytest.raises(CleanError, match="'some' is not one of failed, finished, all"):
        clean(record, "some")
    done = clean(record, "all")
    assert sorted(n for n, _, _ in done.removed) == ["a", "d"] and done.kept == {"running": 1}
    assert (tmp_path / "checkpoints/sw/e/checkpoint.pt").exists()


class _Trial:
    def __init__(self, name: str, folder: Path):
        self.key, self.name, self.config = name, name, {"train.out_dir": str(folder)}


def test_the_free_space_line_says_when_the_checkpoints_to_come_do_not_fit(tmp_path):
    with tmpfs(tmp_path / "disk", "1M") as disk:
        trials = [_Trial(n, disk / n) for n in ("t0", "t1", "t2")]
        (disk / "t0").mkdir()
        (disk / "t0" / "checkpoint.pt").write_bytes(b"\0" * 400_000)  # an earlier start's
        watch = SpaceWatch.of(trials, {"t1", "t2"})
        line = watch.before_launch()
        assert line.startswith(f"disk: {disk} has ") and "the 2 trial(s) still to write a checkpoint would take " \
            "about 800 kB (400 kB each, as t0's)" in line and "train.out_dir" in line
        assert watch.before_launch() == "" and watch.saw("t1") == ""  # said once
        roomy = SpaceWatch.of([_Trial(n, disk / n) for n in ("t0", "t1")], {"t1"})
        assert roomy.before_launch() == ""  # 400 kB of 600 kB free: it fits
        fresh = SpaceWatch.of(trials[1:], {"t1", "t2"})
        assert fresh.before_launch() == ""  # nothing to size it by yet
        (disk / "t1").mkdir()
        (disk / "t1" / "checkpoint.pt").write_bytes(b"\0" * 400_000)  # this start's first: 240 kB left
        assert "the 1 trial(s) still to write a checkpoint would take about 400 kB (400 kB each, as t1's)" \
            in fresh.saw("t1")
