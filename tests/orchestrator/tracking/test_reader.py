"""The two read paths of a local SQLite store: the direct read-only one, used only for MLflow
schema revisions orch knows, and the MLflow client, which must give the same table."""

from __future__ import annotations

import json
import time

import pytest

from orchestrator.protocol import TrialStatus
from orchestrator.analysis.publish import TableRequest, make_table
from orchestrator.sweepfile import load_sweep
from orchestrator.tracking import SweepNotFound, SweepTracker, _sqlite_reader, read_sweep

pytestmark = pytest.mark.slow  # MLflow creates a real store


@pytest.fixture
def tracked(write, store):
    """A sweep written through the real tracker (no Ray): 2 settings x 2 seeds, 3 steps each,
    one seed of one setting diverged, one that logged a step again."""
    uri, _ = store
    spec = load_sweep(write("read.yaml", """
        name: readback
        trainer: toy
        grid: {t: [7, 10]}
        seeds: 2
    """))
    tracker = SweepTracker(spec, uri)
    tracker.open_parent()
    for i, trial in enumerate(spec.trials):
        tracker.trial_started(trial)
        for step in (1, 2, 3):
            value = float("nan") if (i == 3 and step == 3) else 40.0 + 10 * i + step
            tracker.trial_metrics(trial, {"val/Mean": value, "val/Mean@0.1": value / 2, "train/loss": 1 / step},
                                  step)
        if i == 0:  # resumed from its step-1 checkpoint: step 2 logged again, later, into the same run
            time.sleep(0.01)
            tracker.trial_metrics(trial, {"val/Mean": 99.0}, 2)
        tracker.trial_ended(trial, TrialStatus.DIVERGED if i == 3 else TrialStatus.FINISHED, {"trial.log": "x"})
    assert tracker.close("FINISHED") == []
    return uri


def _table(uri: str, fmt: str = "json") -> str:
    return make_table(TableRequest("readback", ("Mean", "Mean@0.1", "train/loss"), fmt=fmt, out="-",
                                   tracking_uri=uri))[0]


def _as_if_unreadable(monkeypatch):
    """As if a later MLflow's revision (not checked yet) had dropped a column the queries read."""
    monkeypatch.setattr(_sqlite_reader, "KNOWN_REVISIONS", frozenset({"0123456789ab"}))
    monkeypatch.setattr(_sqlite_reader, "COLUMNS", {**_sqlite_reader.COLUMNS, "runs": ("run_uuid", "gone")})


def test_an_unchecked_revision_with_every_column_is_read_fast(tracked, monkeypatch, capsys):
    monkeypatch.setattr(_sqlite_reader, "KNOWN_REVISIONS", frozenset({"0123456789ab"}))
    assert len(read_sweep("readback", tracked).trials) == 4
    assert capsys.readouterr().err == ""  # no notice: the fast path read it


def test_fast_path_refuses_an_unknown_schema_and_the_client_gives_the_same_table(tracked, monkeypatch, capsys):
    import sqlite3

    path = tracked[len("sqlite:///"):]
    revision = _sqlite_reader.schema_revision(sqlite3.connect(path))
    assert revision  # MLflow's alembic_version table
    # as if this MLflow's revision were the one these queries were checked against
    monkeypatch.setattr(_sqlite_reader, "KNOWN_REVISIONS", frozenset({revision}))
    fast = read_sweep("readback", tracked)
    fast_table = {fmt: _table(tracked, fmt) for fmt in ("json", "md")}
    assert capsys.readouterr().err == ""

    _as_if_unreadable(monkeypatch)
    with pytest.raises(_sqlite_reader.UnknownSchema, match=f"schema revision {revision}.*lacks runs.gone"):
        _sqlite_reader.read_sqlite(tracked, "readback", None)
    client = read_sweep("readback", tracked)
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "reading it through the MLflow client" in notice
    assert {fmt: _table(tracked, fmt) for fmt in ("json", "md")} == fast_table
    assert [repr((t.name, t.status, dict(t.history))) for t in client.trials] == \
        [repr((t.name, t.status, dict(t.history))) for t in fast.trials]  # repr: nan == nan
    rows = {r["setting"]: r["metrics"] for r in json.loads(fast_table["json"])}
    assert rows["t10"]["val/Mean"]["nan"] == 1 and rows["t7"]["val/Mean"]["n"] == 2
    resumed = fast.trials[0]
    assert resumed.history["val/Mean"] == ((1, 41.0), (2, 99.0), (3, 43.0))  # the later value of step 2
    assert resumed.history["val/Mean@0.1"] == ((1, 20.5), (2, 21.0), (3, 21.5))


def test_reading_an_absent_store_creates_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(SweepNotFound, match="no MLflow store at"):
        read_sweep(None, uri)
    assert not (tmp_path / "mlflow.db").exists()


def test_listing_and_a_single_run_read_the_same_on_both_paths(tracked, monkeypatch, capsys):
    import sqlite3

    from orchestrator.tracking import list_sweeps, read_run

    revision = _sqlite_reader.schema_revision(sqlite3.connect(tracked[len("sqlite:///"):]))
    monkeypatch.setattr(_sqlite_reader, "KNOWN_REVISIONS", frozenset({revision}))
    fast_list = list_sweeps(tracked)
    fast_runs = [read_run("t10_s1", tracked), read_run(fast_list[0].run_id, tracked)]
    _as_if_unreadable(monkeypatch)
    slow_list = list_sweeps(tracked)
    slow_runs = [read_run("t10_s1", tracked), read_run(fast_list[0].run_id, tracked)]
    assert [(s.name, s.run_id, s.status, s.trainer, s.planned, dict(s.tags), dict(s.metrics)) for s in fast_list] \
        == [(s.name, s.run_id, s.status, s.trainer, s.planned, dict(s.tags), dict(s.metrics)) for s in slow_list]
    assert fast_list[0].name == "readback" and fast_list[0].planned == 4
    for fast, slow in zip(fast_runs, slow_runs):
        assert repr(fast) == repr(slow)  # repr: nan == nan
    assert fast_runs[0].name == "t10_s1" and fast_runs[0].params["t"] == "10.0"
    assert fast_runs[0].environment.startswith("python:")  # the trial's environment.txt, read from its folder
    with pytest.raises(SweepNotFound, match="no run with id or trial name 'nope'"):
        read_run("nope", tracked)


def test_runs_and_diff_on_a_local_store_never_import_mlflow(tracked, tmp_path):
    import subprocess
    import sys

    from orchestrator.tracking import _sqlite_reader as reader

    db = tracked[len("sqlite:///"):]
    import sqlite3

    with sqlite3.connect(db) as conn:
        if reader.schema_revision(conn) not in reader.KNOWN_REVISIONS and reader._missing_columns(conn):
            pytest.skip("this MLflow's store lacks columns the fast path reads")
    code = ("import sys; from typer.testing import CliRunner; from orchestrator.cli import app; "
            f"u = {tracked!r}; r = CliRunner()\n"
            "for args in (['runs'], ['runs', 'readback'], ['diff', 't7_s0', 't10_s1']):\n"
            "    res = r.invoke(app, [*args, '--tracking-uri', u]); assert res.exit_code == 0, res.output\n"
            "print(sorted(m for m in ('mlflow', 'ray', 'sqlalchemy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_resumed_sweep_finds_the_same_trials_on_both_paths(tracked, tmp_path, monkeypatch):
    """What a relaunch knows of the trials already in the store (which to skip, their runs, their
    params), read straight from SQLite and through the client: the same."""
    record = read_sweep("readback", tracked)

    def existing():
        tracker = SweepTracker(load_sweep(tmp_path / "read.yaml"), tracked)
        tracker.open_parent()
        try:
            return dict(tracker.existing), tracker.done_keys()
        finally:
            tracker.close("FINISHED")

    assert len(_sqlite_reader.children_sqlite(tracked, record.experiment_id, record.run_id)) == 4  # the fast path
    fast, done = existing()
    monkeypatch.setenv(_sqlite_reader.VIA_CLIENT, "1")
    assert existing() == (fast, done)
    assert len(fast) == 4 and {t.status for t in fast.values()} == {TrialStatus.FINISHED, TrialStatus.DIVERGED}
    assert {t.run_id for t in fast.values()} == {t.run_id for t in record.trials}
    assert all(t.params for t in fast.values())
