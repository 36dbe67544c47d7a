"""Grid axes on resources.gpu / resources.workers: one card against two in one sweep, each trial
with its own world size, key and reservation (the pure spec, no Ray)."""

from __future__ import annotations

import pytest

from orchestrator.run.usage import Usage
from orchestrator.sweepfile import load_sweep
from orchestrator.sweepfile.errors import SpecError
from tests.orchestrator.sweepfile.test_distributed_spec import _error

POSE = "name: dp\ntrainer: pose\nparams: {train: {batch_size: 8}, optim: {lr: 0.01}}\n"


def test_distributed_gpu_axis_gives_each_trial_its_cards_as_workers(write):
    spec = load_sweep(write("s.yaml", POSE + "resources: {cpu: 8}\ngrid:\n  resources.gpu: [1, 2, 4]\n"))
    assert [t.name for t in spec.trials] == ["gpu1", "gpu2", "gpu4"]
    got = [(spec.resources_of(t).gpu, spec.resources_of(t).workers, spec.resources_of(t).total_cpu) for t in spec.trials]
    assert got == [(1, 1, 8), (2, 2, 16), (4, 4, 32)]
    # the one-card trial records its world size too, so the table compares like with like
    assert [spec.dist_params(t)["dist.world_size"] for t in spec.trials] == [1, 2, 4]
    assert [spec.dist_params(t)["dist.global_batch"] for t in spec.trials] == [8, 16, 32]
    assert len({t.key for t in spec.trials}) == 3
    assert spec.widest().workers == 4 and spec.stop.stall_s == 1800.0  # on, for the trials of several
    assert [d["resources"]["gpu"] for d in spec.to_dicts()] == [1, 2, 4]


def test_distributed_workers_axis_nested_with_an_exclude_and_lr_scale(write):
    spec = load_sweep(write("s.yaml", POSE + "grid:\n  resources: {workers: [1, 2]}\n  optim.lr_scale: [none, linear]\n"
                            "exclude: [{resources.workers: 1, optim.lr_scale: linear}]\n"
                            "abbrev: {resources.workers: w, optim.lr_scale: lr}\n"))
    assert [t.name for t in spec.trials] == ["w1lrnone", "w2lrnone", "w2lrlinear"]
    assert [spec.resources_of(t).workers for t in spec.trials] == [1, 2, 2]
    assert spec.dist_params(spec.trials[2])["dist.lr"] == pytest.approx(0.02)
    assert "dist.lr" not in spec.dist_params(spec.trials[1])


def test_distributed_axis_resources_count_in_each_trials_compute(write):
    spec = load_sweep(write("s.yaml", POSE + "resources: {cpu: 2}\ngrid: {resources.gpu: [1, 2]}\n"))
    now = [0.0]
    usage = Usage(2, 1, clock=lambda: now[0], per_key={t.key: (spec.resources_of(t).total_cpu,
                                                                spec.resources_of(t).gpu) for t in spec.trials})
    one, two = spec.trials
    usage.started(one.key), usage.started(two.key)
    now[0] = 3600.0
    assert usage.running_gpu_hours() == pytest.approx(3.0)  # 1 card + 2 cards for an hour
    assert usage.ended(two.key)["compute/cpu_hours"] == pytest.approx(4.0)  # 2 workers x 2 CPUs
    assert usage.ended(one.key)["compute/gpu_hours"] == pytest.approx(1.0)


def test_distributed_a_command_trainer_may_vary_its_gpus(write):
    spec = load_sweep(write("c.yaml", "trainer: command\nparams: {command: [echo, '{gpus}']}\n"
                            "grid: {resources.gpu: [1, 2]}\n"))
    assert [(spec.resources_of(t).gpu, spec.resources_of(t).workers) for t in spec.trials] == [(1, 1), (2, 1)]
    assert spec.trials[0].key != spec.trials[1].key  # its script sees different GPUs


@pytest.mark.parametrize("text, expected", [
    ("grid: {resources.workers: [1, 0]}\n", "s.yaml:4: resources.workers: expected a whole number >= 1, got 0"),
    ("grid: {resources.gpu: [1, 2.5]}\n", "s.yaml:4: resources.gpu: a fraction is allowed below 1 GPU only, got 2.5"),
    ("resources: {gpu: 2}\ngrid: {resources.workers: [1, 2]}\n",
     "s.yaml:5: resources.workers: the trials' GPUs are fixed (gpu: 2) while their workers vary; vary resources.gpu"),
    ("resources: {workers: 2}\ngrid: {resources.gpu: [1, 2]}\n",
     "s.yaml:5: resources.gpu: the trials' workers are fixed (workers: 2) while their GPUs vary"),
    ("grid: {resources.gpu: [1, 2], resources.workers: [1, 2]}\n",
     "resources.workers: the GPUs and the workers of the trials are both varied; vary one"),
    ("grid: {resources.cpu: [1, 2]}\n", "s.yaml:4: resources.cpu: is not a resource a sweep can vary"),
    ("grid: {resources.gpu: [1, 2]}\nexclude: [{resources.gpu: 3}]\n",
     "s.yaml:5: exclude: entry {resources.gpu=3} matches no trial"),
])
def test_distributed_bad_resource_axes_are_file_line_errors(write, text, expected):
    assert expected in _error(write, POSE + text)


def test_distributed_workers_axis_refused_for_a_trainer_that_cannot(write):
    text = _error(write, "trainer: toy\ngrid:\n  resources.workers: [1, 2]\n")
    assert "s.yaml:3: resources.workers: trainer 'toy' cannot train one trial on several workers" in text


def test_distributed_shipped_cards_sweep(write):
    from tests.conftest import ROOT

    spec = load_sweep(ROOT / "sweeps" / "bisenet_cards.yaml")
    assert [(spec.resources_of(t).gpu, t.config["optim.lr_scale"]) for t in spec.trials] == \
        [(1, "none"), (2, "none"), (2, "linear")]
    smoke = load_sweep(ROOT / "sweeps" / "bisenet_cards.yaml", profile="smoke")
    assert [(smoke.resources_of(t).workers, smoke.resources_of(t).gpu) for t in smoke.trials] == [(1, 0), (2, 0), (2, 0)]


def test_set_reaches_the_sweep_level_sections(write):
    from tests.conftest import ROOT

    path = ROOT / "sweeps" / "msssm_temper.yaml"
    small = load_sweep(path, ["resources.gpu=0", "resources.cpu=1", "resources.memory=2G", "seeds=2",
                              "stop.max_epochs=3", "loss.t=9"])
    assert (small.resources.gpu, small.resources.cpu, small.resources.workers) == (0, 1, 1)
    assert small.resources.memory == 2 * 10**9 and small.seeds == (0, 1) and small.stop.max_epochs == 3
    assert all(t.config["loss.t"] == 9 for t in small.trials)  # a trainer parameter stays one
    with pytest.raises(SpecError) as info:
        load_sweep(path, ["resources.gpu=lots"])
    assert "--set: resources.gpu: expected a finite number >= 0, got 'lots' (given with --set)" in str(info.value)
