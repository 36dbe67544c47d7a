"""``command``: run an existing training script per trial and harvest the metrics it prints.

The sweep gives the argv with ``{placeholders}`` filled from each trial's config (any key is
allowed: the script decides what it takes), ``{gpus}`` expands to ``0,...,k-1`` for the GPUs
Ray assigned (also passed as ``CUDA_VISIBLE_DEVICES``), ``{nproc}`` to their number and
``{master_port}`` to a free port (for ``torchrun --nproc_per_node {nproc} --master_port
{master_port}``), and ``metrics:`` says how to read the
output: markdown or LaTeX tables, ``key=value`` lines, JSON lines, regexes, or calls to
``orchestrator.report()`` from the script.
"""

from orchestrator.trainer import Trainer
from trainers.command.config import Config

TRAINER = Trainer(
    config=Config,
    train="trainers.command.train:train",
    metric="val/Mean",
    mode="max",
    description="Run an existing script per trial (argv template, never a shell) and harvest "
                "the metrics it prints.",
    placeholders=("gpus", "nproc", "master_port"),
    check="trainers.command.parsers:check_config",
    smoke={"command": ["python", "-c", "print('| Arch | Mean |'); print('| x | 1.5 |')"]},
)

__all__ = ["TRAINER", "Config"]
