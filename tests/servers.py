"""Real servers for tests, on 127.0.0.1 only: an MLflow tracking server and a Ray cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server`` with a SQLite backend on a fixed port, that a test can stop and start
    again (the same store comes back)."""

    def __init__(self, workdir: Path, backend: str | None = None, app_name: str | None = None,
                 env: dict[str, str] | None = None):
        self.workdir = workdir
        self.app_name, self.env = app_name, env  # e.g. basic-auth, with its settings
        self.backend = backend or f"sqlite:///{workdir / 'server.db'}"
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 120) -> str:
        self._log = open(self.workdir / "mlflow-server.log", "a")
        self.proc = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--backend-store-uri", self.backend,
             "--artifacts-destination", str(self.workdir / "server-artifacts"), "--workers", "1",
             *(["--app-name", self.app_name] if self.app_name else [])],
            cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **self.env} if self.env else None)
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self.uri
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("mlflow server did not start:\n" + (self.workdir / "mlflow-server.log").read_text())
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.proc = None
        if self._log is not None:
            self._log.close()


@contextmanager
def mlflow_server(workdir: Path):
    """``mlflow server`` with a SQLite backend, yielding its http://127.0.0.1:PORT URI."""
    server = MlflowServer(workdir)
    try:
        yield server.start()
    finally:
        server.stop()


def ray_env(home: Path) -> dict[str, str]:
    """Token auth and a HOME of the test's own so ~/.ray stays untouched. Loopback comes from
    --node-ip-address=127.0.0.1; RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (what keeps the embedded
    instance on loopback) would make a second node refuse to start. A node's SIGTERM drains it for
    30 s by default (for Serve upgrades); a test's nodes run nothing by then, so they stop at once."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    return {**env, "RAY_AUTH_MODE": "token", "HOME": str(home), "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


def _start_blocking(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # --block keeps `ray start` in the foreground and takes its node down when it is killed, so
    # the test ends exactly the processes it started (`ray stop` would end every Ray on the host)
    return subprocess.Popen(args + ["--block"], env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(ray: str, address: str, env: dict[str, str], text: str, procs: list) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a ray node exited while starting")
        out = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True,
                             text=True, timeout=60)
        if out.returncode == 0 and text in out.stdout:
            return
        time.sleep(1)
    raise RuntimeError(f"ray cluster at {address} never showed {text!r}")


@contextmanager
def ray_cluster(workdir: Path, second_node_resources: dict[str, float] | None = None):
    """A head node and (with ``second_node_resources``) a second node on this machine, both
    bound to 127.0.0.1, with token authentication."""
    port = free_port()
    env = ray_env(workdir)
    ray = str(BIN / "ray")
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    # token authentication everywhere: a token of the test's own in $HOME/.ray/auth_token
    subprocess.run([ray, "get-auth-token", "--generate"], env=env, check=True, capture_output=True,
                   timeout=60)
    head_env = env
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start_blocking(
            [ray, "start", "--head", f"--port={port}", "--include-dashboard=false",
             "--resources", json.dumps({"head_node": 1}), *common], head_env, workdir / "ray-head.log"))
        _wait_for(ray, address, env, "head_node", procs)
        if second_node_resources:
            procs.append(_start_blocking(
                [ray, "start", f"--address={address}", "--resources", json.dumps(second_node_resources),
                 *common], env, workdir / "ray-node2.log"))
            _wait_for(ray, address, env, next(iter(second_node_resources)), procs)
        yield address, env
    finally:
        # every node at once (one after the other, waiting for each, took half a minute)
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:  # the whole group: whatever the node started that outlived it
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(workdir / ".ray", ignore_errors=True)


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs, when the package is installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextmanager
def postgres():
    """A PostgreSQL cluster of the test's own on 127.0.0.1, its data in a temporary folder, run
    as the ``postgres`` user (PostgreSQL refuses root); yields a SQLAlchemy URI of an empty db."""
    import pwd
    import tempfile

    bindir = postgres_bin()
    user = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="orch-pg-", dir="/tmp"))
    os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True,
                       timeout=120, cwd=root)

    try:
        as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "orch", "--auth=trust")
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"), "-w", "start",
                    "-o", f"-h 127.0.0.1 -p {port} -k {root}")
        as_postgres(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "orch", "mlflow")
        yield f"postgresql://orch@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
