"""Stores orch cannot use, for real: a truncated mlflow.db, a file that is not SQLite, a store on a
read-only file system, and a disk that fills mid-sweep (a 40 MB tmpfs). Each is one paragraph and
exit 3, no traceback, the file left as it was; after the disk has room again the resume is exact."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.disks import fill
from tests.disks import orch as _orch
from tests.disks import run_orch as _run
from tests.disks import tmpfs as _tmpfs
from tests.orchestrator.run.conftest import children, parents

pytestmark = pytest.mark.slow

TOY = """
name: {name}
trainer: toy
params: {{epochs: 4, sleep: {sleep}}}
grid: {{t: [{ts}]}}
resources: {{max_concurrent: 1}}
"""


def _sweep(path: Path, name: str, n: int, sleep: float = 0.0) -> None:
    path.write_text(TOY.format(name=name, sleep=sleep, ts=", ".join(map(str, range(1, n + 1)))))


def _trials(folder: Path) -> list[tuple[str, str]]:
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    [parent] = parents(client)
    return sorted((r.info.run_name, r.data.tags["orch.status"]) for r in children(client, parent.info.run_id))


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    _sweep(folder / "toy.yaml", "dmg", 2)
    code, out, err, _ = _run(["sweep", "toy.yaml", "--quiet"], folder)
    assert code == 0, err
    return folder / "mlflow.db"


@pytest.mark.parametrize("damage, said", [("truncate", "database disk image is malformed"),
                                          ("text", "file is not a database")])
def test_a_damaged_store_is_one_paragraph_for_runs_table_and_sweep(good_store, tmp_path, damage, said):
    db = tmp_path / "mlflow.db"
    db.write_bytes(good_store.read_bytes()[:20000] if damage == "truncate" else b"my notes, not a store\n")
    before = db.read_bytes()
    _sweep(tmp_path / "toy.yaml", "dmg", 2)
    for args in (["runs"], ["runs", "dmg"], ["table", "dmg"], ["sweep", "toy.yaml"]):
        code, out, err, seconds = _run(args, tmp_path)
        assert code == 3, (args, err)
        assert err.startswith(f"error: the tracking store {db} is damaged or not an SQLite file (SQLite says: {said})")
        assert "Traceback" not in err and err.count("\n") == 1 and seconds < 60, (args, err)
    assert db.read_bytes() == before  # left as it was


def test_a_store_on_a_read_only_disk_reads_and_refuses_a_sweep_in_a_paragraph(good_store, tmp_path):
    with _tmpfs(tmp_path / "ro") as ro:
        shutil.copy(good_store, ro / "mlflow.db")
        _sweep(ro / "toy.yaml", "dmg", 2)
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        code, out, err, _ = _run(["runs", "dmg"], ro)
        assert code == 0 and "finished" in out, err  # what is there reads as ever
        code, out, err, _ = _run(["sweep", "toy.yaml", "--new"], ro)
        assert code == 3 and "Traceback" not in err, err
        assert f"error: the tracking store {ro / 'mlflow.db'} cannot be written" in err and "read-only" in err


def test_a_disk_that_fills_mid_sweep_is_one_paragraph_and_the_resume_is_exact(tmp_path):
    with _tmpfs(tmp_path / "disk") as disk:
        _sweep(disk / "toy.yaml", "fill", 8, 0.4)
        proc = _orch(["sweep", "toy.yaml", "--quiet"], disk, ORCH_FLUSH_TIMEOUT_S="5")
        deadline = time.time() + 180
        while time.time() < deadline and len([r for r in _finished(disk)]) < 2:
            time.sleep(0.5)
        fill(disk)
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 3, out + err
        assert "Traceback" not in err and "sqlalchemy" not in err.lower(), err
        [said] = [line for line in err.splitlines() if line.startswith("error:")]
        assert said.startswith(f"error: the disk under the tracking store {disk / 'mlflow.db'} is full (")
        assert "writes are kept in" in said and "nothing is lost" in said
        (disk / "filler").unlink()
        code, out, err, _ = _run(["sweep", "toy.yaml", "--quiet"], disk)
        assert code == 0, err
        assert _trials(disk) == sorted((f"t{i}", "finished") for i in range(1, 9))  # each once, none running


def _finished(folder: Path) -> list[str]:
    if not (folder / "mlflow.db").exists():
        return []
    try:
        return [name for name, status in _trials(folder) if status == "finished"]
    except Exception:  # noqa: BLE001 - the store is being created
        return []


def test_a_report_or_table_on_a_full_disk_names_that_file_not_the_store(good_store, tmp_path):
    with _tmpfs(tmp_path / "small", "16k") as small:
        fill(small)
        for args in (["report", "dmg", "--out", str(small / "r.html")], ["table", "dmg", "--out", str(small / "t.md")]):
            code, out, err, _ = _run([*args, "--tracking-uri", f"sqlite:///{good_store}"], tmp_path)
            assert code == 3 and "Traceback" not in err, err
            [said] = [line for line in err.splitlines() if line.startswith("error:")]
            assert said.startswith(f"error: the disk is full: writing {small}/") and "mlflow.db" not in said, said
            assert "write elsewhere with --out" in said
        assert sorted(p.name for p in small.iterdir()) == ["filler"]  # nothing half-written
