"""search: parsing, random draws and an optuna point's config (pure: no Ray, no store)."""

from orchestrator.sweepfile import load_sweep
from tests.conftest import ROOT


def test_random_points_are_deterministic_stepped_and_crossed_with_the_grid(write):
    text = """
        name: r
        trainer: toy
        grid: {pointMaxW: [0, 1]}
        seeds: 2
        search:
          method: random
          num_samples: 5
          seed: 3
          space:
            lr: {qloguniform: [1.0e-4, 1.0e-2, 1.0e-4]}
            epochs: {int: [1, 4]}
            rs: {choice: [[8, 4, 2, 1], [3, 1]]}
    """
    first, second = load_sweep(write("a.yaml", text)), load_sweep(write("b.yaml", text))
    assert [t.key for t in first.trials] == [t.key for t in second.trials] and len(first.trials) == 20
    other = load_sweep(write("c.yaml", text.replace("seed: 3", "seed: 4")))
    assert [t.config["lr"] for t in other.trials] != [t.config["lr"] for t in first.trials]
    points = first.search.points
    assert len(points) == 5 and all(1e-4 <= p["lr"] <= 1e-2 for p in points)
    assert all(abs(p["lr"] / 1e-4 - round(p["lr"] / 1e-4)) < 1e-6 for p in points)  # on the step
    assert all(isinstance(p["epochs"], int) and 1 <= p["epochs"] <= 4 for p in points)
    assert all(p["rs"] in ([8, 4, 2, 1], [3, 1]) for p in points)
    names = [t.name for t in first.trials]
    assert names[:4] == ["pointMaxW0_r0_s0", "pointMaxW0_r0_s1", "pointMaxW0_r1_s0", "pointMaxW0_r1_s1"]
    assert first.axes == ("pointMaxW", "sample", "lr", "epochs", "rs")


def test_an_optuna_point_fills_its_own_placeholders_and_keeps_runtime_ones(write):
    spec = load_sweep(ROOT / "sweeps" / "msssm_search.yaml", profile="smoke")
    search = spec.search
    assert spec.trials == () and search.adaptive and search.num_samples == 3 and spec.max_concurrent == 1
    assert spec.axes == ("loss.t", "loss.probMargin", "loss.pointMaxW")
    a = search.point_config(search.base.config, {"loss.t": 12.5, "loss.probMargin": 0.3, "loss.pointMaxW": 2})
    b = search.point_config(search.base.config, {"loss.t": 40.0, "loss.probMargin": 0.3, "loss.pointMaxW": 0})
    assert a["loss.t"] == 12.5 and a["loss.pointMaxW"] == 2 and b["loss.pointMaxW"] == 0  # a choice by index
    assert a["train.out_dir"].startswith("checkpoints/msssm_search/p-") and a["train.out_dir"] != b["train.out_dir"]
    command = load_sweep(write("cmd.yaml", """
        name: cmd
        trainer: command
        params: {command: [python, train.py, --out, "runs/{name}", --gpus, "{gpus}"]}
        search: {method: optuna, num_samples: 2, space: {grace: {uniform: [1, 5]}}}
    """)).search
    argv = command.point_config(command.base.config, {"grace": 2.0})["command"]
    assert argv[3].startswith("runs/p-") and argv[5] == "{gpus}"
