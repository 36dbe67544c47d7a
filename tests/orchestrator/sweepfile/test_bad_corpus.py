"""The corpus of bad sweep files (tests/orchestrator/sweepfile/bad/, one mistake per file): both
`orch validate F` and `orch sweep F --dry-run`, each in a process of its own under a time and a
memory cap, exit 2 with the file and line, what the header says the message must name, a hint,
no traceback, a short output, and nothing written.

A file's first line is ``# bad: <what is wrong> | must name: <text>``; the offending line ends
with ``# <-`` (the expected line is that one), or the header ends ``| at: FILE:LINE`` when the
mistake sits in another file (a base config) that the message must name instead.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "bad"
CASES = sorted(CORPUS.glob("*.yaml"))
MEMORY = 1 << 30  # 1 GiB of address space per command
SECONDS = 5.0
MAX_OUTPUT = 4096


def _expected(path: Path) -> tuple[str, str]:
    """(text the message must contain, the place it must name: 'FILE:LINE:')."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    header = raw.splitlines()[0]
    match = re.match(r"# bad: .+ \| must name: ([^|]+)(?:\| at: (\S+))?$", header)
    assert match, f"{path.name}: first line must be '# bad: ... | must name: ...'"
    if match[2]:
        return match[1].strip(), f"{match[2]}:"
    line = next(i for i, text in enumerate(raw.splitlines(), 1) if text.rstrip().endswith("# <-"))
    return match[1].strip(), f"{path}:{line}:"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _run(args: list[str], cwd: Path) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["COLUMNS"] = "200"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, preexec_fn=_cap_memory)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def test_the_corpus_has_at_least_80_mistakes():
    assert len(CASES) >= 80


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_a_bad_sweep_file_gets_one_clear_paragraph(path, tmp_path):
    must, where = _expected(path)
    for args in (["validate", str(path)], ["sweep", str(path), "--dry-run"]):
        code, out, seconds = _run(args, tmp_path)
        assert code == 2, f"{args[0]}: exit {code}\n{out}"
        assert "Traceback" not in out, out
        assert where in out, f"{args[0]}: {where} not named\n{out}"
        assert must in out, f"{args[0]}: {must!r} not named\n{out}"
        errors = [e for e in out.splitlines() if e.startswith("error:")]
        assert errors and all(re.search(r"; \S", e) for e in errors), f"an error without a hint:\n{out}"
        assert "nothing was launched" in out
        assert len(out.encode()) < MAX_OUTPUT, f"{len(out)} characters of output"
        assert seconds < SECONDS, f"{args[0]} took {seconds:.1f} s"
        assert list(tmp_path.iterdir()) == [], "something was written"
