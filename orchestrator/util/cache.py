"""Where orch keeps what it builds once and reuses: ``$ORCH_CACHE``, by default ``~/.cache/orch``
(synthetic datasets, the template of a new MLflow store). Stdlib only: trainers use it too."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    return Path(os.environ.get("ORCH_CACHE", Path.home() / ".cache" / "orch"))
