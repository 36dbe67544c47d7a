from __future__ import annotations

from orchestrator.tracking import environment_report, is_secret_name
from orchestrator.tracking import from_mlflow_name, resolve_uri, to_mlflow_name


def test_default_store_is_sqlite_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_uri() == "http://127.0.0.1:5000"
    assert resolve_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"  # --tracking-uri wins
    # a relative SQLite path means one in the working directory (MLflow itself would refuse it)
    assert resolve_uri("sqlite:///x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///sub/m.db")
    assert resolve_uri() == f"sqlite:///{tmp_path / 'sub' / 'm.db'}"


def test_metric_names_round_trip_through_mlflow():
    assert to_mlflow_name("val/Mean@0.1") == "val/Mean_at_0.1"
    assert from_mlflow_name("val/Mean_at_0.1") == "val/Mean@0.1"
    assert to_mlflow_name("val/iou/traffic light") == "val/iou/traffic light"


def test_secrets_never_reach_the_environment_artifact(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "hunter2-token")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2-password")
    report = environment_report()
    assert "CUDA_VISIBLE_DEVICES=0,1" in report and "python:" in report and "pyyaml==" in report.lower()
    assert "hunter2" not in report
    assert is_secret_name("AWS_SECRET_ACCESS_KEY") and not is_secret_name("CUDA_VISIBLE_DEVICES")


def test_a_resume_says_what_changed_in_the_code_and_environment():
    from orchestrator.protocol import Tag
    from orchestrator.tracking.provenance import code_changes, run_tags

    git = {"commit": "a" * 40, "dirty": "false"}
    before = run_tags(git)
    assert code_changes({}, git) == []  # a new sweep
    assert code_changes(before, git) == []  # nothing changed
    moved = code_changes(before, {"commit": "b" * 40, "dirty": "false"})
    assert moved[0] == f"the code changed since this sweep last ran (commit {'a' * 12} -> {'b' * 12})"
    assert "orch sweep --new" in moved[-1]
    patched = code_changes(run_tags({**git, "dirty": "true", "patch": "x"}), {**git, "dirty": "true", "patch": "y"})
    assert patched[0].startswith("the uncommitted changes differ")
    older = code_changes({**before, Tag.PYTHON: "3.9.0"}, git)
    assert any(line.startswith("python changed since this sweep last ran (3.9.0 ->") for line in older)
