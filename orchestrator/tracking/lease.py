"""One owner per sweep and store, so a second launch never writes a second child run.

- A local SQLite store: an exclusive ``flock`` on ``.<db>.<sweep>.owner`` beside the database,
  held for the whole run; the OS drops it the moment the owner dies (``kill -9`` included), so
  a stale owner is never seen. The file holds the owner's description for the refusal message.
- An MLflow server (any backend): a lease in tags of the sweep's parent run (``orch.owner``,
  ``orch.heartbeat`` renewed every ``HEARTBEAT_S``). A launcher writes its claim, waits
  ``SETTLE_S`` and reads it back: of two launchers racing, the later write wins and the other
  sees a foreign owner and refuses. A lease whose heartbeat is older than ``LEASE_TIMEOUT_S``
  (or whose owner is a dead pid on this host) is taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from pathlib import Path

from orchestrator.util.processes import pid_alive
from orchestrator.protocol import Tag

__all__ = ["SweepBusy", "Owner", "LocalLease", "TagLease", "HEARTBEAT_S", "LEASE_TIMEOUT_S", "slurm_job"]

HEARTBEAT_S = float(os.environ.get("ORCH_HEARTBEAT_S", "10"))
LEASE_TIMEOUT_S = float(os.environ.get("ORCH_LEASE_TIMEOUT_S", "60"))
SETTLE_S = float(os.environ.get("ORCH_LEASE_SETTLE_S", "2"))


class SweepBusy(Exception):
    pass


def slurm_job() -> str:
    """``JOBID.START`` inside a Slurm job (START counts its requeues from 0), else ``""``."""
    job = os.environ.get("SLURM_JOB_ID", "")
    return f"{job}.{os.environ.get('SLURM_RESTART_COUNT') or 0}" if job else ""


def _job_gone(job_id: str) -> bool:
    """True when Slurm says the job no longer runs (ended, or requeued and waiting); False when
    it runs or when Slurm cannot be asked."""
    import shutil
    import subprocess

    if not shutil.which("squeue"):
        return False
    try:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if out.returncode != 0:
        return "invalid job id" in out.stderr.lower()
    return out.stdout.strip() not in ("RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "CONFIGURING", "SIGNALING")


class Owner:
    """Who runs a sweep: this process, or the one a lease names (with its Slurm job, if any)."""

    def __init__(self, host: str, pid: int, token: str, command: str = "", since: float = 0.0, job: str = ""):
        self.host, self.pid, self.token, self.command, self.since = host, pid, token, command, since
        self.job = job

    @classmethod
    def me(cls) -> "Owner":
        import shlex
        import sys

        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex,
                   shlex.join(["orch", *sys.argv[1:]])[:300], time.time(), slurm_job())

    def to_json(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "token": self.token, "command": self.command,
                           "since": self.since, **({"job": self.job} if self.job else {})})

    @classmethod
    def parse(cls, text: str | None) -> "Owner | None":
        try:
            d = json.loads(text or "")
            return cls(str(d["host"]), int(d["pid"]), str(d["token"]), str(d.get("command", "")),
                       float(d.get("since", 0)), str(d.get("job", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def alive(self) -> bool:
        """False only when the owner is provably dead: a pid on this host that does not exist, an
        earlier start of this same Slurm job (a requeue ended it), or a Slurm job that no longer runs."""
        if self.job:
            job_id, _, start = self.job.partition(".")
            mine_id, _, mine_start = slurm_job().partition(".")
            if mine_id == job_id and mine_start != start:
                return False
            if mine_id != job_id and _job_gone(job_id):
                return False
        return self.host != socket.gethostname() or pid_alive(self.pid)

    def describe(self, seen: float | None = None) -> str:
        ago = f", last seen {_ago(seen)} ago" if seen else ""
        started = f", started {_ago(self.since)} ago" if self.since else ""
        job = f", Slurm job {self.job.partition('.')[0]}" if self.job else ""
        return f"{self.host} pid {self.pid}{job} (`{self.command}`{started}{ago})"


def _ago(stamp: float) -> str:
    seconds = max(0, int(time.time() - stamp))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _busy(sweep: str, store: str, owner: Owner | None, seen: float | None, local: bool = False) -> SweepBusy:
    who = owner.describe(seen) if owner else "another orch process"
    stale = ("the lock goes with its owner's process" if local else
             f"a dead owner's lease is taken over after {LEASE_TIMEOUT_S:g} s without a heartbeat")
    return SweepBusy(f"sweep {sweep!r} is already running against {store}: owned by {who}. Nothing was "
                     f"launched. Wait for it to end, or stop it (Ctrl-C in its terminal, or kill "
                     f"{owner.pid if owner else 'its pid'}); {stale}")


class LocalLease:
    """flock beside a local SQLite store."""

    def __init__(self, db: Path, sweep: str, owner: Owner):
        self.path = self.path_of(db, sweep)
        self.sweep, self.store, self.owner = sweep, str(db), owner
        self._handle = None

    @staticmethod
    def path_of(db: Path, sweep: str) -> Path:
        """The lock file beside the store that the sweep's launcher holds."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sweep)
        return db.with_name(f".{db.name}.{safe}.owner")

    def acquire(self) -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = Owner.parse(handle.read())
            handle.close()
            raise _busy(self.sweep, self.store, other, None, local=True) from None
        handle.seek(0)
        handle.truncate()
        handle.write(self.owner.to_json())
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock; the file stays for the next owner
            self._handle = None


class TagLease:
    """Lease tags on the parent run of a sweep in an MLflow server."""

    def __init__(self, client, parent_id: str, sweep: str, store: str, owner: Owner):
        self.client, self.parent_id, self.sweep, self.store, self.owner = client, parent_id, sweep, store, owner

    def _current(self) -> tuple[Owner | None, float | None]:
        tags = self.client.get_run(self.parent_id).data.tags
        try:
            seen = float(tags.get(Tag.HEARTBEAT, ""))
        except ValueError:
            seen = None
        return Owner.parse(tags.get(Tag.OWNER)), seen

    def _held_by_other(self) -> tuple[Owner | None, float | None] | None:
        other, seen = self._current()
        if other is None or other.token == self.owner.token:
            return None
        fresh = seen is not None and time.time() - seen < LEASE_TIMEOUT_S
        return (other, seen) if fresh and other.alive() else None

    def acquire(self) -> Owner | None:
        """Claim the lease; returns the stale owner taken over, if any."""
        held = self._held_by_other()
        if held:
            raise _busy(self.sweep, self.store, *held)
        stale, _ = self._current()
        self.beat(claim=True)
        time.sleep(SETTLE_S)  # a racing launcher's claim lands within this window, and wins
        other, seen = self._current()
        if other is None or other.token != self.owner.token:
            raise _busy(self.sweep, self.store, other, seen)
        return stale if stale and stale.token != self.owner.token else None

    def beat(self, claim: bool = False) -> None:
        from mlflow.entities import RunTag

        tags = [RunTag(Tag.HEARTBEAT, f"{time.time():.3f}")]
        if claim:
            tags.append(RunTag(Tag.OWNER, self.owner.to_json()))
        self.client.log_batch(self.parent_id, tags=tags)

    def release(self) -> None:
        other, _ = self._current()
        if other is not None and other.token == self.owner.token:
            self.client.set_tag(self.parent_id, Tag.OWNER, "")


def holder(sweep: str, uri: str, tags: dict[str, str]) -> Owner | None:
    """Who runs ``sweep`` now, or None: the holder of the local store's lock file, else the
    parent run's owner tag when its heartbeat is fresh and its owner is not provably dead."""
    from orchestrator.tracking.store import sqlite_path

    db = sqlite_path(uri)
    if db is not None:
        path = LocalLease.path_of(db, sweep)
        try:
            with open(path) as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return Owner.parse(handle.read()) or Owner("another launch", 0, "")
                fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:
            pass
        return None
    owner = Owner.parse(tags.get(Tag.OWNER))
    try:
        seen = float(tags.get(Tag.HEARTBEAT, ""))
    except ValueError:
        return None
    return owner if owner is not None and time.time() - seen < LEASE_TIMEOUT_S and owner.alive() else None
