"""Environment problems get one paragraph, the documented exit code and no traceback, fast:
an unreachable tracking server or Ray address, resources no node offers, relative SQLite URIs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow

TOY = """
name: envcheck
trainer: toy
params: {epochs: 1}
grid: {t: [7, 8]}
"""


def _orch(args: list[str], cwd, timeout: float = 120, **env: str) -> tuple[int, str, float]:
    full = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE")}
    full.update(env)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=cwd, env=full,
                         capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr, time.monotonic() - started


@pytest.mark.parametrize("command", [["sweep", "toy.yaml"], ["table"], ["runs"], ["runs", "envcheck"]])
def test_an_unreachable_tracking_server_is_one_paragraph_and_exit_3(tmp_path, write, command):
    write("toy.yaml", TOY)
    uri = f"http://127.0.0.1:{free_port()}"
    code, out, seconds = _orch([*command, "--tracking-uri", uri], tmp_path)
    assert code == 3 and seconds < 15, out
    assert f"the tracking server {uri} is unreachable" in out and "mlflow server" in out
    assert "Traceback" not in out and out.count("\n") == 1
    assert not (tmp_path / "mlflow.db").exists()


def test_an_unreachable_ray_address_is_one_paragraph_and_exit_3(tmp_path, write):
    write("toy.yaml", TOY)
    address = f"127.0.0.1:{free_port()}"
    code, out, seconds = _orch(["sweep", "toy.yaml", "--address", address, "--quiet"], tmp_path)
    assert code == 3 and seconds < 15, out
    assert f"no Ray cluster answers at {address}" in out and "ray start --head" in out
    assert "Traceback" not in out
    code, out, _ = _orch(["runs"], tmp_path)
    assert code == 0 and "envcheck" not in out  # nothing ran: the parent run made on the way was removed


@pytest.mark.parametrize("resources, asked", [("{gpu: 0.5}", "0.5 gpu"), ("{custom: {tpu_pod: 1}}", "1 tpu_pod")])
def test_resources_no_node_offers_are_refused_before_launching(tmp_path, write, resources, asked):
    write("toy.yaml", TOY + f"resources: {resources}\n")
    code, out, seconds = _orch(["sweep", "toy.yaml", "--quiet"], tmp_path)
    assert code == 2 and seconds < 90, out
    assert f"asks for {asked}, but the Ray cluster has in all:" in out and "CPU" in out
    assert "Nothing was launched" in out and "Traceback" not in out
    code, out, _ = _orch(["runs"], tmp_path)
    assert code == 0 and "envcheck" not in out  # the parent run made on the way was removed


def test_a_relative_sqlite_uri_means_the_working_directory(tmp_path, write):
    write("toy.yaml", TOY)
    code, out, _ = _orch(["sweep", "toy.yaml", "--quiet"], tmp_path, MLFLOW_TRACKING_URI="sqlite:///rel.db")
    assert code == 0 and "Traceback" not in out, out
    assert (tmp_path / "rel.db").exists() and not (tmp_path / "mlflow.db").exists()
    code, out, _ = _orch(["table", "envcheck", "--tracking-uri", "sqlite:///rel.db", "--out", "-"], tmp_path)
    assert code == 0 and out.startswith("| t |") and "| 7 |" in out, out
