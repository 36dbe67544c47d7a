"""Data-parallel scaling of the pose trainer: its real training loop (loader, DDP, reduced epoch
figures) on 1 worker and on N workers, in one run, with the batch per worker fixed (the
SimpleBaseline convention orch follows: ``train.batch_size`` is per worker).

    python bench/ddp.py                              # CPU: 1 vs 2 gloo workers, one core each
    python bench/ddp.py --gpus 4 --backbone resnet50 --input 256 --batch 32 --amp bf16 --loader-workers 8

Prints the group's training images/s with 1 and N workers and the scaling efficiency
(images/s with N / (N x images/s with 1); 1.0 = perfect). Each worker runs two epochs of the
synthetic MPII-format set, the first a warm-up; the second is measured. No Ray: the workers are
spawned processes in a process group, as torchrun would start them (run.distributed's Ray Train
workers run the same loop).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _worker(flat: dict) -> dict:
    """One rank: the pose trainer's train() for two epochs; the group's figures of the second."""
    import torch

    from orchestrator.sweepfile.schema import Schema
    from trainers.pose.config import Config
    from trainers.pose.train import train

    epochs: dict[int, dict] = {}
    train(Schema(Config).build(flat), lambda metrics, step: epochs.setdefault(step, dict(metrics)))
    figures = epochs[2]
    device = (torch.cuda.get_device_name() if torch.cuda.is_available() and flat["train.device"] != "cpu"
              else f"CPU, {torch.get_num_threads()} thread(s) per worker")
    return {"images_per_s": figures["time/images_per_s"], "data_wait": figures["time/data_wait"],
            "epoch_s": figures["time/epoch_s"], "device": device}


def _config(args, world: int) -> dict:
    from orchestrator.sweepfile.schema import Schema
    from trainers.pose.config import Config

    flat = Schema(Config).defaults()
    flat.update({"model.backbone": args.backbone, "data.input_size": [args.input, args.input],
                 "data.workers": args.loader_workers,
                 "data.synth_train": args.batch * args.steps * world, "data.synth_val": 16,
                 "train.batch_size": args.batch, "train.epochs": 2, "train.eval_every": 2,
                 "train.device": "cuda" if args.gpus else "cpu", "train.amp": args.amp,
                 "train.log_every": 10**9, "train.out_dir": "", "optim.warmup_epochs": 0})
    return flat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", type=int, default=0, help="GPUs (NCCL, one per worker); 0 = CPU gloo workers")
    p.add_argument("--workers", type=int, default=2, help="workers of the scaled run on CPU (--gpus sets it on GPUs)")
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--batch", type=int, default=16, help="images per worker per step")
    p.add_argument("--steps", type=int, default=10, help="steps per worker in the measured epoch")
    p.add_argument("--loader-workers", type=int, default=0, help="DataLoader processes per worker")
    p.add_argument("--threads", type=int, default=1, help="torch threads per CPU worker")
    p.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"))
    args = p.parse_args()

    from trainers.pose.synth import synthetic_dataset
    from trainers._spawn import run_ranks

    world = args.gpus or args.workers
    backend = "nccl" if args.gpus else "gloo"
    results = {}
    for n in (1, world):
        flat = _config(args, n)
        synthetic_dataset("mpii", flat["data.synth_train"], flat["data.synth_val"])  # built once, not by each rank
        results[n] = run_ranks(_worker, n, flat, timeout=1800, backend=backend, threads=args.threads)[0]
    one, many = results[1], results[world]
    efficiency = many["images_per_s"] / (world * one["images_per_s"])
    print(f"pose data-parallel scaling: {args.backbone} {args.input}x{args.input}, batch {args.batch} per worker, "
          f"{args.steps} steps per worker, {args.loader_workers} loader processes per worker, amp {args.amp}, "
          f"{backend} on {one['device']}")
    for n, r in sorted(results.items()):
        print(f"  {n} worker{'s' if n > 1 else ' '}: {r['images_per_s']:8.1f} img/s  (epoch {r['epoch_s']:.1f} s, "
              f"data wait {r['data_wait']:.2f})")
    print(f"  speed-up {many['images_per_s'] / one['images_per_s']:.2f}x on {world} workers; "
          f"scaling efficiency {efficiency:.2f}")


if __name__ == "__main__":
    main()
