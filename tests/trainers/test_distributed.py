"""Data-parallel training without Ray: trainers._dist and the pose trainer on 2 gloo ranks in
spawned processes (what torchrun or Ray Train set up), against one process."""

from __future__ import annotations

import contextlib
import math

import pytest

torch = pytest.importorskip("torch")

from trainers._spawn import run_ranks  # noqa: E402

pytestmark = pytest.mark.slow  # each test spawns a gloo process group: the full suite runs them

SMOKE = {"model.backbone": "resnet18", "model.deconv": [16, 16, 16], "data.input_size": [64, 64],
         "data.synth_train": 24, "data.synth_val": 9, "data.workers": 0, "train.batch_size": 4,
         "train.epochs": 2, "train.out_dir": "", "seed": 3}


def _trajectory(batch: int, steps: int, average: bool) -> list[float]:
    """The group's mean loss at each of ``steps`` SGD steps of a small MLP (no BatchNorm)."""
    from trainers import _dist
    from trainers._torch import Placement, StepMeter, TrainStep

    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(64, 6, generator=g), torch.randn(6, 1, generator=g)
    ds = torch.utils.data.TensorDataset(x, torch.tanh(x @ w) + 0.1 * torch.randn(64, 1, generator=g))
    sampler = _dist.train_sampler(ds, seed=5, epoch=1)
    if sampler is None:  # one process: the same permutation, taken whole
        sampler = torch.utils.data.DistributedSampler(ds, num_replicas=1, rank=0, seed=5)
        sampler.set_epoch(1)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    net = _dist.wrap(model, torch.device("cpu")) if average else model
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    step = TrainStep(net, opt, scaler, Placement(torch.device("cpu"), contextlib.nullcontext, False), StepMeter())
    world = _dist.world()[1]
    out = []
    for i, (xb, yb) in enumerate(torch.utils.data.DataLoader(ds, batch_size=batch, sampler=sampler)):
        if i == steps:
            break
        loss = step(xb, lambda pred: torch.nn.functional.mse_loss(pred, yb))
        out.append(_dist.all_sum([float(loss)])[0] / world)
    return out


def test_distributed_two_workers_half_batch_follow_one_worker():
    one = _trajectory(16, 4, True)
    two = run_ranks(_trajectory, 2, 8, 4, True)
    assert two[0] == two[1]  # every rank sees the group's loss
    assert max(abs(a - b) for a, b in zip(one, two[0])) < 1e-5
    assert one[0] != one[-1]  # it trained: the later steps depend on the averaged gradients
    # without gradient averaging each rank follows its own half: the check must catch that
    broken = run_ranks(_trajectory, 2, 8, 4, False)
    assert max(abs(a - b) for a, b in zip(one, broken[0])) > 1e-3


def _pose_eval(state_path: str) -> dict[str, float]:
    from orchestrator.registry import build_config
    from trainers.pose.evaluate import evaluate
    from trainers.pose.model import build_model
    from trainers.pose.train import _loader, build_data

    cfg = build_config("pose", SMOKE)
    model = build_model("resnet18", 16, [16, 16, 16], 4, "none")
    model.load_state_dict(torch.load(state_path, weights_only=True))
    val_ds, gt_path = build_data(cfg, "val")
    loader = _loader(val_ds, cfg, torch.device("cpu"), False, cfg.seed)
    seen = len(loader.sampler)
    metrics = evaluate(model, loader, torch.device("cpu"), contextlib.nullcontext, cfg, val_ds, gt_path)
    return {**metrics, "seen": float(seen)}


def test_distributed_pose_evaluation_equals_one_worker(tmp_path):
    from trainers.pose.model import build_model

    torch.manual_seed(7)
    model = build_model("resnet18", 16, [16, 16, 16], 4, "none")
    with torch.no_grad():  # weights whose peaks land somewhere: PCKh away from 0 for some joints
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    one = _pose_eval(str(path))
    ranks = run_ranks(_pose_eval, 2, str(path))
    assert one["seen"] == 9 and sorted(r["seen"] for r in ranks) == [4, 5]  # shards, no padding
    for r in ranks:
        for key, value in one.items():
            if key != "seen":
                assert r[key] == pytest.approx(value, abs=1e-9, nan_ok=True), key
    assert any(v > 0 for k, v in one.items() if k.startswith("val/"))


def _pose_train(out_dir: str, more: dict | None = None) -> list[tuple[int, dict]]:
    from orchestrator.registry import build_config
    from trainers.pose.train import train

    reports: list[tuple[int, dict]] = []
    train(build_config("pose", {**SMOKE, "train.out_dir": out_dir, **(more or {})}),
          lambda m, s: reports.append((s, dict(m))))
    return reports


def test_distributed_pose_training_reports_the_same_on_every_rank(tmp_path):
    out = tmp_path / "ckpt"
    ranks = run_ranks(_pose_train, 2, str(out), {"optim.lr_scale": "linear", "optim.lr": 0.003})
    assert [s for s, _ in ranks[0]] == [1, 2] == [s for s, _ in ranks[1]]
    assert ranks[0][-1][1]["train/lr"] == pytest.approx(0.006)  # optim.lr_scale linear: x 2 workers
    for (_, a), (_, b) in zip(ranks[0], ranks[1]):
        assert a.keys() == b.keys()
        for key in a:
            if key != "time/epoch_s":
                assert a[key] == b[key] or (math.isnan(a[key]) and math.isnan(b[key])), key
    assert (out / "checkpoint.pt").is_file()
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and not any(k.startswith("module.") for k in state["model"])


SMOKES = {
    "seg": {"data.synth_val": 3, "train.max_iter": 2, "eval.modes": ["single", "flip"]},
    "pose3d": {"data.synth_val": 15, "train.epochs": 1},
}


def _run(trainer: str, flat: dict) -> list[tuple[int, dict]]:
    from orchestrator.registry import build_config, get_trainer

    reports: list[tuple[int, dict]] = []
    get_trainer(trainer).load_train()(build_config(trainer, flat), lambda m, s: reports.append((s, dict(m))))
    return reports


@pytest.mark.parametrize("trainer", sorted(SMOKES))
def test_distributed_evaluation_equals_one_worker(trainer, tmp_path):
    """mode: eval of one checkpoint on 2 ranks gives the one-process metrics (seg: the summed
    confusion matrices of uneven shards; pose3d: the gathered joints)."""
    from orchestrator.registry import get_trainer

    flat = {**get_trainer(trainer).smoke, **SMOKES[trainer], "train.out_dir": str(tmp_path / "ckpt")}
    _run(trainer, flat)  # a checkpoint of a short training
    evaluation = {**flat, "mode": "eval", "checkpoint": str(tmp_path / "ckpt" / "checkpoint.pt")}
    [(_, one)] = _run(trainer, evaluation)
    ranks = run_ranks(_run, 2, trainer, evaluation)
    for [(_, got)] in ranks:
        for key, value in one.items():
            if key.startswith("val/"):
                assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    assert any(v for k, v in one.items() if k.startswith("val/"))


@pytest.mark.parametrize("trainer", sorted(SMOKES))
def test_distributed_training_reports_the_same_on_every_rank(trainer, tmp_path):
    from orchestrator.registry import get_trainer

    flat = {**get_trainer(trainer).smoke, **SMOKES[trainer]}
    ranks = run_ranks(_run, 2, trainer, flat)
    assert [s for s, _ in ranks[0]] == [s for s, _ in ranks[1]] and ranks[0]
    for (_, a), (_, b) in zip(ranks[0], ranks[1]):
        assert {k: v for k, v in a.items() if not k.startswith("time/")} == \
            {k: v for k, v in b.items() if not k.startswith("time/")}
