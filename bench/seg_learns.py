"""Does the seg trainer learn? BiSeNet (ResNet-18) trained from scratch on the synthetic
Cityscapes-format set on CPU, reporting single-scale mIoU at every evaluation against the wall
clock, and multi-scale + flip at the end.

    python bench/seg_learns.py [--iters 150] [--every 50] [--set KEY=VALUE ...]

Baselines in the same process: the untrained network, and the best constant answer (every pixel
the most frequent class of the validation labels), which is what "chance level" means for mIoU.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.sweepfile._yaml import parse_scalar  # noqa: E402
from orchestrator.sweepfile.schema import Schema  # noqa: E402
from trainers.seg.config import Config  # noqa: E402

SETTING = {"data.crop": [128, 128], "data.scale": [0.5, 1.0], "data.workers": 1, "train.batch_size": 8,
           "train.out_dir": "", "train.log_every": 25, "optim.warmup_iters": 20, "eval.scale": 0.5,
           "eval.batch_size": 8, "eval.final_modes": ["ms_flip"], "eval.scales": [0.375, 0.5, 0.75]}


def constant_baseline(val) -> float:
    """mIoU of predicting the most frequent validation class everywhere."""
    import torch

    from trainers.seg.metrics import confusion_matrix, miou

    labels = [val[i]["label"] for i in range(len(val))]
    counts = torch.bincount(torch.cat([lab.flatten() for lab in labels]), minlength=256)[:19]
    conf = sum(confusion_matrix(torch.full_like(lab, int(counts.argmax())), lab, 19) for lab in labels)
    return miou(conf)[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=150)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    flat = {**Schema(Config).defaults(), **SETTING, "train.max_iter": args.iters, "train.eval_every": args.every}
    for item in args.set:
        key, _, text = item.partition("=")
        flat[key] = parse_scalar(text)
    cfg = Schema(Config).build(flat)

    import torch

    from trainers.seg.evaluate import evaluate
    from trainers.seg.model import build_model
    from trainers.seg.train import _loaders, train

    _, loader = _loaders(cfg, torch.device("cpu"), 0)  # the validation loader training will use
    val = loader.dataset
    torch.manual_seed(0)
    untrained = evaluate(build_model(cfg), loader, torch.device("cpu"), contextlib.nullcontext, cfg, ["ss"])
    constant = constant_baseline(val)
    rows = []
    start = time.perf_counter()

    def report(metrics, step):
        rows.append((step, time.perf_counter() - start, metrics))
        print(f"iteration {step}: mIoU {metrics['val/mIoU']:.1f}  {metrics['time/images_per_s']:.1f} img/s  "
              f"data wait {metrics['time/data_wait']:.3f}", flush=True)

    train(cfg, report)
    print(f"\nseg learns: BiSeNet resnet18, crop {cfg.data.crop}, loss {cfg.loss.name}, {len(val)} val images "
          f"at scale {cfg.eval.scale}, {torch.get_num_threads()} CPU threads")
    print(f"untrained: {untrained['val/mIoU']:.1f} mIoU; most frequent class everywhere: {constant:.1f} mIoU")
    print("| iteration | wall (min) | mIoU | road | building | sky | car | person |")
    print("|---|---|---|---|---|---|---|---|")
    for step, wall, m in rows:
        cls = " | ".join(f"{m.get(f'val/iou/{c}', float('nan')):.1f}" for c in ("road", "building", "sky", "car", "person"))
        print(f"| {step} | {wall / 60:.1f} | {m['val/mIoU']:.1f} | {cls} |")
    final = rows[-1][2]
    if "val/mIoU_ms_flip" in final:
        print(f"multi-scale {list(cfg.eval.scales)} + flip at the end: {final['val/mIoU_ms_flip']:.1f} mIoU "
              f"(single scale {final['val/mIoU']:.1f})")


if __name__ == "__main__":
    main()
