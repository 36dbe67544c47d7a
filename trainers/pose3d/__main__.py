"""``python -m trainers.pose3d --set KEY=VALUE ...``: the same as ``orch train pose3d``."""

import sys

from orchestrator.cli import app

if __name__ == "__main__":
    app(["train", "pose3d", *sys.argv[1:]], prog_name="python -m trainers.pose3d")
