"""Where a result came from: git state, command line, host, packages. No secrets, ever."""

from __future__ import annotations

import os
import platform
import shlex
import socket
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import distributions, version

from orchestrator.util.version import __version__
from orchestrator.protocol import Tag
from orchestrator.util.secrets import is_secret_name, mask_argv

__all__ = ["git_state", "run_tags", "environment_report", "is_secret_name", "code_changes"]

_ENV_PREFIXES = ("CUDA", "NCCL", "OMP_", "MKL_", "PYTORCH", "TORCH", "RAY_", "MLFLOW_", "PYTHONHASHSEED")


def _git(*args: str, cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=20, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: str | None = None) -> dict[str, str]:
    """commit, dirty flag and the uncommitted patch of the repository around ``cwd``."""
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return {}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd) or ""
    dirty = bool(status.strip())
    state = {"commit": commit.strip(), "dirty": "true" if dirty else "false"}
    root = _git("rev-parse", "--show-toplevel", cwd=cwd)
    if root:
        state["root"] = root.strip()
    if dirty:
        state["patch"] = _git("diff", "HEAD", cwd=cwd) or ""
    return state


def run_tags(git: dict[str, str]) -> dict[str, str]:
    """Tags of a sweep's parent run; ``git`` is :func:`git_state` taken once per sweep."""
    tags = {
        Tag.VERSION: __version__,
        Tag.HOST: socket.gethostname(),
        Tag.COMMAND: shlex.join([os.path.basename(sys.argv[0]), *mask_argv(sys.argv[1:])])[:5000],
        Tag.PYTHON: platform.python_version(),
        Tag.WORKDIR: os.getcwd(),
    }
    if git:
        tags.update({Tag.GIT_COMMIT: git["commit"], Tag.GIT_DIRTY: git["dirty"],
                     Tag.GIT_PATCH: _patch_digest(git)})
        tags[Tag.SOURCE_COMMIT] = git["commit"]
    return tags


def _patch_digest(git: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(git.get("patch", "").encode()).hexdigest()[:12] if git.get("patch") else ""


def code_changes(previous: dict[str, str], git: dict[str, str]) -> list[str]:
    """What changed in the code and environment since a sweep's parent run last ran (its tags
    ``previous``), one line each; empty for a new sweep or when nothing changed."""
    if not previous:
        return []
    now = run_tags(git)
    lines = []
    old_commit, new_commit = previous.get(Tag.GIT_COMMIT, ""), now.get(Tag.GIT_COMMIT, "")
    if old_commit != new_commit:
        lines.append(f"the code changed since this sweep last ran (commit {old_commit[:12] or 'none'} -> "
                     f"{new_commit[:12] or 'none'})")
    elif previous.get(Tag.GIT_PATCH, "") != now.get(Tag.GIT_PATCH, ""):
        lines.append("the uncommitted changes differ from those of the last run of this sweep")
    for tag, what in ((Tag.PYTHON, "python"), (Tag.VERSION, "orch")):
        if previous.get(tag) and previous.get(tag) != now.get(tag):
            lines.append(f"{what} changed since this sweep last ran ({previous[tag]} -> {now.get(tag)})")
    if lines:
        lines.append("finished trials are kept as they are; `orch sweep --new` starts the sweep over")
    return lines


def _version_or_none(name: str) -> str | None:
    try:
        return version(name)
    except Exception:  # noqa: BLE001 - not installed is the common case
        return None


def _gpu_names() -> list[str]:
    torch = sys.modules.get("torch")  # only if the trainer already imported it: never import here
    if torch is not None and torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


@lru_cache(maxsize=1)
def _packages() -> str:
    rows = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]},
                  key=str.lower)
    return "\n".join(rows)


def environment_report() -> str:
    """The environment artifact: python, torch, CUDA, GPUs, selected env vars, pip freeze."""
    torch = sys.modules.get("torch")
    lines = [
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"host: {socket.gethostname()}",
        f"orch: {__version__}",
        f"torch: {_version_or_none('torch') or 'not installed'}",
        f"cuda: {getattr(getattr(torch, 'version', None), 'cuda', None) or 'n/a'}",
        f"gpus: {', '.join(_gpu_names()) or 'none visible'}",
        "env:",
    ]
    for name in sorted(os.environ):
        if name.startswith(_ENV_PREFIXES) and not is_secret_name(name):
            lines.append(f"  {name}={os.environ[name]}")
    lines += ["packages:", _packages()]
    return "\n".join(lines) + "\n"
