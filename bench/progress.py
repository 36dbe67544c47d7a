"""What the progress channel costs a training step: the pose training loop with report.progress
called after every batch (to a real board actor on a local Ray instance, as in a sweep) against
the same loop with no progress at all, interleaved in one process.

    python bench/progress.py [--rounds 4] [--batch 8] [--input 64]

Prints steps/s of both and their ratio (1.0 = free), the cost of one progress() call that is
throttled away and of one that is sent. A small model and batch make steps short, the case where
a per-step cost would show most.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from orchestrator.sweepfile.schema import Schema  # noqa: E402
from trainers._torch import StepMeter, TrainStep, place  # noqa: E402
from trainers.pose.config import Config  # noqa: E402
from trainers.pose.loop import run  # noqa: E402
from trainers.pose.loss import make_loss  # noqa: E402
from trainers.pose.model import build_model  # noqa: E402
from trainers.pose.train import _loader, _optimizer, build_data  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--images", type=int, default=320)
    args = p.parse_args()
    flat = {**Schema(Config).defaults(), "model.backbone": "resnet18", "model.deconv": [32, 32, 32],
            "data.input_size": [args.input, args.input], "data.workers": 0, "data.synth_train": args.images,
            "train.batch_size": args.batch, "train.log_every": 10**9, "train.out_dir": ""}
    cfg = Schema(Config).build(flat)
    import ray

    from orchestrator.run import start_ray
    from orchestrator.run.board import BoardReader, TrialProgress, start_board

    start_ray()
    board = start_board()
    progress = TrialProgress(board, "bench")
    torch.manual_seed(0)
    model, placement = place(build_model("resnet18", 16, [32, 32, 32]), cfg.train)
    optimizer = _optimizer(cfg, model)
    step = TrainStep(model, optimizer, torch.amp.GradScaler("cuda", enabled=False), placement, StepMeter())
    loss_fn = make_loss(cfg.loss)
    ds, _ = build_data(cfg, "train")
    loader = _loader(ds, cfg, placement.device, True, 0)
    steps = len(loader)
    run(cfg, step, loader, loss_fn, 1, lambda f: cfg.optim.lr)  # warm-up
    rates: dict[str, list[float]] = {"without": [], "with": []}
    for r in range(args.rounds):
        for name in (("without", "with") if r % 2 == 0 else ("with", "without")):
            t0 = time.perf_counter()
            run(cfg, step, loader, loss_fn, 2, lambda f: cfg.optim.lr, progress if name == "with" else None)
            rates[name].append(steps / (time.perf_counter() - t0))
    sent = progress.sent
    # one call that the throttle drops, and one that goes to the board
    calls = 200_000
    progress.due = time.monotonic() + 3600
    t0 = time.perf_counter()
    for i in range(calls):
        progress(i, calls, epoch=1, epochs=2, loss=0.1, images_per_s=50.0)
    dropped_us = (time.perf_counter() - t0) / calls * 1e6
    t0 = time.perf_counter()
    for i in range(200):
        progress.due = 0.0
        progress(i, 200, epoch=1, epochs=2, loss=torch.tensor(0.1), images_per_s=50.0)
    sent_us = (time.perf_counter() - t0) / 200 * 1e6
    positions = BoardReader(board)
    positions.poll()
    time.sleep(0.6)
    assert "bench" in positions.poll(), "the board did not receive the positions"
    ray.shutdown()
    without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
    print(f"progress channel: resnet18 {args.input}x{args.input}, batch {args.batch}, {steps} steps an epoch, "
          f"{args.rounds} rounds, {torch.get_num_threads()} threads")
    print("| loop | steps/s (median) | ratio |")
    print("|---|--:|--:|")
    print(f"| no progress | {without:.2f} | 1.000 |")
    print(f"| progress after every batch | {with_:.2f} | {with_ / without:.3f} |")
    print(f"\n{sent} positions sent during the timed epochs; a call the throttle drops costs {dropped_us:.2f} us, "
          f"one that is sent {sent_us:.0f} us (once a second at most: {sent_us / 1e4:.3f}% of a second)")


if __name__ == "__main__":
    main()
