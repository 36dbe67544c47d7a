"""Time to the first trial: `orch sweep` against a plain script doing the same with Ray Tune and
MLflow's `MLflowLoggerCallback`, each a fresh process, in a new directory (no store yet) and again
in the same directory (the store exists), in one run.

    python bench/startup.py [--trials 4] [--repeats 2]

Two times each, from the command's start: when it says how many trials it will run (orch's
`N trials to run`; the script prints the same line once its experiment exists), and when the first
trial's first result is in (orch: the first `[1/N] finished` line, printed once the result is
durable in the store; the script: its first `on_trial_result`). The trials are the toy trainer's,
one report each and no sleep, so both measure start-up and nothing else. With the second time
comes the CPU the command's whole process tree (driver, Ray's servers and agents, workers) had
used by then (Linux): on a machine with few cores that, not waiting, is what start-up costs.
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

SWEEP = """name: startup
trainer: toy
params: {epochs: 1}
grid: {t: [%s]}
resources: {cpu: 1}
"""

PLAIN = r'''
import sys, time
t0 = float(sys.argv[1])
import mlflow
from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback
sys.path.insert(0, sys.argv[3])
from trainers.toy.config import Config
from trainers.toy.train import epoch_metrics

def trainable(config):
    metrics = epoch_metrics(Config(t=config["t"], epochs=1), 1)
    tune.report({k: v for k, v in metrics.items() if "@" not in k})  # names MLflow accepts as they are

class First(tune.Callback):
    seen = False
    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not First.seen:
            First.seen = True
            print(f"FIRST {time.time() - t0:.3f}", flush=True)

ts = [float(v) for v in sys.argv[2].split(",")]
import ray
ray.init(address="local", include_dashboard=False)  # its own instance, as orch starts one
mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("startup")
print(f"TODO {time.time() - t0:.3f} {len(ts)} trials to run", flush=True)
tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space={"t": tune.grid_search(ts)},
                   run_config=tune.RunConfig(name="startup", storage_path=sys.argv[4], verbose=0,
                   callbacks=[First(), MLflowLoggerCallback(tracking_uri="sqlite:///mlflow.db",
                                                            experiment_name="startup")]))
tuner.fit()
'''


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system, with the reaped children's) of ``root`` and every process
    below it, from /proc; NaN where there is no /proc."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return float("nan")
    tick = os.sysconf("SC_CLK_TCK")  # /proc is Linux, which has it
    stats: dict[int, tuple[int, float]] = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rfind(")") + 2:].split()  # after "pid (name) ": state, ppid, ...
        stats[pid] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(children.get(pid, ()))
    return total


def run(argv: list[str], cwd: str, todo_mark: str, first_mark: str) -> tuple[float, float, float]:
    """Seconds from the start to the line containing ``todo_mark`` and to ``first_mark``, and
    the CPU seconds the command's processes had used at ``first_mark``."""
    # loopback only, for both (orch sets this itself; see DESIGN.md, "Ray facts")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_DEDUP_LOGS": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    start = time.time()
    proc = subprocess.Popen([*argv], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    todo = first = cpu = float("nan")
    for line in proc.stdout:
        now = time.time() - start
        if todo_mark in line and todo != todo:
            todo = now
        if first_mark in line and first != first:
            first, cpu = now, tree_cpu(proc.pid)
    proc.wait(timeout=300)
    if proc.returncode != 0 or first != first:
        raise SystemExit(f"{' '.join(argv[:3])} failed (exit {proc.returncode})")
    return todo, first, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    ts = ",".join(str(7 + i) for i in range(a.trials))
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(a.repeats):
        for who in ("orch", "plain"):
            with tempfile.TemporaryDirectory() as tmp:
                for state in ("new store", "warm store"):
                    if who == "orch":
                        Path(tmp, "s.yaml").write_text(SWEEP % ts.replace(",", ", "))
                        argv = [sys.executable, "-c", "from orchestrator.cli import app; app()", "sweep", "s.yaml",
                                "--quiet", *(["--new"] if state == "warm store" else [])]
                        marks = ("trials to run", "[1/")
                    else:
                        argv = [sys.executable, "-c", PLAIN, str(time.time()), ts, str(ROOT), str(Path(tmp) / "tune")]
                        marks = ("TODO", "FIRST")
                    results.setdefault((who, state), []).append(run(argv, tmp, *marks))
    print(f"start-up: {a.trials} toy trials (one report each), medians of {a.repeats}, fresh processes, "
          f"{os.cpu_count()} CPUs")
    print("| command | store | to `N trials to run` (s) | to the first result (s) | CPU used by then (s) |")
    print("|---|---|--:|--:|--:|")
    for (who, state), times in results.items():
        label = "`orch sweep`" if who == "orch" else "Ray Tune + MLflowLoggerCallback script"
        print(f"| {label} | {state} | {statistics.median(t for t, _, _ in times):.1f} | "
              f"{statistics.median(f for _, f, _ in times):.1f} | {statistics.median(c for _, _, c in times):.1f} |")


if __name__ == "__main__":
    main()
