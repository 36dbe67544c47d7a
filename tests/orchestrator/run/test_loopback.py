"""Secure by default: the embedded Ray instance listens on loopback only."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _listening() -> dict[int, str]:
    """socket inode -> listening address, from /proc/net/tcp and tcp6."""
    out = {}
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path(f"/proc/net/{name}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            hex_ip = fields[1].split(":")[0]
            raw = bytes.fromhex(hex_ip)
            if family == socket.AF_INET:
                ip = socket.inet_ntop(family, raw[::-1])
            else:
                ip = socket.inet_ntop(family, b"".join(struct.pack("<I", w) for w in
                                                      struct.unpack(">4I", raw)))
            out[int(fields[9])] = ip
    return out


def _ray_socket_inodes() -> dict[int, str]:
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not any(k in cmd for k in ("raylet", "gcs_server", "ray::", "default_worker")) \
                    and int(pid) != os.getpid():
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found[int(target[8:-1])] = cmd[:60]
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to list sockets")
def test_embedded_ray_listens_on_loopback_only(local_ray):
    listening = _listening()
    ours = {inode: cmd for inode, cmd in _ray_socket_inodes().items() if inode in listening}
    assert ours, "found no listening socket of the embedded Ray instance"
    exposed = {cmd: listening[inode] for inode, cmd in ours.items()
               if listening[inode] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")}
    assert exposed == {}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to list processes")
def test_embedded_ray_runs_no_dashboard_server_autoscaler_or_log_monitor(local_ray):
    """Ray starts its dashboard process even with include_dashboard=False, an autoscaler monitor
    and a log monitor; orch's single-node instance, with log_to_driver off, needs none of them
    (they only slow ray.init on 2 cores, and the dashboard is one more listening port)."""
    from orchestrator.util.processes import instance_processes
    from orchestrator.run.environment import own_instance_tag

    tag = own_instance_tag()
    assert tag, "the session's instance was started by this process"
    commands = {}
    for pid in instance_processes(tag):
        try:
            commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    assert any("raylet" in c for c in commands.values()), commands  # the instance is there
    skipped = ("dashboard/dashboard.py", "autoscaler/_private/monitor.py", "_private/log_monitor.py")
    assert [c for c in commands.values() if any(name in c for name in skipped)] == []
    assert local_ray.cluster_resources().get("CPU", 0) >= 1  # and it runs work


def test_trial_actors_keep_lightnings_no_fork_setting_without_a_runtime_env(local_ray):
    """Tune's per-actor runtime env (PL_DISABLE_FORK=1) would make every trial wait for a new worker;
    on the embedded instance the variable comes from orch's environment instead, so the actors'
    workers still have it."""
    from ray.tune.execution import class_cache

    from orchestrator.run.environment import trial_actors_plain

    @local_ray.remote(num_cpus=0)
    class Probe:
        def env(self) -> str | None:
            return os.environ.get("PL_DISABLE_FORK")

    with trial_actors_plain():
        assert "PL_DISABLE_FORK" not in class_cache.DEFAULT_ENV_VARS
        probe = Probe.remote()
        assert local_ray.get(probe.env.remote(), timeout=60) == "1"
        local_ray.kill(probe)
    assert class_cache.DEFAULT_ENV_VARS["PL_DISABLE_FORK"] == "1"  # Tune's own runs get Tune's defaults
