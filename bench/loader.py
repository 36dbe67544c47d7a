"""Loader throughput per worker: the training pipelines alone (decode, affine crop, flip, targets),
one process, no model, against reference code for the same operations in the same run.

    python bench/loader.py                 # about a minute on 2 cores
    python bench/loader.py --images 128 --rounds 5

Rows: the pose pipeline on MPII-sized JPEGs (1280x720, crops 256x256) and COCO-sized ones
(640x480, crops 256x192), each against a SimpleBaseline-style reference written for this bench
(cv2.imread, cv2.getAffineTransform + warpAffine, ToTensor + Normalize to float, Gaussian targets
in a 3-sigma window per joint); the seg (2048x1024 PNGs, 1024x1024 crops) and pose3d (224 crops)
pipelines alone. Rounds alternate orch and reference and the median is kept (the machine is
shared). The needed rate is worked out from the pose ResNet-50's FLOPs at 256x256 (torch's FLOP
counter) and an H100's bf16 dense peak at 40% MFU. Ends with the line
``loader: orch X img/s/worker, reference Y img/s/worker, R.RRx`` for the MPII row.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

H100_BF16_TFLOPS = 989.4  # dense, SXM
MFU = 0.40
CORES = 16


class Reference(torch.utils.data.Dataset):
    """SimpleBaseline's JointsDataset training item, rewritten for the bench: the same draws as
    orch (scale, rotation, flip) so both do the same work."""

    MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

    def __init__(self, people, input_hw, sigma, flip_pairs):
        self.people, self.input_hw, self.sigma, self.flip_pairs = people, input_hw, sigma, flip_pairs
        self.hm_hw = (input_hw[0] // 4, input_hw[1] // 4)

    def __len__(self) -> int:
        return len(self.people)

    def _affine(self, center, scale, rot):
        h, w = self.input_hw
        src_w = scale[0] * 200.0
        rad = np.pi * rot / 180
        direction = np.array([0, src_w * -0.5]) @ np.array([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]])
        src = np.zeros((3, 2), np.float32)
        dst = np.zeros((3, 2), np.float32)
        src[0], src[1] = center, center + direction
        dst[0], dst[1] = [w * 0.5, h * 0.5], np.array([w * 0.5, h * 0.5]) + [0, w * -0.5]
        src[2] = src[1] + np.array([-(src[0] - src[1])[1], (src[0] - src[1])[0]])
        dst[2] = dst[1] + np.array([-(dst[0] - dst[1])[1], (dst[0] - dst[1])[0]])
        return cv2.getAffineTransform(src, dst)

    def _targets(self, joints, vis):
        h, w = self.hm_hw
        target = np.zeros((len(joints), h, w), np.float32)
        weight = vis.astype(np.float32).copy()
        size = self.sigma * 3
        for j, (x, y) in enumerate(joints / 4):
            mu_x, mu_y = int(x + 0.5), int(y + 0.5)
            ul, br = [int(mu_x - size), int(mu_y - size)], [int(mu_x + size + 1), int(mu_y + size + 1)]
            if ul[0] >= w or ul[1] >= h or br[0] < 0 or br[1] < 0 or weight[j] <= 0:
                weight[j] = 0
                continue
            n = 2 * size + 1
            xs = np.arange(0, n, 1, np.float32)
            g = np.exp(-((xs - n // 2) ** 2 + (xs[:, None] - n // 2) ** 2) / (2 * self.sigma**2))
            gx, gy = (max(0, -ul[0]), min(br[0], w) - ul[0]), (max(0, -ul[1]), min(br[1], h) - ul[1])
            ix, iy = (max(0, ul[0]), min(br[0], w)), (max(0, ul[1]), min(br[1], h))
            target[j][iy[0]:iy[1], ix[0]:ix[1]] = g[gy[0]:gy[1], gx[0]:gx[1]]
        return target, weight

    def __getitem__(self, index: int):
        p = self.people[index]
        rng = random.Random(f"0/0/{index}")
        scale = p.scale * min(max(rng.gauss(1, 0.25), 0.75), 1.25)
        rot = min(max(rng.gauss(0, 30), -60), 60) if rng.random() < 0.6 else 0.0
        image = cv2.cvtColor(cv2.imread(str(p.image), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION),
                             cv2.COLOR_BGR2RGB)
        joints, vis, center = p.joints.copy(), p.vis.copy(), p.center.copy()
        if rng.random() < 0.5:
            image = image[:, ::-1]
            joints[:, 0] = image.shape[1] - joints[:, 0] - 1
            for a, b in self.flip_pairs:
                joints[[a, b]], vis[[a, b]] = joints[[b, a]], vis[[b, a]]
            center[0] = image.shape[1] - center[0] - 1
        m = self._affine(center, scale, rot)
        crop = cv2.warpAffine(np.ascontiguousarray(image), m, (self.input_hw[1], self.input_hw[0]),
                              flags=cv2.INTER_LINEAR)
        x = torch.from_numpy(((crop.astype(np.float32) / 255 - self.MEAN) / self.STD).transpose(2, 0, 1).copy())
        in_crop = joints @ m[:, :2].T + m[:, 2]
        target, weight = self._targets(in_crop, vis)
        return {"image": x, "target": torch.from_numpy(target), "weight": torch.from_numpy(weight)}


def _rate(ds, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return n / (time.perf_counter() - start)


def _pair(orch, ref, n: int, rounds: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(rounds):  # alternating: a slower moment of the machine hits both
        a.append(_rate(orch, n))
        if ref is not None:
            b.append(_rate(ref, n))
    return statistics.median(a), statistics.median(b) if b else float("nan")


def _pose(folder: Path, dataset: str, n: int):
    from trainers.pose.data import PoseDataset, flip_pairs, load_coco, load_mpii
    from trainers.pose.synth import synth_coco, synth_mpii

    if dataset == "mpii":
        root, hw = synth_mpii(folder / "mpii", n_train=n, n_val=2, size=(1280, 720)), (256, 256)
        people = load_mpii(root, "annot/train.json", "images")
    else:
        root, hw = synth_coco(folder / "coco", n_train=max(1, n // 2), n_val=2, size=(640, 480)), (256, 192)
        people, _ = load_coco(root, "annotations/person_keypoints_train.json", "images", aspect=hw[1] / hw[0])
    pairs = flip_pairs(dataset)
    return PoseDataset(people, hw, 2.0, True, pairs), Reference(people, hw, 2.0, pairs)


def _seg(folder: Path, n: int):
    from orchestrator.registry import build_config
    from trainers.seg.data import SegDataset
    from trainers.seg.synth import synth_cityscapes

    root = synth_cityscapes(folder / "cityscapes", n_train=n, n_val=1, size=(1024, 2048))
    cfg = build_config("seg", {"data.crop": [1024, 1024]})
    return SegDataset(root, "train", cfg.data, True)


def _pose3d(folder: Path, n: int):
    from trainers.pose3d.data import Pose3DDataset, load_people
    from trainers.pose3d.synth import synth_pose3d

    root = synth_pose3d(folder / "pose3d", n_train=n, n_val=1, size=320)
    return Pose3DDataset(load_people(root, "annot/train.json", "images"), 224, 1.2, True, 0.1, 0.05)


def needed_rate() -> tuple[float, float]:
    """(forward GFLOPs of the pose ResNet-50 at 256x256, images/s one H100 trains at MFU)."""
    from torch.utils.flop_counter import FlopCounterMode

    from trainers.pose.model import build_model

    model = build_model("resnet50", 16, [256, 256, 256]).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 256, 256))
    forward = counter.get_total_flops()
    return forward / 1e9, MFU * H100_BF16_TFLOPS * 1e12 / (3 * forward)  # backward ~ 2x forward


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=48, help="images per data set")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)  # a loader worker: one core
    folder = Path(tempfile.mkdtemp(prefix="orch-loader-"))
    print(f"writing the synthetic sets ({args.images} images each) ...", file=sys.stderr, flush=True)
    rows = []
    for name, (orch, ref) in (("pose MPII 1280x720 -> 256x256", _pose(folder, "mpii", args.images)),
                              ("pose COCO 640x480 -> 256x192", _pose(folder, "coco", args.images))):
        _rate(orch, 4), _rate(ref, 4)  # first touch: page cache, imports
        rows.append((name, *_pair(orch, ref, len(orch), args.rounds)))
    for name, make in (("seg 2048x1024 -> 1024x1024", _seg), ("pose3d 320x320 -> 224x224", _pose3d)):
        ds = make(folder, max(8, args.images // 4))
        _rate(ds, 2)
        rows.append((name, *_pair(ds, None, len(ds), args.rounds)))
    gflops, need = needed_rate()
    print(f"\n| pipeline (one worker, {torch.get_num_threads()} thread) | orch img/s | reference img/s | ratio |")
    print("|---|--:|--:|--:|")
    for name, a, b in rows:
        print(f"| {name} | {a:.0f} | {'-' if b != b else f'{b:.0f}'} | {'-' if b != b else f'{a / b:.2f}x'} |")
    mpii = rows[0]
    print(f"\nneeded: the pose ResNet-50 at 256x256 is {gflops:.1f} GFLOPs forward, so one H100 (bf16 "
          f"{H100_BF16_TFLOPS:g} TFLOPS dense, {MFU:.0%} MFU) trains {need:.0f} img/s: {need / CORES:.0f} "
          f"img/s per core on {CORES} cores; orch's MPII pipeline gives {mpii[1]:.0f} per core here, so "
          f"{CORES} such cores feed {CORES * mpii[1]:.0f} img/s ({CORES * mpii[1] / need:.0%} of it)")
    print(f"loader: orch {mpii[1]:.1f} img/s/worker, reference {mpii[2]:.1f} img/s/worker, {mpii[1] / mpii[2]:.2f}x")


if __name__ == "__main__":
    main()
