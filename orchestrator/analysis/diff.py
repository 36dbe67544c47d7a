"""`orch diff`: what differs between two runs, so "it was 59.8, now 60.5: what changed?" has
an answer. Pure: works on :class:`orchestrator.analysis.records.RunSnapshot`s the tracking reader fills."""

from __future__ import annotations

import difflib
import math
import subprocess
from typing import Mapping

from orchestrator.protocol import Tag
from orchestrator.analysis.records import RunSnapshot

__all__ = ["diff_runs", "code_diff"]


def _mapping_diff(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    lines = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            lines.append(f"  {key}: {a.get(key, '(absent)')} -> {b.get(key, '(absent)')}")
    return lines


def _text_diff(a: str, b: str, name_a: str, name_b: str) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(
        a.splitlines(), b.splitlines(), name_a, name_b, n=0, lineterm="") ]


def code_diff(commit_a: str, commit_b: str, cwd: str | None = None) -> str | None:
    """``git diff A B`` in the repository here, when it has both commits."""
    try:
        out = subprocess.run(["git", "diff", "--stat", "--patch", commit_a, commit_b], cwd=cwd,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.4g}"


def diff_runs(a: RunSnapshot, b: RunSnapshot, cwd: str | None = None) -> str:
    out = [f"A: {a.name} ({a.run_id})", f"B: {b.name} ({b.run_id})", ""]
    params = _mapping_diff(a.params, b.params)
    out += ["params:"] + (params or ["  (same)"]) + [""]

    ca, cb = a.tags.get(Tag.GIT_COMMIT, ""), b.tags.get(Tag.GIT_COMMIT, "")
    out.append("code:")
    if not ca and not cb:
        out.append("  (no git commit recorded)")
    elif ca == cb:
        out.append(f"  same commit {ca[:12]}")
    else:
        out.append(f"  commit {ca[:12] or '(none)'} -> {cb[:12] or '(none)'}")
        changes = code_diff(ca, cb, cwd) if ca and cb else None
        if changes is None:
            out.append("  (the repository here does not have both commits: no code diff)")
        else:
            out += ["  " + line for line in changes.splitlines()]
    if a.patch or b.patch:
        out.append("  uncommitted changes when the runs ran:")
        out += ["  " + line for line in _text_diff(a.patch, b.patch, "A/git_diff.patch", "B/git_diff.patch")] \
            or ["  (identical)"]
    out.append("")

    env = [l for l in _text_diff(a.environment, b.environment, "A/environment.txt", "B/environment.txt")
           if not l.startswith(("+host:", "-host:"))]
    out += ["environment:"] + (["  " + line for line in env] or ["  (same)"]) + [""]

    data_a = {k: v for k, v in {**a.params, **a.tags}.items() if "fingerprint" in k}
    data_b = {k: v for k, v in {**b.params, **b.tags}.items() if "fingerprint" in k}
    if data_a or data_b:
        out += ["data:"] + (_mapping_diff(data_a, data_b) or ["  (same)"]) + [""]

    out.append("metrics (latest):")
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va, vb = a.metrics.get(key), b.metrics.get(key)
        delta = ""
        if va is not None and vb is not None and math.isfinite(va) and math.isfinite(vb):
            delta = f"  ({vb - va:+.4g})"
        out.append(f"  {key}: {_fmt(va)} -> {_fmt(vb)}{delta}")
    return "\n".join(out) + "\n"
