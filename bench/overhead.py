"""Per-trial orchestration overhead: orch vs plain Ray Tune + MLflowLoggerCallback vs one
`python` subprocess per trial importing torch (the hand-launch way), all in one run.

    python bench/overhead.py [--trials 64]

Each toy trial has zero sleep, so what is measured is the cost of running and tracking a trial.
Ray is started once and shared by the two Tune runs; every figure is wall time / trials.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SWEEP = """
name: overhead
trainer: toy
params: {{epochs: 3, sleep: 0}}
grid: {{lr: [{lrs}]}}
"""


def bench_orch(n: int, workdir: Path) -> float:
    from rich.console import Console

    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep

    lrs = ", ".join(f"{1e-4 * (1 + i):.6g}" for i in range(n))
    path = workdir / "overhead.yaml"
    path.write_text(SWEEP.format(lrs=lrs))
    spec = load_sweep(path)
    uri = f"sqlite:///{workdir / 'orch.db'}"
    start = time.perf_counter()
    outcome = run_sweep(spec, tracking_uri=uri, quiet=True, console=Console(file=open(os.devnull, "w")))
    elapsed = time.perf_counter() - start
    assert outcome.counts == {"finished": n}, outcome.counts
    return elapsed / n


def _plain_trainable(config):
    from ray import tune

    from trainers.toy.config import Config
    from trainers.toy.train import train

    train(Config(lr=config["lr"], epochs=3), lambda metrics, step: tune.report(
        {k.replace("@", "_at_"): v for k, v in metrics.items()}))


def bench_plain_tune(n: int, workdir: Path) -> float:
    from ray import tune
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    saved = os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)  # Tune's defaults
    try:
        tuner = tune.Tuner(
            _plain_trainable,
            param_space={"lr": tune.grid_search([1e-4 * (1 + i) for i in range(n)])},
            run_config=tune.RunConfig(
                storage_path=str(workdir / "tune"), verbose=0,
                callbacks=[MLflowLoggerCallback(tracking_uri=f"sqlite:///{workdir / 'plain.db'}",
                                                experiment_name="plain", save_artifact=False)]),
        )
        start = time.perf_counter()
        results = tuner.fit()
        elapsed = time.perf_counter() - start
    finally:
        if saved is not None:
            os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = saved
    assert len(results) == n
    return elapsed / n


def bench_subprocess(n: int, workers: int) -> float | None:
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return None
    except ImportError:
        return None
    code = textwrap.dedent("""
        import sys, torch
        sys.path.insert(0, %r)
        from trainers.toy.config import Config
        from trainers.toy.train import train
        train(Config(lr=float(sys.argv[1]), epochs=3), lambda m, s: print(s, m["val/Mean"]))
    """ % str(ROOT))

    def one(i: int) -> None:
        subprocess.run([sys.executable, "-c", code, f"{1e-4 * (1 + i)}"], check=True,
                       capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    args = parser.parse_args()
    from orchestrator.run import start_ray

    start_ray()
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "warmup").mkdir()
        bench_orch(8, workdir / "warmup")  # worker processes and imports, paid once by both
        orch = bench_orch(args.trials, workdir)
        plain = bench_plain_tune(args.trials, workdir)
        ray.shutdown()
        sub = bench_subprocess(args.trials, cpus)
    print(f"{args.trials} zero-sleep toy trials, {cpus} CPUs, MLflow (SQLite) logging on; seconds per trial")
    print(f"  orch                                  {orch:7.3f}")
    print(f"  plain Ray Tune + MLflowLoggerCallback {plain:7.3f}   {plain / orch:5.1f}x orch")
    if sub is None:
        print("  python subprocess importing torch      (torch not installed: skipped)")
    else:
        print(f"  python subprocess importing torch     {sub:7.3f}   {sub / orch:5.1f}x orch"
              f"   ({cpus} at a time)")


if __name__ == "__main__":
    main()
