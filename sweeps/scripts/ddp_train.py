"""A user's own data-parallel training script, as torchrun starts it: one process per GPU (NCCL),
or gloo processes on CPU. orch's command trainer launches it per trial with
``torchrun --nproc_per_node {nproc} --master_port {master_port}`` (see
sweeps/external_torchrun.yaml) and reads the JSON line rank 0 prints after every epoch.

    torchrun --nproc_per_node 2 sweeps/scripts/ddp_train.py --lr 0.05 --epochs 3

The task is small on purpose: a two-layer network separating two noisy spirals, so a sweep
over the learning rate shows a difference in a few seconds on CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def spirals(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    sign = 1 - 2 * label.float()
    xy = torch.stack([t.cos() * t * sign, t.sin() * t * sign], 1) / (3 * math.pi)
    return TensorDataset(xy + 0.03 * torch.randn(n, 2, generator=g), label)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64, help="per process")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")  # torchrun set RANK, WORLD_SIZE, MASTER_*
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, args.width), torch.nn.ReLU(),
                                torch.nn.Linear(args.width, args.width), torch.nn.ReLU(),
                                torch.nn.Linear(args.width, 2)).to(device)
    model = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train, val = spirals(4096, args.seed), spirals(1024, args.seed + 1)
    sampler = DistributedSampler(train, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch, sampler=sampler)
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        total = torch.zeros(2, device=device)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += torch.stack([loss.detach() * len(y), torch.tensor(float(len(y)), device=device)])
        dist.all_reduce(total)
        model.eval()
        with torch.no_grad():
            x, y = val.tensors
            accuracy = (model(x.to(device)).argmax(1).cpu() == y).float().mean().item() * 100
        if rank == 0:
            print(json.dumps({"epoch": epoch, "train/loss": round((total[0] / total[1]).item(), 5),
                              "val/accuracy": round(accuracy, 2), "dist/world_size": world}), flush=True)
    dist.barrier()  # every rank done before the group goes: gloo aborts a rank whose peer left mid-call
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
