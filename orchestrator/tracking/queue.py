"""The tracking writer's queue: writes in order on one thread, retried while the store is
unreachable, never dropped.

Each write is an :class:`Op` (plain data, so it can be written down). A write that fails because
the store cannot be reached is retried with backoff, in order, while the sweep goes on; the
queue reports the outage (since when, how many trial results wait) so the live view can say so.
An op's ``on_done`` runs only once the write is durable: that is when the console may call a
trial finished. What cannot be written by the time the sweep closes is appended to a spool file
that the next run of the sweep replays first.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["Op", "WriteQueue", "Outage", "is_transient", "metric_points", "read_spool", "fallback_spool"]

_TRANSIENT = ("connection refused", "max retries exceeded", "failed to establish", "timed out",
              "timeout", "remotedisconnected", "connection reset", "connection aborted",
              "temporarily unavailable", "service unavailable", "bad gateway", "database is locked",
              "502", "503", "504", "name or service not known", "connectionerror",
              # a full disk under the store: retried too, so freeing space lets the sweep write on
              "database or disk is full", "no space left on device", "disk i/o error")
_FULL = ("database or disk is full", "no space left on device", "disk i/o error")


def is_transient(exc: BaseException) -> bool:
    """A failure that says the store cannot be reached now, not that the write is wrong."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(marker in text for marker in _TRANSIENT)


@dataclass
class Op:
    kind: str  # start | metrics | end | beat | warm | parent | discard
    key: str = ""  # the trial key ("" for the parent)
    data: dict[str, Any] = field(default_factory=dict)
    on_done: Callable[[], None] | None = None  # runs once the write is durable
    droppable: bool = False  # a heartbeat: never retried, never spooled

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "key": self.key, "data": self.data})


@dataclass
class Outage:
    since: float | None = None  # monotonic time of the first failed attempt
    pending_results: int = 0  # trial results (end ops) waiting
    error: str = ""
    disk_full: bool = False  # the store's disk is full (SQLite: database or disk is full)

    def describe(self) -> str:
        seconds = int(time.monotonic() - self.since) if self.since else 0
        what = "the tracking store's disk is full" if self.disk_full else "tracking unreachable"
        why = "free some space" if self.disk_full else self.error[:120]
        return (f"{what} for {seconds} s, {self.pending_results} result"
                f"{'' if self.pending_results == 1 else 's'} buffered ({why})")


def metric_points(op: Op) -> list[dict[str, Any]]:
    """A metrics op's reports: one (``metrics``, ``step``, ``stamp``), or several once folded."""
    return list(op.data["points"]) if "points" in op.data else [op.data]


def fallback_spool(path: Path) -> Path:
    """Where a spool goes when the disk of ``path`` is full: the same name in the temp folder."""
    import tempfile

    return Path(tempfile.gettempdir()) / "orch-spool" / path.name


def read_spool(path: Path) -> list[Op]:
    if not path.exists():
        return []
    ops = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            ops.append(Op(item["kind"], item.get("key", ""), item.get("data", {})))
    return ops


class WriteQueue:
    def __init__(self, apply: Callable[[Op], None], spool: Path,
                 on_outage: Callable[[Outage | None], None] = lambda outage: None):
        self._apply, self.spool, self._on_outage = apply, spool, on_outage
        self._queue: queue.Queue[Op | None] = queue.Queue()
        self._pending_ends = 0
        self._lock = threading.Lock()
        self._abandon = threading.Event()  # closing gave up waiting: spool what is left
        self.errors: list[str] = []
        self.spooled = 0
        self.lost: list[Op] = []  # what neither the store nor any spool could take
        self.outage: Outage | None = None
        self._thread = threading.Thread(target=self._drain, name="orch-mlflow-writer", daemon=True)
        self._thread.start()

    def put(self, op: Op) -> None:
        if op.kind == "end":
            with self._lock:
                self._pending_ends += 1
        self._queue.put(op)

    def _done(self, op: Op) -> None:
        if op.kind == "end":
            with self._lock:
                self._pending_ends -= 1

    def _write_down(self, op: Op) -> None:
        """Append ``op`` to the spool; where its disk is full too, to the same name in the temp
        folder (the next run reads both); where nothing can be written, keep it as lost."""
        for path in (self.spool, fallback_spool(self.spool)):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(op.to_json() + "\n")
            except OSError:
                continue
            self.spool = path
            self.spooled += 1
            return
        self.lost.append(op)

    def _attempt(self, op: Op) -> None:
        delay = 0.5
        while True:
            try:
                self._apply(op)
            except Exception as exc:  # noqa: BLE001 - sorted below: retry, spool or record
                if op.droppable:
                    return
                if not is_transient(exc):
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    return
                if self._abandon.is_set():
                    self._write_down(op)
                    return
                if self.outage is None:
                    self.outage = Outage(time.monotonic())
                text = f"{type(exc).__name__}: {exc}"
                self.outage.error = text.splitlines()[0]
                self.outage.disk_full = any(marker in text.lower() for marker in _FULL)
                self.outage.pending_results = self._pending_ends
                self._on_outage(self.outage)
                self._abandon.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self.outage is not None:
                self.outage = None
                self._on_outage(None)
            if op.on_done is not None:
                op.on_done()
            return

    def _coalesce(self, op: Op) -> int:
        """Fold the queued metrics of ``op``'s trial that follow it into ``op``, and the trial's
        end too when it is next: one store write for a backlog of reports (with the result that
        closes them). The order of each trial's writes stays as it was; other trials' writes do
        not depend on it. Returns how many queued ops it took."""
        if op.kind != "metrics" or op.on_done is not None:
            return 0
        taken, end = [], None
        with self._queue.mutex:
            for other in list(self._queue.queue):
                if other is None or other.key != op.key:
                    continue
                if other.kind == "end":
                    end = other
                if other.kind != "metrics" or other.on_done is not None:
                    break
                taken.append(other)
            if taken or end:
                gone = {id(o) for o in (*taken, end) if o is not None}
                kept = [o for o in self._queue.queue if id(o) not in gone]
                self._queue.queue.clear()
                self._queue.queue.extend(kept)
        points = [p for o in (op, *taken) for p in metric_points(o)]
        if end is not None:  # the result and its last reports: one write, durable together
            op.kind, op.data, op.on_done = "end", {**end.data, "points": points}, end.on_done
        elif taken:
            op.data = {"points": points}
        return len(taken) + (end is not None)

    def _drain(self) -> None:
        while True:
            op = self._queue.get()
            folded = 0
            try:
                if op is None:
                    return
                folded = self._coalesce(op)
                if self._abandon.is_set() and not op.droppable and self.outage is not None:
                    self._write_down(op)  # the store is gone: keep the order, keep everything
                else:
                    self._attempt(op)
            finally:
                if op is not None:
                    self._done(op)
                for _ in range(folded + 1):
                    self._queue.task_done()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write is durable; False when ``timeout`` ran out first."""
        if timeout is None:
            self._queue.join()
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float) -> None:
        """Flush for up to ``timeout`` seconds, then spool whatever is left, and stop."""
        if not self.flush(timeout):
            self._abandon.set()
        self._queue.put(None)
        self._thread.join()
