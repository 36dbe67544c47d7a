"""Segmentation training throughput: the real pipeline (PNG decode, label mapping, random scale,
crop, flip, colour jitter, DataLoader workers) against the same model fed one in-memory batch,
in one process.

    python bench/seg_throughput.py                        # CPU: ResNet-18 BiSeNet, 128x128 crops
    python bench/seg_throughput.py --device cuda --crop 1024 --batch 16 --amp bf16 \
        --workers 12 --size 1024x2048 --steps 40         # the Cityscapes GPU setting

Prints images/s of both, their ratio (1.0 = the loader costs nothing), the fraction of step time
spent waiting for data and, on CUDA, peak memory. Data: the synthetic Cityscapes-format set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench._timing import images_per_s  # noqa: E402
from orchestrator.sweepfile.schema import Schema  # noqa: E402
from trainers._torch import StepMeter, TrainStep, place  # noqa: E402
from trainers.seg.config import Config  # noqa: E402
from trainers.seg.data import SegDataset, dataset_root  # noqa: E402
from trainers.seg.loss import make_loss  # noqa: E402
from trainers.seg.model import build_model  # noqa: E402
from trainers.seg.train import build_optimizer, train  # noqa: E402


def config(args, max_iter: int, eval_every: int) -> Config:
    h, w = (int(v) for v in args.size.split("x"))
    flat = {**Schema(Config).defaults(),
            "model.backbone": args.backbone, "data.crop": [args.crop, args.crop], "data.workers": args.workers,
            "data.synth_size": [h, w], "data.synth_train": args.images, "data.synth_val": 1, "data.max_val": 1,
            "train.batch_size": args.batch, "train.device": args.device, "train.amp": args.amp,
            "train.channels_last": args.channels_last, "train.max_iter": max_iter,
            "train.eval_every": eval_every, "train.log_every": 10**9, "train.out_dir": "",
            "optim.warmup_iters": 0, "loss.name": args.loss}
    return Schema(Config).build(flat)


def compute_only(cfg: Config, device, steps: int) -> float:
    """Images/s of forward + backward + step on one batch already on the device."""
    torch.manual_seed(0)
    model, placement = place(build_model(cfg), cfg.train)
    optimizer, loss_fn = build_optimizer(cfg, model), make_loss(cfg.loss, cfg.model.aux_weight)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.train.amp == "fp16")
    step = TrainStep(model, optimizer, scaler, placement, StepMeter())
    ds = SegDataset(dataset_root(cfg.data), "train", cfg.data, True)
    items = [ds[(i % len(ds), i)] for i in range(cfg.train.batch_size)]
    x = torch.stack([it["image"] for it in items]).to(device)
    y = torch.stack([it["label"] for it in items]).to(device)
    return images_per_s(step, x, lambda out: loss_fn(out, y), steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", default="256x512", help="synthetic image size HxW")
    p.add_argument("--steps", type=int, default=12, help="timed steps of each measurement")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"))
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--loss", default="ohem", choices=("ce", "ohem"))
    args = p.parse_args()
    args.images = max(args.batch * args.steps, 16)
    device = torch.device(args.device)
    warm = max(3, args.steps // 4)
    cfg = config(args, warm + args.steps, warm)
    baseline = compute_only(cfg, device, args.steps)  # also builds the synthetic set on first use
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    reports = []
    train(cfg, lambda metrics, step: reports.append(metrics))  # report 1: warm-up, report 2: timed
    timed = reports[-1]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU x{torch.get_num_threads()} threads"
    print(f"seg throughput: BiSeNet {args.backbone} crop {args.crop}x{args.crop} batch {args.batch} on {name}, "
          f"amp {args.amp}, channels_last {args.channels_last and device.type == 'cuda'}, "
          f"{args.workers} workers, {args.steps} timed steps after {warm}, images {args.size}")
    print(f"  compute only (one batch in memory): {baseline:8.1f} img/s")
    print(f"  full pipeline (loader + training):  {timed['time/images_per_s']:8.1f} img/s  "
          f"ratio {timed['time/images_per_s'] / baseline:.2f}")
    print(f"  data-wait fraction:                 {timed['time/data_wait']:8.3f}")
    if device.type == "cuda":
        print(f"  peak memory: {timed['time/peak_memory_gb']:.1f} GiB")


if __name__ == "__main__":
    main()
