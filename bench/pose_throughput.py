"""Pose training throughput: the real pipeline (JPEG decode, affine crop, augmentation, targets,
DataLoader workers) against the same model fed one in-memory batch, in one process.

    python bench/pose_throughput.py                       # CPU: resnet18 128x128, batch 32
    python bench/pose_throughput.py --device cuda --backbone resnet50 --input 256 --batch 64 \
        --amp bf16 --workers 12 --steps 60               # the SimpleBaseline GPU setting

Prints images/s of both, their ratio (1.0 = the loader costs nothing) and the fraction of step
time the training loop spent waiting for data. Data: the synthetic MPII-format set.
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
from trainers.pose.config import Config  # noqa: E402
from trainers.pose.loop import run  # noqa: E402
from trainers.pose.loss import make_loss  # noqa: E402
from trainers.pose.model import build_model  # noqa: E402
from trainers.pose.train import _loader, _optimizer, build_data  # noqa: E402


def config(args) -> Config:
    flat = Schema(Config).defaults()
    flat.update({"model.backbone": args.backbone, "data.input_size": [args.input, args.input],
                 "data.workers": args.workers, "data.synth_train": args.images, "train.batch_size": args.batch,
                 "train.device": args.device, "train.amp": args.amp, "train.channels_last": args.channels_last,
                 "train.log_every": 10**9, "train.out_dir": "", "loss.name": args.loss})
    return Schema(Config).build(flat)


def compute_only(step: TrainStep, loss_fn, batch: dict, steps: int) -> float:
    """Images/s of forward + backward + step on one batch already on the device."""
    return images_per_s(step, batch["image"], lambda out: loss_fn(out.float(), batch), steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=12, help="timed steps of each measurement")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"))
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--loss", default="mse", choices=("mse", "msssm"))
    args = p.parse_args()
    args.images = args.batch * args.steps
    cfg = config(args)
    torch.manual_seed(0)
    model, placement = place(build_model(args.backbone, 16, [256, 256, 256]), cfg.train)
    device = placement.device
    optimizer = _optimizer(cfg, model)
    loss_fn = make_loss(cfg.loss)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and args.amp == "fp16")
    step = TrainStep(model, optimizer, scaler, placement, StepMeter())
    ds, _ = build_data(cfg, "train")  # builds the synthetic set on first use
    ds.set_epoch(0, 1)
    batch = next(iter(_loader(ds, cfg, device, True, 0)))
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    baseline = compute_only(step, loss_fn, batch, args.steps)
    run(cfg, step, _loader(ds, cfg, device, True, 1), loss_fn, 1, lambda f: cfg.optim.lr)  # warm-up epoch
    ds.set_epoch(0, 2)
    stats = run(cfg, step, _loader(ds, cfg, device, True, 2), loss_fn, 2, lambda f: cfg.optim.lr)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU x{torch.get_num_threads()} threads"
    print(f"pose throughput: {args.backbone} {args.input}x{args.input} batch {args.batch} on {name}, "
          f"amp {args.amp}, channels_last {args.channels_last and device.type == 'cuda'}, "
          f"{args.workers} workers, {args.steps} steps")
    print(f"  compute only (one batch in memory): {baseline:8.1f} img/s")
    print(f"  full pipeline (loader + training):  {stats['time/images_per_s']:8.1f} img/s  "
          f"ratio {stats['time/images_per_s'] / baseline:.2f}")
    print(f"  data-wait fraction:                 {stats['time/data_wait']:8.3f}")
    if device.type == "cuda":
        print(f"  peak memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
