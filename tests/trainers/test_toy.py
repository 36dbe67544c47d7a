"""The toy trainer keeps the trainer contract and behaves like the notes' runs."""

from __future__ import annotations

import math

import pytest

from trainers.toy.config import Config
from trainers.toy.train import train

JOINTS = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean", "Mean@0.1"]


def run(**kwargs):
    reports: list[tuple[dict, int]] = []
    final = train(Config(**kwargs), lambda metrics, step: reports.append((metrics, step)))
    return final, reports


def test_reports_every_epoch_with_mpii_keys():
    final, reports = run(epochs=4)
    assert [step for _, step in reports] == [1, 2, 3, 4]
    for metrics, _ in reports:
        assert set(metrics) == {f"val/{j}" for j in JOINTS} | {"train/loss", "val/surface"}
        assert all(math.isfinite(v) for v in metrics.values())
    assert final == reports[-1][0]
    means = [m["val/Mean"] for m, _ in reports]
    assert means == sorted(means)  # learning curve rises
    assert reports[-1][0]["val/Head"] > reports[-1][0]["val/Ankle"]


def test_deterministic_and_seeds_differ_slightly():
    a, _ = run(seed=0)
    b, _ = run(seed=0)
    c, _ = run(seed=1)
    assert a == b
    assert 0 < abs(a["val/Mean"] - c["val/Mean"]) < 1.5


def test_params_matter_smoothly():
    best, _ = run(t=10)
    cold, _ = run(t=7)
    far, _ = run(t=1)
    assert best["val/Mean"] > cold["val/Mean"] > far["val/Mean"]


@pytest.mark.parametrize("t,diverges", [(14.0, False), (14.5, True), (50.0, True)])
def test_loss_goes_nan_above_t14(t, diverges):
    _, reports = run(t=t, epochs=3)
    assert math.isfinite(reports[0][0]["train/loss"])
    assert math.isnan(reports[-1][0]["train/loss"]) is diverges


def test_fail_at_epoch_raises_after_reporting_earlier_epochs():
    reports = []
    with pytest.raises(RuntimeError, match="fail_at_epoch=3"):
        train(Config(fail_at_epoch=3), lambda m, s: reports.append(s))
    assert reports == [1, 2]


def test_the_surface_peaks_at_its_known_optimum():
    from trainers.toy.train import SURFACE_MAX, SURFACE_OPTIMUM, surface

    best = surface(Config(**SURFACE_OPTIMUM))
    assert best == pytest.approx(SURFACE_MAX)
    for key, step in (("t", 1.5), ("probMargin", 0.1), ("pointMaxW", 0.5), ("lr", 3.0)):
        moved = dict(SURFACE_OPTIMUM)
        moved[key] = moved[key] * step if key in ("t", "lr") else moved[key] + step
        assert surface(Config(**moved)) < best
