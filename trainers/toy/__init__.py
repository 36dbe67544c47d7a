"""``toy``: a trainer with no torch, for tests and demos.

Its metrics are a smooth deterministic function of the parameters and the seed,
shaped like the notes' MPII results, and its loss goes NaN for ``t > 14`` as the
notes' msssm runs did, so sweeps, NaN guards and tables can be exercised in seconds.
"""

from orchestrator.trainer import Trainer
from trainers.toy.config import Config

TRAINER = Trainer(
    config=Config,
    train="trainers.toy.train:train",
    metric="val/Mean",
    mode="max",
    description="Synthetic MPII-style metrics from the msssm parameters; no torch, seconds per sweep.",
)

__all__ = ["TRAINER", "Config"]
