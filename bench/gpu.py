"""One GPU, measured in minutes: what orch's trainers get out of it, as they are shipped.

    python bench/gpu.py                 # on a GPU box: under 8 minutes on one H100
    python bench/gpu.py --smoke         # tiny sizes on CPU: checks the script runs (CI does)
    python bench/gpu.py --json gpu.json --trainers pose,seg

For pose (SimpleBaseline ResNet-50 at 256x256, batch 32), seg (BiSeNet V1 on 1024x1024 crops,
batch 8) and pose3d (ResNet-50 at 224x224, batch 64):

- training images/s of the trainers' own step (trainers._torch.TrainStep: forward, loss, backward,
  optimiser) on a batch already on the device, in fp32 eager, bf16 + channels_last eager, and bf16 +
  channels_last through torch.compile (its compile time apart); peak memory of each;
- MFU: images/s x 3 x the forward FLOPs (torch's FLOP counter; backward ~ 2x forward) over the
  device's dense bf16 peak (known cards only);
- the trainer's real training loop for one short epoch with its shipped loader settings (its
  default data.workers, synthetic data at the shipped input size): images/s end to end and the
  share of step time spent waiting for data;
- with more than one GPU, the data-parallel scaling of the pose trainer (bench/ddp.py, NCCL).

Needs torch and torchvision only (no Ray, no MLflow: the GPU image may have neither). Prints one
table and writes every figure to --json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from trainers._torch import Placement, StepMeter, TrainStep, autocast_for  # noqa: E402

PEAK_BF16_TFLOPS = {"H100 SXM": 989.4, "H100 NVL": 835.5, "H100 PCIe": 756.5, "H100": 989.4, "H200": 989.4,
                    "GH200": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.2}
FULL = {"pose": {"backbone": "resnet50", "input": 256, "batch": 32, "steps": 30},
        "seg": {"backbone": "resnet18", "input": 1024, "batch": 8, "steps": 20},
        "pose3d": {"backbone": "resnet50", "input": 224, "batch": 64, "steps": 30}}
SMOKE = {"pose": {"backbone": "resnet18", "input": 64, "batch": 2, "steps": 2},
         "seg": {"backbone": "resnet18", "input": 64, "batch": 2, "steps": 2},
         "pose3d": {"backbone": "resnet18", "input": 64, "batch": 2, "steps": 2}}
MODES = (("fp32 eager", "off", False, False), ("bf16 + channels_last", "bf16", True, False),
         ("bf16 + channels_last, compiled", "bf16", True, "default"))


def _config(trainer: str, size: dict, smoke: bool):
    """The trainer's config at the bench's size (its defaults otherwise: the shipped settings)."""
    from orchestrator.sweepfile.schema import Schema

    module = __import__(f"trainers.{trainer}.config", fromlist=["Config"])
    flat = Schema(module.Config).defaults()
    n = size["batch"] * (size["steps"] + 2)
    common = {"train.out_dir": "", "train.log_every": 10**9, "data.root": "synthetic"}
    if trainer == "pose":
        flat.update({"model.backbone": size["backbone"], "data.input_size": [size["input"]] * 2,
                     "data.synth_train": n, "data.synth_val": size["batch"], "train.epochs": 1,
                     "train.batch_size": size["batch"], "optim.warmup_epochs": 0})
    elif trainer == "seg":
        flat.update({"model.backbone": size["backbone"], "data.crop": [size["input"]] * 2,
                     "data.synth_size": [size["input"], size["input"] * 2], "data.synth_train": n // 2 + 1,
                     "data.synth_val": 1, "train.batch_size": size["batch"], "train.max_iter": size["steps"],
                     "train.eval_every": 10**6, "optim.warmup_iters": 0})
    else:
        flat.update({"model.backbone": size["backbone"], "data.input_size": size["input"],
                     "data.synth_train": n, "data.synth_val": size["batch"], "train.epochs": 1,
                     "train.batch_size": size["batch"]})
    flat.update(common)
    if smoke:
        flat.update({"data.workers": 0})
    return Schema(module.Config).build({k: v for k, v in flat.items() if k in Schema(module.Config).params})


def _model(trainer: str, cfg):
    if trainer == "pose":
        from trainers.pose.model import build_model

        return build_model(cfg.model.backbone, 16, list(cfg.model.deconv))
    if trainer == "seg":
        from trainers.seg.model import build_model

        return build_model(cfg)
    from trainers.pose3d.model import build_model

    return build_model(cfg.model, cfg.loss.w2d > 0)


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    values = out.values() if isinstance(out, dict) else out
    return [t for v in values for t in _tensors(v)]


def _loss(out) -> torch.Tensor:  # the step's backward runs through every output the model trains
    return sum(t.float().pow(2).mean() for t in _tensors(out))


def forward_gflops(model, shape) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():  # two images: training-mode BatchNorm
        model(torch.zeros(2, *shape, device=next(model.parameters()).device))  # on a 1x1 map needs more than one
    return counter.get_total_flops() / 2 / 1e9


def step_rate(trainer: str, cfg, size: dict, device, mode) -> dict:
    """Images/s, peak memory and compile time of the training step in one mode."""
    label, amp, channels_last, compile_mode = mode
    model = _model(trainer, cfg).to(device).train()
    if channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    cl = channels_last and device.type == "cuda"
    placement = Placement(device, autocast_for(device, amp), cl, compile_mode)
    meter = StepMeter()
    step = TrainStep(model, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9),
                     torch.amp.GradScaler("cuda", enabled=False), placement, meter)
    x = torch.randint(0, 256, (size["batch"], 3, size["input"], size["input"]), dtype=torch.uint8, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(3):  # warm-up (and the compile, timed by the step itself)
        step(x, _loss)
    _sync(device)
    start = time.perf_counter()
    for _ in range(size["steps"]):
        step(x, _loss)
    _sync(device)
    rate = size["steps"] * size["batch"] / (time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"mode": label, "images_per_s": rate, "peak_memory_gb": peak, "compile_s": meter.compile_s or None}


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loop_rate(trainer: str, cfg) -> dict:
    """The trainer's own training loop for one short epoch: images/s end to end and data wait."""
    module = __import__(f"trainers.{trainer}.train", fromlist=["train"])
    reports: list[dict] = []
    module.train(cfg, lambda metrics, step: reports.append(dict(metrics)))
    last = next(r for r in reversed(reports) if "time/images_per_s" in r)
    return {"images_per_s": last["time/images_per_s"], "data_wait": last.get("time/data_wait"),
            "loader_workers": cfg.data.workers}


def peak_tflops(device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def scaling(gpus: int) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ddp.py"), "--gpus", str(gpus), "--backbone",
                          "resnet50", "--input", "256", "--batch", "32", "--amp", "bf16", "--loader-workers", "8"],
                         capture_output=True, text=True, timeout=600)
    lines = [line.strip() for line in out.stdout.splitlines() if "speed-up" in line]
    return lines[-1] if lines else f"bench/ddp.py failed: {out.stderr.strip()[-300:]}"


def run(trainers: list[str], smoke: bool) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() and not smoke else "cpu")
    sizes = SMOKE if smoke else FULL
    peak = peak_tflops(device)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU",
              "torch": torch.__version__, "smoke": smoke, "peak_bf16_tflops": peak, "trainers": {}}
    for trainer in trainers:
        size = sizes[trainer]
        cfg = _config(trainer, size, smoke)
        model = _model(trainer, cfg).to(device).train()
        gflops = forward_gflops(model, (3, size["input"], size["input"]))
        del model
        rows = []
        for mode in MODES:
            print(f"  {trainer}: {mode[0]} ...", file=sys.stderr, flush=True)
            try:
                row = step_rate(trainer, cfg, size, device, mode)
            except Exception as exc:  # noqa: BLE001 - a mode that fails (a compiler missing) is a row that says so
                rows.append({"mode": mode[0], "images_per_s": None, "peak_memory_gb": None, "compile_s": None,
                             "mfu": None, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"})
                continue
            row["mfu"] = row["images_per_s"] * 3 * gflops * 1e9 / (peak * 1e12) if peak else None
            rows.append(row)
        print(f"  {trainer}: its training loop with its loader ...", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):
            loop = loop_rate(trainer, cfg)
        result["trainers"][trainer] = {**size, "forward_gflops": gflops, "steps": rows, "loop": loop}
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    result["scaling"] = scaling(gpus) if gpus > 1 else None
    return result


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(result: dict) -> str:
    lines = [f"GPU bench on {result['device']} (torch {result['torch']}{', smoke sizes' if result['smoke'] else ''})",
             "", "| trainer | size | mode | img/s | peak GB | MFU | compile s |", "|---|---|---|--:|--:|--:|--:|"]
    for name, t in result["trainers"].items():
        size = f"{t['backbone']} {t['input']}px, batch {t['batch']}, {t['forward_gflops']:.1f} GFLOPs"
        for row in t["steps"]:
            rate = f"failed: {row['error']}" if row.get("error") else f"{row['images_per_s']:.1f}"
            lines.append(f"| {name} | {size} | {row['mode']} | {rate} | "
                         f"{_cell(row['peak_memory_gb'], '.1f')} | {_cell(row['mfu'], '.0%')} | "
                         f"{_cell(row['compile_s'], '.0f')} |")
    lines += ["", "| trainer | training loop img/s | data wait | loader workers |", "|---|--:|--:|--:|"]
    for name, t in result["trainers"].items():
        loop = t["loop"]
        lines.append(f"| {name} | {loop['images_per_s']:.1f} | {_cell(loop['data_wait'], '.0%')} | "
                     f"{loop['loader_workers']} |")
    if result.get("scaling"):
        lines += ["", f"data-parallel pose ResNet-50: {result['scaling']}"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks the script runs")
    p.add_argument("--trainers", default="pose,seg,pose3d")
    p.add_argument("--json", default=None, help="where the figures go (default: a temp file, named at the end)")
    args = p.parse_args()
    started = time.monotonic()
    result = run(args.trainers.split(","), args.smoke)
    result["wall_s"] = time.monotonic() - started
    print(table(result))
    path = Path(args.json) if args.json else Path(tempfile.mkdtemp(prefix="orch-gpu-")) / "gpu_bench.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\n{result['wall_s'] / 60:.1f} min; figures in {path}")


if __name__ == "__main__":
    main()
