"""Faults at random moments, counted: does orch lose, duplicate or leave anything behind?

    python bench/faults.py --faults 20            # 20 of each kind (about 40 minutes on 2 cores)
    python bench/faults.py --faults 3 --kinds kill9,sigint

Each fault runs a small toy sweep (4 trials of 3 steps) in a fresh folder, injects the fault at
a random moment, then runs the sweep again to resume it, and checks the store with the MLflow
client and the machine's process table:

- kill9: ``kill -9`` of orch (not its Ray processes) at 0-6 s, store creation included
- sigint: Ctrl-C to orch's process group at 1-8 s; sigterm: SIGTERM to orch at 1-8 s
- server: the MLflow server the sweep writes to is stopped at 1-6 s and started 2-10 s later
- second: a second ``orch sweep`` of the same sweep at 0-4 s after the first
- disk: the store on a 40 MB tmpfs that fills at 1-6 s (a file takes the rest); the resume runs
  once the file is gone (needs root, for the mount)
- stall: one trial of the four, drawn at random, stops reporting (an epoch of 40 s) under
  ``stop.stall: 3s``; it must end ``killed`` with the stall message within 25 s, the others finished
- node: a two-node Ray cluster on 127.0.0.1, the second node's raylet killed with SIGKILL at 3-8 s
  (``retries: 1``: the trial it ran runs again on the node left)

Columns: results lost (a trial the console called finished that is not finished in the store
right after the fault, or a trial without a result after the resume), duplicate child runs
(more than one per trial key), RUNNING runs left after the resume (children or parent), and
leftover processes (anything still carrying the faulted orch's ORCH_INSTANCE tag).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.util.processes import instance_processes  # noqa: E402
from tests.servers import MlflowServer  # noqa: E402

SWEEP = """
name: bench_faults
trainer: toy
params: {epochs: 3, sleep: 0.4}
grid: {t: [6, 7, 8, 9]}
resources: {max_concurrent: 2}
"""
TRIALS = 4
KINDS = ("kill9", "sigint", "sigterm", "server", "second", "disk", "stall", "node")
STALL = """
name: bench_faults
trainer: toy
params: {{epochs: 3, sleep: 0.4}}
grid:
  - {{t: {quick}}}
  - {{t: [{stalled}], sleep: [40]}}
resources: {{max_concurrent: 2}}
stop: {{stall: 3s}}
"""
NODE = SWEEP.replace("epochs: 3, sleep: 0.4", "epochs: 6, sleep: 1.0") + "retries: 1\n"


def _orch(folder: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "sweep", "sweep.yaml", "--quiet", *extra],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _store_state(uri: str) -> tuple[Counter, set[str], int]:
    """(child statuses, keys with a result, duplicate child runs), and RUNNING runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = list(client.search_runs(ids, max_results=1000)) if ids else []
    children = [r for r in runs if "orch.trial_key" in r.data.tags]
    keys = Counter(r.data.tags["orch.trial_key"] for r in children)
    done = {r.data.tags["orch.trial_key"] for r in children
            if r.data.tags.get("orch.status") in ("finished", "diverged", "stopped")}
    running = sum(r.info.status == "RUNNING" for r in runs)
    return keys, done, running


def _finished_names(output: str) -> set[str]:
    return set(re.findall(r"\] finished +(\S+)", output))


def _names_to_keys(uri: str) -> dict[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = list(client.search_runs(ids, max_results=1000)) if ids else []
    return {r.data.tags["orch.trial_name"]: r.data.tags.get("orch.status", "")
            for r in runs if "orch.trial_name" in r.data.tags}


def _kill_second_raylet() -> None:
    from tests.orchestrator.run.test_lost_node import _second_raylet

    raylet = _second_raylet()
    if raylet is not None:
        os.kill(raylet, signal.SIGKILL)


def _inject(kind: str, folder: Path, env: dict[str, str], rng: random.Random, server,
            address: str | None = None) -> tuple[str, int]:
    """Run the sweep with one fault; returns (what the faulted run printed, its pid)."""
    proc = _orch(folder, env, *(["--address", address] if address else []))
    if kind == "stall":  # the fault is in the sweep file
        return proc.communicate(timeout=600)[0], proc.pid
    if kind == "second":
        time.sleep(rng.uniform(0, 4))
        other = _orch(folder, env)
        out = proc.communicate(timeout=600)[0] + other.communicate(timeout=600)[0]
        return out, proc.pid
    time.sleep(rng.uniform(*{"kill9": (0, 6), "server": (1, 6), "disk": (1, 6), "node": (3, 8)}.get(kind, (1, 8))))
    if kind == "disk":
        from tests.disks import fill

        fill(folder)
        out = proc.communicate(timeout=600)[0]
        (folder / "filler").unlink()
        return out, proc.pid
    if kind == "node":
        _kill_second_raylet()
    elif kind == "kill9":
        proc.kill()
    elif kind == "sigint":
        os.killpg(proc.pid, signal.SIGINT)
    elif kind == "sigterm":
        proc.terminate()
    elif kind == "server":
        server.stop()
        time.sleep(rng.uniform(2, 10))
        server.start()
    return proc.communicate(timeout=600)[0], proc.pid


def one_fault(kind: str, rng: random.Random, base: Path) -> dict[str, int]:
    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=base))
    with contextlib.ExitStack() as stack:
        if kind == "disk":
            from tests.disks import tmpfs

            stack.enter_context(tmpfs(folder, "40M"))
        return _one_fault(kind, rng, folder, stack)


def _one_fault(kind: str, rng: random.Random, folder: Path, stack: contextlib.ExitStack) -> dict[str, int]:
    stalled = f"t{rng.randint(6, 9)}_sleep40"
    if kind == "stall":
        ts = [t for t in (6, 7, 8, 9) if f"t{t}_sleep40" != stalled]
        (folder / "sweep.yaml").write_text(STALL.format(quick=ts, stalled=stalled[1]))
    else:
        (folder / "sweep.yaml").write_text(NODE if kind == "node" else SWEEP)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "ORCH_INSTANCE")}
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="r", dir="/tmp")
    if kind == "disk":  # how long the faulted run waits for the store to take its writes before it
        env["ORCH_FLUSH_TIMEOUT_S"] = "10"  # spools them (default 120 s: room may come back)
    stack.callback(shutil.rmtree, env["RAY_TMPDIR"], ignore_errors=True)
    server, address = None, None
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    if kind == "server":
        server = MlflowServer(folder)
        uri = env["MLFLOW_TRACKING_URI"] = server.start()
        stack.callback(server.stop)
    if kind == "node":
        from tests.servers import ray_cluster

        address, cluster_env = stack.enter_context(ray_cluster(folder, {"lost_node": 1}))
        env = {**cluster_env, "RAY_TMPDIR": "/tmp"}
    output, pid = _inject(kind, folder, env, rng, server, address)
    shown = _finished_names(output)
    stored = _names_to_keys(uri) if (folder / "mlflow.db").exists() or server else {}
    lost = sum(stored.get(name) != "finished" for name in shown)
    if kind == "stall":  # the stalled trial ends killed in time, with the message; nothing to resume
        lost += _stall_missed(uri, stalled)
    else:
        _orch(folder, env, *(["--address", address] if address else [])).communicate(timeout=600)
    keys, done, running = _store_state(uri)
    leftovers = [p for p, tag in instance_processes().items() if tag.startswith(f"{pid}-")]
    return {"lost": lost + TRIALS - (kind == "stall") - len(done), "duplicates": sum(n - 1 for n in keys.values()),
            "running": running, "leftover": len(leftovers)}


def _stall_missed(uri: str, stalled: str) -> int:
    """1 unless the stalled trial ended killed, with the stall message, within 25 s."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = [r for r in client.search_runs(ids, max_results=1000) if r.data.tags.get("orch.trial_name") == stalled]
    ok = len(runs) == 1 and runs[0].data.tags.get("orch.status") == "killed" and "stalled" in \
        runs[0].data.tags.get("orch.message", "") and runs[0].data.metrics.get("compute/wall_s", 99) < 25
    return 0 if ok else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faults", type=int, default=20, help="faults of each kind")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="orch-faults-"))
    rows = []
    started = time.monotonic()
    for kind in args.kinds.split(","):
        totals = Counter()
        for i in range(args.faults):
            totals.update(one_fault(kind, rng, base))
            print(f"  {kind} {i + 1}/{args.faults}: {dict(totals)}", file=sys.stderr, flush=True)
        rows.append((kind, args.faults, totals))
    shutil.rmtree(base, ignore_errors=True)
    print(f"faults: {args.faults} of each kind, toy sweep of {TRIALS} trials, "
          f"{(time.monotonic() - started) / 60:.1f} min")
    print("| fault | injected | results lost | duplicate child runs | RUNNING runs left | leftover processes |")
    print("|---|--:|--:|--:|--:|--:|")
    for kind, n, t in rows:
        print(f"| {kind} | {n} | {t['lost']} | {t['duplicates']} | {t['running']} | {t['leftover']} |")


if __name__ == "__main__":
    main()
