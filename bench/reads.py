"""The read commands on a local store, each as a user runs it (a fresh process, imports
included), on orch's read-only SQLite path against the MLflow client path (ORCH_READ_VIA_CLIENT=1)
in the same run.

    python bench/reads.py [--trials 200] [--metrics 10] [--steps 5] [--repeats 3]

Builds a store holding one sweep of N trials x M metrics x S steps (bench/table.py's builder) and
a second, small sweep, then times `orch runs`, `orch runs SWEEP`, `orch diff A B`, `orch plot
SWEEP` (which also attaches the PNG to the parent) and `orch table SWEEP`; medians of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import add_store_args, build_store  # noqa: E402


def add_small_sweep(uri: str) -> None:
    """A second sweep, so the listing has more than one, and environment files for `orch diff`."""
    import json

    from orchestrator.tracking import make_client

    client = make_client(uri)
    exp = client.create_experiment("small")
    parent = client.create_run(exp, run_name="small", tags={
        "orch.kind": "sweep", "orch.sweep": "small", "orch.metric": "val/Mean", "orch.mode": "max",
        "orch.axes": json.dumps([]), "orch.trials": "1"}).info.run_id
    client.set_terminated(parent)
    bench = client.get_experiment_by_name("bench").experiment_id
    for name in ("lr0_s0", "lr1_s1"):
        [run] = client.search_runs([bench], f"tags.`orch.trial_name` = '{name}'")
        client.log_text(run.info.run_id, f"python: 3.11\ntorch==2.{name[-1]}\n", "environment.txt")


def timed(args: list[str], cwd: str, via_client: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ORCH_READ_VIA_CLIENT", None)
    if via_client:
        env["ORCH_READ_VIA_CLIENT"] = "1"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "from orchestrator.cli import app; app()", *args], cwd=cwd,
                         env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"orch {' '.join(args)} failed:\n{out.stderr}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_args(p, 200, 10)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        build_store(uri, a.trials, a.metrics, a.steps)
        add_small_sweep(uri)
        commands = {"orch runs": ["runs"], "orch runs bench": ["runs", "bench"],
                    "orch diff": ["diff", "lr0_s0", "lr1_s1"], "orch plot bench": ["plot", "bench"],
                    "orch table bench": ["table", "bench", "--format", "json", "--out", "-"]}
        rows = []
        for label, args in commands.items():
            args = [*args, "--tracking-uri", uri]
            timed(args, tmp, False)  # warm the file cache
            fast, slow = [], []
            for _ in range(a.repeats):  # interleaved, so load drifts hit both alike
                fast.append(timed(args, tmp, False))
                slow.append(timed(args, tmp, True))
            rows.append((label, statistics.median(fast), statistics.median(slow)))
    print(f"read commands: a store of {a.trials} trials x {a.metrics} metrics x {a.steps} steps plus one small "
          f"sweep; median of {a.repeats}, each a fresh process")
    print("| command | orch (s) | via the MLflow client (s) | client / orch |")
    print("|---|--:|--:|--:|")
    for label, fast, slow in rows:
        print(f"| `{label}` | {fast:.2f} | {slow:.2f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
