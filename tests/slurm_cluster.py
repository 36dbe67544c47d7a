"""A real Slurm for tests: Debian's slurmctld and slurmd for one node named after this host, run
as root, with a munge daemon and key of the test's own and every state, spool and socket file in
a temporary folder. Commands find it through ``SLURM_CONF`` (and munge's socket) in :attr:`env`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")


def missing() -> str | None:
    """Why a Slurm cannot be started here, or None."""
    if os.geteuid() != 0:
        return "the test Slurm runs its daemons as root"
    absent = [p for p in (*DAEMONS, "/usr/bin/sbatch") if not Path(p).exists()]
    return f"Slurm is not installed ({', '.join(absent)} missing; apt-get install slurm-wlm munge)" if absent else None


def _conf(root: Path, host: str, cpus: int, memory_mb: int, socket_path: Path) -> str:
    return "\n".join([
        "ClusterName=orchtest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={socket_path}",
        f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}", f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}", f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "MpiDefault=none", "ReturnToService=2",
        "SchedulerType=sched/backfill", "SlurmctldTimeout=30", "SlurmdTimeout=30", "InactiveLimit=0",
        "MinJobAge=600", "KillWait=10", "Waittime=0", "SchedulerParameters=sched_interval=1",
        "JobRequeue=1", "PlugStackConfig=/dev/null",
        f"NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


class Slurm:
    def __init__(self, root: Path):
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.socket = root / "munge.socket"
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> "Slurm":
        for sub in ("state", "spool", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        (self.root / "munge").chmod(0o700)
        subprocess.run([DAEMONS[0], "--force", f"--key-file={key}", f"--socket={self.socket}",
                        f"--pid-file={self.root / 'munge' / 'munged.pid'}",
                        f"--log-file={self.root / 'munge' / 'munged.log'}",
                        f"--seed-file={self.root / 'munge' / 'munged.seed'}"], check=True, timeout=30)
        cpus = os.cpu_count() or 2
        self.conf.write_text(_conf(self.root, self.host, cpus, 4096, self.socket))
        for daemon in DAEMONS[1:]:
            log = open(self.root / f"{Path(daemon).name}.out", "w")
            self.procs.append(subprocess.Popen([daemon, "-D", "-f", str(self.conf)], env=self.env,
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        self._wait_idle()
        return self

    def _wait_idle(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a Slurm daemon exited: " + self.logs())
            out = self.run("sinfo", "-h", "-o", "%T", check=False)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "idle*") and "*" not in out.stdout:
                return
            time.sleep(0.5)
        raise RuntimeError("the test Slurm never became idle: " + self.logs())

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a mapping (JobState, Restarts, ...); empty once it is gone."""
        out = self.run("scontrol", "-o", "show", "job", job_id, check=False)
        fields = {}
        for part in out.stdout.split():
            if "=" in part:
                key, _, value = part.partition("=")
                fields[key] = value
        return fields

    def wait_for(self, job_id: str, states: tuple[str, ...], timeout: float = 300) -> dict[str, str]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            fields = self.job(job_id)
            if fields.get("JobState") in states:
                return fields
            time.sleep(1)
        raise AssertionError(f"job {job_id} never reached {states}: {self.job(job_id)}\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(parts)

    def stop(self) -> None:
        self.run("scancel", "--full", "--user=root", check=False)
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        pid_file = self.root / "munge" / "munged.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass


@contextmanager
def slurm_cluster(root: Path):
    slurm = Slurm(root)
    try:
        yield slurm.start()
    finally:
        slurm.stop()
        shutil.rmtree(root / "state", ignore_errors=True)
