"""Search against the grid on the toy trainer's val/surface (a smooth bump, optimum 100 at t=9,
probMargin=0.55, pointMaxW=1.5, lr=1e-3), all in one run on one embedded Ray instance:

    python bench/search.py [--budget 0.3] [--seeds 0 1]

The grid is 6 t values x 6 margins x 4 point weights (144 trials, lr at its optimum). Random and
TPE (orch's `search:`, Optuna through Ray Tune) get 30% of the grid's trials each over the same
ranges, continuous. Printed per method: the best value, the ratio to the grid's best, and how
many trials it took to come within 1% of the grid's best (in the order the trials were numbered).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMON = """
trainer: toy
params: {{epochs: 1, lr: 1.0e-3}}
metric: {{name: val/surface, mode: max}}
resources: {{cpu: 0.5, max_concurrent: 4}}
"""
GRID = "name: grid\n" + COMMON.format() + """
grid:
  t: [5.0, 6.22, 7.74, 9.63, 11.99, 14.0]
  probMargin: [0.0, 0.18, 0.36, 0.54, 0.72, 0.9]
  pointMaxW: [0.0, 1.0, 2.0, 3.0]
"""
SEARCH = "name: {name}\n" + COMMON + """
search:
  method: {method}
  num_samples: {n}
  seed: {seed}
  max_concurrent: 4
  space:
    t: {{loguniform: [5.0, 14.0]}}
    probMargin: {{uniform: [0.0, 0.9]}}
    pointMaxW: {{uniform: [0.0, 3.0]}}
"""


def run(text: str, workdir: Path, name: str) -> tuple[list[float], float]:
    """The sweep's values in trial order, and its wall time."""
    from rich.console import Console

    import orchestrator
    from orchestrator.run import run_sweep
    from orchestrator.sweepfile import load_sweep

    path = workdir / f"{name}.yaml"
    path.write_text(text)
    uri = f"sqlite:///{workdir / 'bench.db'}"
    start = time.perf_counter()
    run_sweep(load_sweep(path), tracking_uri=uri, quiet=True, console=Console(file=open(os.devnull, "w")))
    elapsed = time.perf_counter() - start
    frame = orchestrator.trials_dataframe(name, tracking_uri=uri)
    if "sample" in frame:  # random: the drawn order
        frame = frame.sort_values("sample")
    elif name != "grid":  # optuna: p000, p001, ... in the order they were asked for
        frame = frame.sort_values("name")
    values = [v if v is not None and math.isfinite(v) else -math.inf for v in frame["best"]]
    return values, elapsed


def to_within(values: list[float], target: float) -> int | None:
    best = -math.inf
    for i, v in enumerate(values, 1):
        best = max(best, v)
        if best >= 0.99 * target:
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=0.3, help="search trials as a share of the grid's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="searcher seeds")
    args = parser.parse_args()
    from orchestrator.run import start_ray

    start_ray()
    with tempfile.TemporaryDirectory(prefix="orch-bench-search-") as tmp:
        workdir = Path(tmp)
        grid, grid_s = run(GRID, workdir, "grid")
        target = max(grid)
        n = round(len(grid) * args.budget)
        rows = [("grid", len(grid), target, to_within(grid, target), grid_s)]
        for method in ("random", "optuna"):
            for seed in args.seeds:
                name = f"{method}_{seed}"
                values, seconds = run(SEARCH.format(name=name, method=method, n=n, seed=seed), workdir, name)
                rows.append((f"{'tpe' if method == 'optuna' else method} (seed {seed})", len(values), max(values),
                             to_within(values, target), seconds))
    print(f"toy val/surface (optimum 100); grid best {target:.2f} in {len(grid)} trials; searches get {n}")
    print(f"{'method':<18}{'trials':>7}{'best':>9}{'vs grid':>9}{'to 1% of grid best':>21}{'wall s':>9}")
    for label, trials, best, reached, seconds in rows:
        shown = f"{reached} ({reached / len(grid):.0%} of grid)" if reached else "not reached"
        print(f"{label:<18}{trials:>7}{best:>9.2f}{best / target:>9.3f}{shown:>21}{seconds:>9.1f}")


if __name__ == "__main__":
    main()
