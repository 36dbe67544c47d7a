"""A tracking server with authentication, for real: `mlflow server --app-name basic-auth` on
127.0.0.1. Without credentials, with a wrong password, or as a user without permission to write,
`orch sweep`, `runs`, `table` and `status` answer in one paragraph within seconds, exit 3; with the
right ones the sweep runs, and the password is stored nowhere: not in the server's store, its
artifacts, nor anything orch wrote."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import pytest

from tests.disks import run_orch
from tests.servers import MlflowServer

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "orch-admin-Zq7x9!secret"
VIEWER_PASSWORD = "orch-viewer-Kp3w8!secret"
TOY = "name: authed\ntrainer: toy\nparams: {epochs: 2}\ngrid: {t: [1, 2]}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    config = folder / "basic_auth.ini"
    config.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{folder / 'auth.db'}\n"
                      "admin_username = admin\n"
                      "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    server = MlflowServer(folder, app_name="basic-auth", env={
        "MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "orch-test-csrf-key"})
    try:
        server.start()
    except RuntimeError as exc:
        if "No module named" in str(exc):
            pytest.skip(f"mlflow's auth extra is not installed: {exc}")
        raise
    _admin(server.uri, "users/create", {"username": "viewer", "password": VIEWER_PASSWORD})  # READ by default
    yield server
    server.stop()


def _admin(uri: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{uri}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Basic " +
                                              base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _as(user: str | None, password: str | None) -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password} if user else {}


@pytest.fixture(scope="module")
def swept(server, tmp_path_factory) -> Path:
    """The toy sweep, run as the admin: what the refusals below read."""
    work = tmp_path_factory.mktemp("work")
    (work / "toy.yaml").write_text(TOY)
    code, out, err, _ = run_orch(["sweep", "toy.yaml", "--quiet", "--tracking-uri", server.uri], work,
                                 **_as("admin", ADMIN_PASSWORD))
    assert code == 0, out + err
    code, out, err, _ = run_orch(["runs", "authed", "--tracking-uri", server.uri], work, **_as("admin", ADMIN_PASSWORD))
    assert code == 0 and out.count("finished") >= 2, out + err
    return work


COMMANDS = [["sweep", "toy.yaml", "--quiet"], ["runs"], ["table", "authed", "-o", "-"], ["status", "authed"]]
REFUSED = [((None, None), c) for c in COMMANDS] + [(("admin", "wrong-password"), c) for c in COMMANDS[:2]]


@pytest.mark.parametrize("who, command", REFUSED, ids=[f"{w[0] or 'anonymous'}-{c[0]}" for w, c in REFUSED])
def test_without_the_right_credentials_every_command_is_a_401_paragraph(server, swept, who, command):
    code, out, err, took = run_orch([*command, "--tracking-uri", server.uri], swept, **_as(*who))
    assert code == 3, (command, out, err)
    assert "Traceback" not in err and "MlflowException" not in err, err
    [said] = [line for line in err.splitlines() if line.startswith("error:")]
    assert said.startswith(f"error: the tracking server {server.uri} refused orch: HTTP 401 (not authenticated)")
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in said and "MLFLOW_TRACKING_TOKEN" in said
    assert took < 30, (command, took)  # seconds, not MLflow's minutes of retries


def test_a_user_who_may_only_read_reads_and_is_refused_a_sweep_with_403(server, swept):
    viewer = _as("viewer", VIEWER_PASSWORD)
    code, out, err, _ = run_orch(["runs", "authed", "--tracking-uri", server.uri], swept, **viewer)
    assert code == 0 and "finished" in out, err
    code, out, err, took = run_orch(["sweep", "toy.yaml", "--quiet", "--new", "--tracking-uri", server.uri], swept,
                                    **viewer)
    assert code == 3 and "Traceback" not in err, out + err
    [said] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "HTTP 403 (no permission)" in said and "needs permission on this experiment" in said
    assert took < 30


def test_the_passwords_are_stored_nowhere(server, swept):
    for folder in (server.workdir, swept):
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "basic_auth.ini":
                data = path.read_bytes()
                for secret in (ADMIN_PASSWORD, VIEWER_PASSWORD):
                    assert secret.encode() not in data, path
