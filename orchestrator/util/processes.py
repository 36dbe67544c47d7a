"""Processes orch must be able to stop for sure: the process groups trials start, and every
process of the embedded Ray instance. Stdlib only (the command trainer registers its groups here).

- A trainer that starts a process group registers it with :func:`register_group` (a file
  ``$ORCH_PROCESS_DIR/<pgid>`` holding its grace period); the driver stops every registered
  group at the end of a sweep, Ctrl-C included: SIGTERM, the grace, then SIGKILL.
- Before it starts the embedded Ray instance the driver sets ``ORCH_INSTANCE=<pid>-<token>``;
  every Ray process and every trial process inherits it, so after the sweep (or, when orch was
  killed with ``kill -9``, at the next start) whatever still carries the tag is found in
  ``/proc/*/environ`` and stopped, even after it was reparented to PID 1.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

__all__ = ["ENV_DIR", "ENV_INSTANCE", "register_group", "unregister_group", "stop_groups",
           "tag_instance", "instance_processes", "stop_processes", "reap_orphans", "pid_alive",
           "group_alive", "signal_group"]

ENV_DIR = "ORCH_PROCESS_DIR"
ENV_INSTANCE = "ORCH_INSTANCE"


def register_group(pgid: int, grace: float) -> None:
    folder = os.environ.get(ENV_DIR)
    if folder and os.path.isdir(folder):
        Path(folder, str(pgid)).write_text(f"{grace:g}\n")


def unregister_group(pgid: int) -> None:
    folder = os.environ.get(ENV_DIR)
    if folder:
        Path(folder, str(pgid)).unlink(missing_ok=True)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_groups(folder: str | os.PathLike, force: bool = False) -> int:
    """Stop every process group registered in ``folder``: SIGTERM, up to its grace (none when
    ``force``), SIGKILL. Returns how many were still running."""
    groups: dict[int, float] = {}
    for entry in Path(folder).glob("[0-9]*"):
        try:
            groups[int(entry.name)] = float(entry.read_text().strip() or 0)
        except (OSError, ValueError):
            continue
    alive = [g for g in groups if group_alive(g)]
    for pgid in alive:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + (0.0 if force else max((groups[g] for g in alive), default=0.0))
    while time.monotonic() < deadline and any(group_alive(g) for g in alive):
        time.sleep(0.05)
    for pgid in alive:
        signal_group(pgid, signal.SIGKILL)
    for pgid in groups:
        Path(folder, str(pgid)).unlink(missing_ok=True)
    return len(alive)


def tag_instance() -> str:
    """Tag this process's environment (inherited by Ray and the trials) and return the tag."""
    value = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    os.environ[ENV_INSTANCE] = value
    return value


def _environ_tag(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    key = ENV_INSTANCE.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(key):
            return item[len(key):].decode(errors="replace")
    return None


def instance_processes(tag: str | None = None) -> dict[int, str]:
    """pid -> instance tag of every other process carrying one (only ``tag`` when given)."""
    found: dict[int, str] = {}
    if not os.path.isdir("/proc"):
        return found
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            value = _environ_tag(int(name))
            if value and (tag is None or value == tag):
                found[int(name)] = value
    return found


def pid_alive(pid: int) -> bool:
    """False only for a pid that provably is not running (absent, or a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent's wait is missing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_processes(pids: list[int], grace: float = 3.0) -> int:
    """SIGTERM, up to ``grace`` seconds, SIGKILL; returns how many were running."""
    alive = [p for p in pids if pid_alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline and any(pid_alive(p) for p in alive):
            time.sleep(0.05)
    return len(alive)


def reap_orphans() -> int:
    """Stop what earlier orch processes left running when they were killed (their tag's pid is
    dead): Ray's processes and trial scripts. Returns how many were found."""
    orphans = [pid for pid, tag in instance_processes().items()
               if tag.partition("-")[0].isdigit() and not pid_alive(int(tag.partition("-")[0]))]
    return stop_processes(orphans, grace=2.0) if orphans else 0
