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
    shape = [(op.kind, op.key, [p["step"] for p in metric_points(op)] if op.kind == "metrics" else
              [p["step"] for p in op.data.get("points", [])]) for op in writes]
    # a's reports and its end are one write; b's reports another; a's report after its end stays after it
    assert shape == [("start", "a", []), ("end", "a", [1, 2, 3]), ("metrics", "b", [1, 2, 3]),
                     ("metrics", "a", [4])]
    assert writes[1].data["status"] == "finished"
    assert ended == ["a"] and not queue.errors


def test_an_end_is_folded_only_into_the_reports_just_before_it(tmp_path):
    queue, writes, release = _blocked_queue(tmp_path)
    queue.put(Op("start", "a"))
    for op in (Op("end", "b", {"status": "finished"}), _metrics("a", 1), Op("start", "c"),
               Op("end", "a", {"status": "diverged"}), Op("end", "c", {"status": "finished"})):
        queue.put(op)
    release.set()
    queue.close(timeout=5)
    shape = [(op.kind, op.key, [p["step"] for p in op.data.get("points", [])] if op.kind == "end" else None)
             for op in writes]
    # an end with no reports queued before it is written as it is
    assert shape == [("start", "a", None), ("end", "b", []), ("end", "a", [1]), ("start", "c", None),
                     ("end", "c", [])]
    assert queue._pending_ends == 0


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


def test_a_result_folded_with_its_reports_is_spooled_as_one_end_and_counted_as_waiting(tmp_path):
    seen = []

    def apply(op: Op) -> None:
        if op.kind == "start":
            release.wait(10)
            return
        raise ConnectionError("Connection refused")

    release = threading.Event()
    queue = WriteQueue(apply, tmp_path / "spool.jsonl", on_outage=lambda o: seen.append(o and o.pending_results))
    queue.put(Op("start", "a"))
    queue.put(_metrics("a", 1))
    queue.put(_metrics("a", 2))
    queue.put(Op("end", "a", {"status": "finished", "artifacts": {}, "tags": {}, "params": {}}))
    release.set()
    queue.close(timeout=1)
    [spooled] = read_spool(tmp_path / "spool.jsonl")
    assert spooled.kind == "end" and spooled.data["status"] == "finished"
    assert [p["step"] for p in spooled.data["points"]] == [1, 2]
    assert seen and seen[0] == 1  # the live view says one result waits
