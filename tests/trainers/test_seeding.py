"""Seeds reach every source of randomness a torch trainer has: init, shuffling, augmentation and
the loader's worker processes; the same seed trains the same network on CPU."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tests.trainers.pose.test_train import smoke_config
from trainers._torch import loader_seeding, seed_everything
from trainers.pose.train import train


class Draws(torch.utils.data.Dataset):
    """Each item draws from python's, numpy's and torch's generators inside the worker."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([random.random(), float(np.random.rand()), float(torch.rand(()))])


def draws(seed: int, workers: int = 2) -> torch.Tensor:
    loader = torch.utils.data.DataLoader(Draws(), batch_size=1, shuffle=True, num_workers=workers,
                                         **loader_seeding(seed))
    return torch.cat(list(loader))


def test_loader_workers_draw_from_the_seed_and_differ_from_each_other():
    seed_everything(123)
    a = draws(0)
    seed_everything(456)  # the trainer's global state does not leak into the workers' streams
    assert torch.equal(a, draws(0))
    assert not torch.equal(a, draws(1))
    # two workers never hand out the same python or numpy stream (the classic forked-numpy bug)
    assert len(set(a[:, 0].tolist())) == len(a) and len(set(a[:, 1].tolist())) == len(a)


def _trained(tmp_path, seed: int, tag: str):
    out = tmp_path / tag
    cfg = smoke_config(seed=seed, **{"train.out_dir": str(out), "train.epochs": 1, "data.workers": 1,
                                     "data.synth_train": 48})
    metrics = train(cfg, lambda m, s: None)
    state = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    return metrics, state


@pytest.mark.slow
def test_same_seed_same_weights_and_metrics_other_seed_different(tmp_path):
    m0, w0 = _trained(tmp_path, 0, "a")
    m0b, w0b = _trained(tmp_path, 0, "b")
    m1, w1 = _trained(tmp_path, 1, "c")
    keys = [k for k in m0 if k.startswith(("val/", "train/loss"))]
    assert {k: m0[k] for k in keys} == {k: m0b[k] for k in keys}
    assert all(torch.equal(w0[k], w0b[k]) for k in w0)
    # another seed: other initial weights, batches and augmentation, so other weights and loss
    differing = [k for k in w0 if w0[k].is_floating_point() and not torch.equal(w0[k], w1[k])]
    assert len(differing) > 0.9 * sum(w.is_floating_point() for w in w0.values())
    assert m0["train/loss"] != m1["train/loss"]
    assert any(m0[k] != m1[k] for k in keys if k.startswith("val/"))


def test_deterministic_turns_on_torchs_deterministic_algorithms():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    finally:
        seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled()
