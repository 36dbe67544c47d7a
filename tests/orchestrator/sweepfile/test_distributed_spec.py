"""resources.workers / gpu: N for data-parallel trials, stop.stall, and keys that survive a new
schema parameter: the pure spec, no Ray."""

from __future__ import annotations

import pytest

from orchestrator.sweepfile import load_sweep
from orchestrator.sweepfile.errors import SpecError

POSE = "name: dp\ntrainer: pose\nparams: {train: {batch_size: 8}}\n"


def _error(write, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_sweep(write("s.yaml", text))
    return str(info.value)


def test_distributed_workers_and_gpus_give_the_world_size(write):
    spec = load_sweep(write("s.yaml", POSE + "resources: {workers: 2, cpu: 1}\n"))
    assert spec.resources.workers == 2 and spec.resources.total_cpu == 2.0
    assert spec.dist_params(spec.trials[0]) == {"dist.world_size": 2, "dist.global_batch": 16}
    assert spec.stop.stall_s == 1800.0  # on by default for several workers
    four = load_sweep(write("g.yaml", POSE + "resources: {gpu: 4, cpu: 8}\n"))
    assert four.resources.workers == 4 and four.resources.gpu == 4
    one = load_sweep(write("o.yaml", POSE + "resources: {gpu: 1}\nstop: {stall: 90s}\n"))
    assert one.resources.workers == 1 and one.dist_params(one.trials[0]) == {} and one.stop.stall_s == 90
    off = load_sweep(write("f.yaml", POSE + "resources: {workers: 2}\nstop: {stall: off}\n"))
    assert off.stop.stall_s is None
    # the world size is part of what is trained: 1 and 2 workers are different trials
    assert spec.trials[0].key != load_sweep(write("w1.yaml", POSE)).trials[0].key


def test_distributed_a_command_script_keeps_its_gpus(write):
    spec = load_sweep(write("c.yaml", "trainer: command\nparams: {command: [echo]}\nresources: {gpu: 4}\n"))
    assert spec.resources.workers == 1 and spec.resources.gpu == 4


@pytest.mark.parametrize("resources, expected", [
    ("{workers: 0}", "s.yaml:4: resources.workers: expected an integer >= 1, got 0"),
    ("{workers: 1.5}", "s.yaml:4: resources.workers: expected an integer >= 1, got 1.5"),
    ("{workers: 2, gpu: 0.5}", "s.yaml:4: resources.gpu: a fraction of a GPU (0.5) cannot be shared by 2 "
                               "data-parallel workers; give each worker a whole GPU: gpu: 2."),
    ("{workers: 2, gpu: 4}", "s.yaml:4: resources.gpu: 4 GPUs for 2 workers: each data-parallel worker "
                             "trains on one GPU; write gpu: 2 (or gpu: 0 for CPU workers)."),
])
def test_distributed_bad_worker_counts_are_file_line_errors(write, resources, expected):
    assert expected in _error(write, POSE + f"resources: {resources}\n")


def test_distributed_refused_for_a_trainer_that_cannot(write):
    text = _error(write, "trainer: toy\nresources:\n  workers: 2\n")
    assert "s.yaml:3: resources.workers: trainer 'toy' cannot train one trial on several workers" in text


def test_distributed_stall_must_be_a_duration(write):
    assert "s.yaml:4: stop.stall: expected a duration, got 'soon'" in _error(write, POSE + "stop: {stall: soon}\n")


def test_a_parameter_added_later_keeps_earlier_keys_until_set(write):
    from orchestrator.sweepfile.naming import trial_key

    base = load_sweep(write("k.yaml", POSE)).trials[0]
    without = {k: v for k, v in base.config.items()
               if k not in ("model.sync_bn", "optim.lr_scale", "train.keep_optimizer", "train.compile")}
    assert base.config["model.sync_bn"] is False and base.config["optim.lr_scale"] == "none"  # the schema's new
    # defaults are in the config ...
    assert base.key == trial_key("pose", without, base.seed, {})  # ... and not in the key
    synced = load_sweep(write("k2.yaml", POSE.replace("{train:", "{model: {sync_bn: true}, train:"))).trials[0]
    assert synced.key != base.key


@pytest.mark.parametrize("how, factor", [("linear", 4.0), ("sqrt", 2.0)])
def test_distributed_lr_scale_records_the_lr_that_ran(write, how, factor):
    text = POSE.replace("{train:", f"{{optim: {{lr: 0.01, lr_scale: {how}}}, train:") + "resources: {workers: 4}\n"
    spec = load_sweep(write("lr.yaml", text))
    assert spec.dist_params(spec.trials[0]) == {"dist.world_size": 4, "dist.global_batch": 32,
                                                "dist.lr": pytest.approx(0.01 * factor)}
    plain = load_sweep(write("lr0.yaml", POSE + "resources: {workers: 4}\n"))
    assert "dist.lr" not in plain.dist_params(plain.trials[0]) and plain.trials[0].key != spec.trials[0].key


@pytest.mark.parametrize("value, seconds", [("2h", 7200.0), ("90m", 5400.0), (45, 45.0), ("1.5", 1.5)])
def test_stop_timeout_takes_a_duration_as_its_example_says(write, value, seconds):
    assert load_sweep(write("t.yaml", f"trainer: toy\nstop: {{timeout: {value}}}\n")).stop.timeout_s == seconds


def test_stop_timeout_that_is_no_duration_is_refused(write):
    text = _error(write, "trainer: toy\nstop: {timeout: later}\n")
    assert "s.yaml:2: stop.timeout: expected a duration, got 'later'; e.g. timeout: 2h" in text
