"""Small real file systems for the disk tests (a tmpfs that fills: root only, skipped otherwise),
and orch run as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(folder: Path, size: str = "40M"):
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): the disk tests need root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> None:
    """The rest of ``folder``'s file system, at once, in ``folder/filler``."""
    with open(folder / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 2**20)
        except OSError:
            pass


def resize(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def orch(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE")}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env={**full, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_orch(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds) of one orch command."""
    start = time.monotonic()
    proc = orch(args, cwd, **env)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err, time.monotonic() - start
