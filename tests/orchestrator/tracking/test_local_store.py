"""A new local store is a copy of the first one this MLflow built: the same schema, in milliseconds."""

from __future__ import annotations

import sqlite3

from mlflow import MlflowClient

from orchestrator.tracking._local_store import _schema_cache, latest_revision, prepare_sqlite_store


def _schema(path) -> list:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str)


def test_the_second_new_store_is_the_first_ones_schema_and_takes_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_CACHE", str(tmp_path / "cache"))
    cache = _schema_cache()
    assert cache is not None and not cache.with_suffix(".db").exists()
    prepare_sqlite_store(tmp_path / "first.db")  # built by MLflow's migrations, kept as the template
    assert cache.with_suffix(".db").exists() and cache.with_suffix(".revision").read_text() == latest_revision()
    prepare_sqlite_store(tmp_path / "second.db")
    assert _schema(tmp_path / "second.db") == _schema(tmp_path / "first.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'second.db'}")
    run = client.create_run(client.create_experiment("x", artifact_location=str(tmp_path / "art")))
    client.log_metric(run.info.run_id, "val/Mean", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"val/Mean": 1.0}
    with sqlite3.connect(cache.with_suffix(".db")) as db:  # the template itself never holds a run
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_a_template_at_another_revision_is_not_copied(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_CACHE", str(tmp_path / "cache"))
    prepare_sqlite_store(tmp_path / "first.db")
    template = _schema_cache().with_suffix(".db")
    with sqlite3.connect(template) as db:
        db.execute("UPDATE alembic_version SET version_num = 'older'")
    prepare_sqlite_store(tmp_path / "second.db")  # migrated again, and the template renewed
    with sqlite3.connect(tmp_path / "second.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == latest_revision()
    with sqlite3.connect(template) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == latest_revision()
