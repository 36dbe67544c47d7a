"""train.compile on CPU: a compiled training step computes the eager step's losses (within float
tolerance), and its compile time is reported apart from the step figures."""

from __future__ import annotations

import contextlib
import shutil

import pytest
import torch

from trainers._torch import Placement, StepMeter, TrainStep

pytestmark = [pytest.mark.slow,  # inductor compiles C++ on first use: tens of seconds
              pytest.mark.skipif(shutil.which("g++") is None, reason="TorchInductor needs a C++ compiler (g++)")]


def _losses(mode) -> tuple[list[float], StepMeter]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    meter = StepMeter()
    step = TrainStep(net, opt, torch.amp.GradScaler("cuda", enabled=False),
                     Placement(torch.device("cpu"), contextlib.nullcontext, False, mode), meter)
    g = torch.Generator().manual_seed(1)
    xs = [torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=g) for _ in range(4)]
    target = torch.tensor([0, 1, 0, 1])
    return [float(step(x, lambda out: torch.nn.functional.cross_entropy(out, target))) for x in xs], meter


def test_a_compiled_step_trains_as_the_eager_one_and_reports_its_compile_time():
    eager, plain = _losses(False)
    compiled, meter = _losses("default")
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-5)
    assert "time/compile_s" not in plain.stats(torch.device("cpu"))
    stats = meter.stats(torch.device("cpu"))
    assert stats["time/compile_s"] > 0 and meter.images == 3 * 4  # the compiling step is not a step figure


def test_the_pose_trainer_compiles_on_request():
    from orchestrator.registry import build_config, get_trainer

    reports: dict[int, dict] = {}
    flat = {"model.backbone": "resnet18", "model.deconv": [16, 16, 16], "data.root": "synthetic",
            "data.input_size": [32, 32], "data.synth_train": 16, "data.synth_val": 8, "data.workers": 0,
            "train.epochs": 1, "train.batch_size": 8, "train.out_dir": "", "train.compile": "default"}
    get_trainer("pose").load_train()(build_config("pose", flat), lambda m, step: reports.setdefault(step, dict(m)))
    assert reports[1]["time/compile_s"] > 0 and reports[1]["train/loss"] > 0
