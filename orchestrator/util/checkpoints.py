"""The disk a sweep's checkpoints use, the space left for them, and `orch clean`.

A trial's checkpoint is ``checkpoint.pt`` (and a ``checkpoint.tmp`` a kill left mid-write) in its
``train.out_dir``; relative folders mean what they meant where ``orch sweep`` ran (the parent run's
``orch.workdir``). Only those two files are ever removed, then the folders they leave empty: an
``out_dir`` a user pointed at a folder of their own loses nothing else. The store's results (runs,
metrics, logs, artifacts) are never touched. Pure file work: no MLflow, no Ray.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from orchestrator.protocol import Tag, TrialStatus

__all__ = ["FILES", "CleanError", "Cleaned", "DiskUse", "clean", "disk_use", "human", "space_note"]

FILES = ("checkpoint.pt", "checkpoint.tmp")
WHICH = {  # --checkpoints: which trials' checkpoints go
    "failed": (TrialStatus.FAILED, TrialStatus.DIVERGED),  # nothing to resume from, nothing to evaluate
    "finished": (TrialStatus.FINISHED, TrialStatus.STOPPED),  # mode: eval and orch diff lose their weights
    "all": tuple(s for s in TrialStatus if s != TrialStatus.RUNNING),
}


class CleanError(Exception):
    pass


def human(n: float) -> str:
    """``185 MB``, ``1.2 GB``, ``40 kB``: decimal units, as df -H and the size of a download."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" or abs(n) >= 100 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _nearest_folder(path: Path) -> Path:
    """``path`` or the nearest folder above it that exists: where a file to come will live."""
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def free_words(path: Path) -> str:
    """``3.1 MB free on its file system`` for the file system under ``path`` (a file or a folder)."""
    try:
        return f"{human(shutil.disk_usage(_nearest_folder(Path(path))).free)} free on its file system"
    except OSError:
        return "its file system's free space unknown"


def folder_of(out_dir: str, workdir: str | None) -> Path | None:
    if not out_dir:
        return None
    path = Path(os.path.expanduser(out_dir))
    if not path.is_absolute() and workdir and Path(workdir).is_dir():
        path = Path(workdir) / path
    return path


def checkpoint_bytes(folder: Path | None) -> int:
    total = 0
    for name in FILES if folder is not None else ():
        try:
            total += (folder / name).stat().st_size
        except OSError:
            pass
    return total


@dataclass
class DiskUse:
    bytes: int = 0
    trials: int = 0  # trials with a checkpoint here
    by_status: dict[str, list[int]] = field(default_factory=dict)  # status -> [trials, bytes]
    root: str = ""  # the folder they share

    def words(self, sweep: str) -> str:
        """``checkpoints: 88 MB in 2 trials' folders under checkpoints/quickstart (1 finished 44 MB,
        1 failed 44 MB); orch clean quickstart removes the failed ones``; empty when there are none."""
        if not self.trials:
            return ""
        parts = ", ".join(f"{n} {status} {human(b)}" for status, (n, b) in sorted(self.by_status.items()))
        where = f" under {self.root}" if self.root else ""
        failed = any(s in self.by_status for s in ("failed", "diverged"))
        hint = f"`orch clean {sweep}{'' if failed else ' --checkpoints finished'}` removes the " + (
            "failed ones" if failed else "finished ones")
        return f"checkpoints: {human(self.bytes)} in {self.trials} trial folder(s){where} ({parts}); {hint}"


def _common_root(folders: Iterable[Path]) -> str:
    folders = [str(f.parent) for f in folders]
    if not folders:
        return ""
    root = os.path.commonpath(folders)
    cwd = os.getcwd()
    return os.path.relpath(root, cwd) if root.startswith(cwd + os.sep) or root == cwd else root


def _trial_folders(record) -> list[tuple[object, Path]]:
    workdir = record.tags.get(Tag.WORKDIR)
    found = []
    for t in record.trials:
        folder = folder_of(t.params.get("train.out_dir", ""), workdir)
        if folder is not None:
            found.append((t, folder))
    return found


def disk_use(record) -> DiskUse:
    """What the sweep's trials' checkpoints take on this machine's disks."""
    use = DiskUse()
    held = []
    for t, folder in _trial_folders(record):
        size = checkpoint_bytes(folder)
        if size:
            use.bytes += size
            use.trials += 1
            count = use.by_status.setdefault(t.status.value, [0, 0])
            count[0] += 1
            count[1] += size
            held.append(folder)
    use.root = _common_root(held)
    return use


@dataclass
class Cleaned:
    removed: list[tuple[str, str, int]] = field(default_factory=list)  # (trial, folder, bytes)
    kept: dict[str, int] = field(default_factory=dict)  # status -> trials whose checkpoint stays

    @property
    def freed(self) -> int:
        return sum(b for _, _, b in self.removed)


def clean(record, which: str, dry_run: bool = False, running_owner: str = "") -> Cleaned:
    """Remove the checkpoints of the trials ``which`` names (``failed``, ``finished``, ``all``);
    a running trial's is never touched, and ``all`` is refused while a launcher runs the sweep."""
    if which not in WHICH:
        raise CleanError(f"--checkpoints: {which!r} is not one of {', '.join(WHICH)}; e.g. "
                         f"orch clean {record.name} --checkpoints failed")
    if running_owner and which != "failed":
        raise CleanError(f"sweep {record.name} is running now ({running_owner}): removing its checkpoints would "
                         "make the trials it resumes start over. Wait until it ends (orch status "
                         f"{record.name}), or clean only --checkpoints failed")
    statuses = {s.value for s in WHICH[which]}
    done = Cleaned()
    for t, folder in _trial_folders(record):
        size = checkpoint_bytes(folder)
        if not size:
            continue
        if t.status.value not in statuses:
            done.kept[t.status.value] = done.kept.get(t.status.value, 0) + 1
            continue
        if not dry_run:
            _remove(folder)
        done.removed.append((t.name, str(folder), size))
    return done


def _remove(folder: Path) -> None:
    for name in FILES:
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
    for empty in (folder, folder.parent):  # checkpoints/<sweep>/<trial>, then checkpoints/<sweep>
        try:
            empty.rmdir()
        except OSError:
            break


def space_note(folders: Iterable[Path], each: int, seen_in: str) -> str:
    """One line when the file system of the trials' checkpoint folders has less free space than
    ``each`` bytes per folder still without a checkpoint would take; empty when it has enough."""
    waiting = [f for f in folders if not checkpoint_bytes(f)]
    if not waiting or each <= 0:
        return ""
    need = each * len(waiting)
    probe = _nearest_folder(waiting[0])
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return ""
    if free >= need:
        return ""
    return (f"disk: {probe} has {human(free)} free, and the {len(waiting)} trial(s) still to write a checkpoint "
            f"would take about {human(need)} ({human(each)} each, as {seen_in}'s): free some space "
            "(orch clean removes finished sweeps' checkpoints), or set train.out_dir on a bigger disk")


class SpaceWatch:
    """The free-space check of a sweep's launch: at once from a checkpoint an earlier start left,
    else from the first checkpoint a trial of this start writes. Says it once, or never."""

    def __init__(self, folders: dict[str, Path], names: dict[str, str], every: dict[str, Path] | None = None):
        self.folders = folders  # trial key -> its checkpoint folder, for the trials to run
        self.every = every if every is not None else folders  # the same for all the sweep's trials
        self.names = names  # trial key -> trial name
        self.said = not folders

    @classmethod
    def of(cls, trials, todo_keys) -> "SpaceWatch":
        folders = {t.key: folder_of(str(t.config.get("train.out_dir") or ""), os.getcwd()) for t in trials}
        names = {t.key: t.name for t in trials}
        every = {k: f for k, f in folders.items() if f is not None}
        return cls({k: f for k, f in every.items() if k in todo_keys}, names, every)

    def before_launch(self) -> str:
        """From any of the sweep's folders that already holds a checkpoint."""
        if self.said:
            return ""
        for key, folder in self.every.items():
            if checkpoint_bytes(folder):
                return self._once(checkpoint_bytes(folder), self.names.get(key, key))
        return ""

    def saw(self, key: str) -> str:
        """After a result of trial ``key``: its checkpoint, if it wrote one, sizes the rest."""
        if self.said or key not in self.folders:
            return ""
        size = checkpoint_bytes(self.folders[key])
        return self._once(size, self.names.get(key, key)) if size else ""

    def _once(self, size: int, seen_in: str) -> str:
        self.said = True
        return space_note(self.folders.values(), size, seen_in)
