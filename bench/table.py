"""`orch table` on a big sweep against the naive per-run, per-metric history loop, in one run.

    python bench/table.py [--trials 2000] [--metrics 20] [--steps 5] [--naive-sample 200]

Builds a local MLflow store (SQLite) holding one sweep of N trials x M metrics with S-step
histories, then times (a) `orch table` over every metric (the median of 3 runs) and (b) the loop
a script would write: MlflowClient.get_metric_history per run per metric. The naive loop is timed on a sample of runs
and scaled to all of them (it is linear in runs); pass --naive-sample 0 to time it on all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_store(uri: str, trials: int, metrics: int, steps: int) -> None:
    from mlflow.entities import Metric, Param, RunTag

    from orchestrator.tracking import make_client

    client = make_client(uri)
    exp = client.create_experiment("bench")
    names = [f"val/m{i:02d}" for i in range(metrics - 1)] + ["val/Mean"]
    trial_list = [{"name": f"lr{i}_s{i % 2}"} for i in range(trials)]
    parent = client.create_run(exp, run_name="bench", tags={
        "orch.kind": "sweep", "orch.sweep": "bench", "orch.metric": "val/Mean", "orch.mode": "max",
        "orch.axes": json.dumps(["lr"]), "orch.trials": str(trials)}).info.run_id
    client.log_text(parent, json.dumps(trial_list), "trials.json")
    stamp = int(time.time() * 1000)
    for i in range(trials):
        setting = f"lr{i // 2}"
        run = client.create_run(exp, run_name=trial_list[i]["name"], tags={
            "mlflow.parentRunId": parent, "orch.trial_name": trial_list[i]["name"],
            "orch.setting": setting, "orch.seed": str(i % 2), "orch.status": "finished",
            "orch.trial_key": f"key{i}", "orch.axes": json.dumps({"lr": i // 2})}).info.run_id
        points = [Metric(n, 50 + (i % 7) + j + s, stamp, s) for j, n in enumerate(names)
                  for s in range(1, steps + 1)]
        client.log_batch(run, metrics=points, params=[Param("lr", str(i // 2)), Param("seed", str(i % 2))],
                         tags=[RunTag("orch.attempts", "1")])


def time_orch(uri: str, metrics: list[str]) -> tuple[float, int]:
    from orchestrator.analysis.publish import TableRequest, make_table

    start = time.perf_counter()
    text, _ = make_table(TableRequest("bench", tuple(metrics), fmt="json", out="-", tracking_uri=uri))
    return time.perf_counter() - start, len(json.loads(text))


def time_naive(uri: str, metrics: list[str], sample: int) -> tuple[float, int]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    start = time.perf_counter()
    exp = client.get_experiment_by_name("bench").experiment_id
    parent = client.search_runs([exp], "tags.`orch.kind` = 'sweep'")[0].info.run_id
    runs = []
    token = None
    while True:
        page = client.search_runs([exp], f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1000,
                                  page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    listed = time.perf_counter() - start
    chosen = runs[:sample] if sample else runs
    start = time.perf_counter()
    for run in chosen:
        for name in metrics:
            client.get_metric_history(run.info.run_id, name)
    per_run = (time.perf_counter() - start) / len(chosen)
    return listed + per_run * len(runs), len(runs)


def add_store_args(parser: argparse.ArgumentParser, trials: int, metrics: int) -> None:
    """The size of the store :func:`build_store` builds, as options."""
    parser.add_argument("--trials", type=int, default=trials)
    parser.add_argument("--metrics", type=int, default=metrics)
    parser.add_argument("--steps", type=int, default=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_store_args(parser, 2000, 20)
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'bench.db'}"
        start = time.perf_counter()
        build_store(uri, args.trials, args.metrics, args.steps)
        built = time.perf_counter() - start
        names = [f"val/m{i:02d}" for i in range(args.metrics - 1)] + ["val/Mean"]
        time_orch(uri, names[:1])  # warm the imports both paths share
        runs_orch = [time_orch(uri, names) for _ in range(3)]
        orch, rows = statistics.median(t for t, _ in runs_orch), runs_orch[0][1]
        naive, runs = time_naive(uri, names, args.naive_sample)
    sample = f"timed on {args.naive_sample} runs, scaled to {runs}" if args.naive_sample else "all runs"
    print(f"store: {args.trials} trials x {args.metrics} metrics x {args.steps} steps (built in {built:.0f} s)")
    print(f"  orch table (all {args.metrics} metrics, {rows} rows; median of 3)   {orch:7.2f} s")
    print(f"  naive get_metric_history loop ({sample})   {naive:7.2f} s   {naive / orch:5.1f}x orch")


if __name__ == "__main__":
    main()
