"""Run a script as a process group, stream its output line by line, stop it for sure."""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Iterator

from orchestrator.util.processes import group_alive, register_group, signal_group, unregister_group

__all__ = ["Script", "gpu_list"]

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec (Linux)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def gpu_list() -> str:
    """``0,1,...,k-1`` for the k GPUs this process may use (Ray sets CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [v for v in visible.split(",") if v.strip()]
    return ",".join(str(i) for i in range(len(ids)))


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it): a trial's torchrun rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Script:
    """A running script: ``lines()`` yields ``(stream, line)`` as they arrive; ``stop()`` sends
    SIGTERM to the whole process group, then SIGKILL after ``grace`` seconds."""

    def __init__(self, argv: list[str], cwd: str | None, env: dict[str, str], grace: float, tail: int):
        self.grace = grace
        self.stderr_tail: deque[str] = deque(maxlen=tail)
        self.proc = subprocess.Popen(
            argv, cwd=cwd or None, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_die_with_parent,
            text=True, encoding="utf-8", errors="replace", bufsize=1)
        self.pgid = self.proc.pid  # start_new_session: the child leads its own group
        register_group(self.pgid, grace)  # so orch stops it even if this worker is killed first
        self._queue: queue.Queue = queue.Queue()
        self._open = 2
        for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()

    def _pump(self, name: str, stream) -> None:
        for line in stream:
            self._queue.put((name, line.rstrip("\n")))
        self._queue.put((name, None))

    def lines(self, poll: float = 0.2) -> Iterator[tuple[str, str | None]]:
        """Output lines; ``(\"\", None)`` every ``poll`` seconds of silence, so callers can check
        deadlines and side channels. Ends when both streams are closed."""
        while self._open:
            try:
                name, line = self._queue.get(timeout=poll)
            except queue.Empty:
                yield "", None
                continue
            if line is None:
                self._open -= 1
                continue
            if name == "stderr":
                self.stderr_tail.append(line)
            yield name, line

    def wait(self) -> int:
        return self.proc.wait()

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL it after the grace period; reaps the child."""
        if self.proc.poll() is None or self._group_alive():
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + self.grace
            while time.monotonic() < deadline and (self.proc.poll() is None or self._group_alive()):
                time.sleep(0.05)
            self._signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print(f"orch: process {self.proc.pid} survived SIGKILL", file=sys.stderr)
        deadline = time.monotonic() + 5  # SIGKILL is asynchronous: wait until the rest of the group is gone
        while time.monotonic() < deadline and self._group_alive():
            time.sleep(0.02)
        unregister_group(self.pgid)

    def _signal(self, sig: int) -> None:
        signal_group(self.pgid, sig)

    def _group_alive(self) -> bool:
        return group_alive(self.pgid)
