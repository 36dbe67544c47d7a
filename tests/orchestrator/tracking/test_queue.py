"""The writer's queue folds a trial's backlog of reports into one write, and nothing else."""

from __future__ import annotations

import threading

from orchestrator.tracking.queue import Op, WriteQueue, metric_points, read_spool


def _metrics(key: str, step: int) -> Op:
    return Op("metrics", key, {"metrics": {"val/Mean": float(step)}, "step": step, "stamp": step})


def _blocked_queue(tmp_path):
    """A queue whose first write waits until ``release`` is set, so the rest pile up behind it."""
    writes: list[Op] = []
    release = threading.Event()

    def apply(op: Op) -> None:
        if not writes:
            release.wait(10)
        writes.append(op)

    return WriteQueue(apply, tmp_path / "spool.jsonl"), writes, release


def test_a_backlog_of_one_trials_reports_is_one_write_in_order(tmp_path):
    queue, writes, release = _blocked_queue(tmp_path)
    ended = []
    queue.put(Op("start", "a"))  # the writer holds this one while the rest queue up
    for op in (_metrics("a", 1), _metrics("b", 1), _metrics("a", 2), _metrics("b", 2), _metrics("a", 3),
               Op("end", "a", {"status": "finished"}, lambda: ended.append("a")), _metrics("a", 4),
               _metrics("b", 3)):
        queue.put(op)
    release.set()
    assert queue.flush(timeout=10)  # every folded op is accounted for
    queue.close(timeout=5)
    shape = [(op.kind, op.key, [p["step"] for p in metric_points(op)] if op.kind == "metrics" else None)
             for op in writes]
    assert shape == [("start", "a", None), ("metrics", "a", [1, 2, 3]), ("metrics", "b", [1, 2, 3]),
                     ("end", "a", None), ("metrics", "a", [4])]  # never across a's end
    assert ended == ["a"] and not queue.errors


def test_a_folded_write_the_store_never_took_is_spooled_whole(tmp_path):
    calls = []

    def apply(op: Op) -> None:
        calls.append(op)
        if op.kind == "start":
            release.wait(10)
            return
        raise ConnectionError("Connection refused")

    release = threading.Event()
    queue = WriteQueue(apply, tmp_path / "spool.jsonl")
    queue.put(Op("start", "a"))
    for step in (1, 2, 3):
        queue.put(_metrics("a", step))
    release.set()
    queue.close(timeout=1)  # the store stays away: what is left goes to the spool
    [spooled] = read_spool(tmp_path / "spool.jsonl")
    assert spooled.kind == "metrics" and [p["step"] for p in metric_points(spooled)] == [1, 2, 3]
    assert [p["metrics"]["val/Mean"] for p in metric_points(spooled)] == [1.0, 2.0, 3.0]
