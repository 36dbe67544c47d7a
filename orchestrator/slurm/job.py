"""What runs inside the Slurm allocation (the sbatch script execs it): Ray over the job's nodes
as Ray's Slurm guide has it (the head on the first node, ``ray start`` on the others through
``srun``, ports of this job's own, loopback on a single node), then ``orch sweep --address``
against it, then Ray stopped.

Signals: Slurm's SIGTERM (a preemption, ``scancel``, ``scontrol requeue``) is passed on to orch,
which records the running trials ``killed`` and exits (a scheduler that also signals orch itself
is counted once, :mod:`orchestrator.run.interrupt`); SIGUSR1, which ``--signal=B:USR1@...`` sends
before the time limit, does the same and then requeues the job, whose next start resumes the
sweep. No ray or mlflow import: this process only starts and watches others.

    python -m orchestrator.slurm.job --cpus 8 --gpus 4 [--memory BYTES] [--requeue] [--new] -- ARGS
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 180.0


def _say(text: str) -> None:
    print(f"orch-slurm: {text}", flush=True)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _nodes() -> list[str]:
    listed = os.environ.get("SLURM_JOB_NODELIST")
    if listed and shutil.which("scontrol"):
        out = subprocess.run(["scontrol", "show", "hostnames", listed], capture_output=True, text=True, timeout=30)
        names = out.stdout.split()
        if out.returncode == 0 and names:
            return names
    return [socket.gethostname()]


class Job:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.nodes = _nodes()
        self.job_id = os.environ.get("SLURM_JOB_ID", "")
        self.start = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
        self.ip = "127.0.0.1" if len(self.nodes) == 1 else socket.gethostbyname(socket.gethostname())
        self.port, self.agent_port, self.dashboard_port = _free_ports(3)
        self.temp = Path(f"/tmp/orch-ray-{self.job_id or os.getpid()}-{self.start}")
        self.ray: list[subprocess.Popen] = []
        self.orch: subprocess.Popen | None = None
        self.signalled = ""  # the signal that asked the job to stop, if one did
        env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" or len(self.nodes) == 1}
        # token authentication with a token of this job's own, never written to disk
        env.setdefault("RAY_AUTH_MODE", "token")
        env.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
        self.env = env

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def _node_args(self) -> list[str]:
        a = self.args
        out = [f"--num-cpus={a.cpus}", f"--num-gpus={a.gpus}", "--disable-usage-stats", f"--temp-dir={self.temp}", "--block"]
        return out + ([f"--memory={a.memory}"] if a.memory else [])

    def start_ray(self) -> None:
        ray = str(BIN / "ray")
        head = [ray, "start", "--head", f"--port={self.port}", f"--node-ip-address={self.ip}",
                f"--dashboard-agent-listen-port={self.agent_port}", f"--dashboard-port={self.dashboard_port}",
                "--include-dashboard=false", *self._node_args()]
        self.temp.mkdir(parents=True, exist_ok=True)
        self.ray.append(subprocess.Popen(head, env=self.env, stdout=open(self.temp / "ray-head.out", "w"),
                                         stderr=subprocess.STDOUT))
        self._wait_for_nodes(1)
        for node in self.nodes[1:]:
            worker = [ray, "start", f"--address={self.address}", *self._node_args()]
            self.ray.append(subprocess.Popen(["srun", "--nodes=1", "--ntasks=1", f"--nodelist={node}", *worker],
                                             env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        if len(self.nodes) > 1:
            self._wait_for_nodes(len(self.nodes))
        _say(f"Ray is up on {len(self.nodes)} node(s) ({', '.join(self.nodes)}), head at {self.address}")

    def _wait_for_nodes(self, n: int) -> None:
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline and not self.signalled:
            if any(p.poll() is not None for p in self.ray):
                said = (self.temp / "ray-head.out").read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError("a Ray node exited while starting: " + " / ".join(said))
            out = subprocess.run([str(BIN / "ray"), "status", f"--address={self.address}"], env=self.env,
                                 capture_output=True, text=True, timeout=60)
            active = out.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
            if out.returncode == 0 and active.count("node_") >= n:
                return
            time.sleep(1)
        if not self.signalled:
            raise RuntimeError(f"Ray did not come up on {n} node(s) within {START_TIMEOUT_S:g} s")

    def run_orch(self) -> int:
        args = [*self.args.orch, "--address", self.address]
        if self.args.new and self.start == 0:
            args.append("--new")  # a requeued start resumes what the first one began
        # when Slurm ends the job, Ray's processes get its SIGTERM too: orch records the running
        # trials killed at once, and gives up on a head that is gone after 15 s, not Ray's 60
        env = {"RAY_gcs_rpc_server_reconnect_timeout_s": "15", **self.env}
        self.orch = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], env=env)
        while True:
            try:
                return self.orch.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries wait() itself
                continue

    def on_signal(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        first = not self.signalled
        self.signalled = self.signalled or name
        if first:
            why = "the time limit is near" if signum == signal.SIGUSR1 else "Slurm stops the job"
            _say(f"{name}: {why}; orch records the running trials as killed and stops")
        if self.orch is not None and self.orch.poll() is None and first:
            self.orch.send_signal(signal.SIGTERM)

    def stop_ray(self) -> None:
        for proc in self.ray:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 30
        for proc in self.ray:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.temp, ignore_errors=True)

    def requeue(self) -> None:
        _say(f"requeueing job {self.job_id}: its next start resumes the sweep")
        out = subprocess.run(["scontrol", "requeue", self.job_id], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            _say(f"scontrol requeue failed: {(out.stderr or out.stdout).strip()}; submit the script again to go on")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.slurm.job")
    parser.add_argument("--cpus", type=int, required=True, help="Ray CPUs per node")
    parser.add_argument("--gpus", type=int, default=0, help="Ray GPUs per node")
    parser.add_argument("--memory", type=int, default=0, help="Ray memory per node, bytes")
    parser.add_argument("--requeue", action="store_true", help="requeue the job when the time limit is near")
    parser.add_argument("--new", action="store_true", help="the first start begins a new parent run")
    parser.add_argument("orch", nargs=argparse.REMAINDER, help="-- then the orch sweep arguments")
    args = parser.parse_args(argv)
    args.orch = args.orch[1:] if args.orch[:1] == ["--"] else args.orch
    return args


def main(argv: list[str] | None = None) -> int:
    job = Job(_parse(sys.argv[1:] if argv is None else argv))
    for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
        signal.signal(sig, job.on_signal)
    restarts = f" (requeued {job.start} time{'s' if job.start > 1 else ''})" if job.start else ""
    _say(f"job {job.job_id or '-'} starts{restarts} on {', '.join(job.nodes)} at {time.strftime('%Y-%m-%d %H:%M:%S')}")
    code = 1
    try:
        job.start_ray()
        code = 130 if job.signalled else job.run_orch()
    except RuntimeError as exc:
        _say(str(exc))
    finally:
        job.stop_ray()
    if job.signalled:
        code = 130  # stopped from outside, whatever orch's own exit (its Ray went down with it)
        _say(f"stopped by {job.signalled}: finished trials are in the store, killed ones run again on the next start")
        if job.signalled == "SIGUSR1" and job.args.requeue and job.job_id:
            job.requeue()
    else:
        _say(f"orch exited with {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
