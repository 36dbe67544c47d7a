"""``python -m trainers.pose --set KEY=VALUE ...``: the same as ``orch train pose``."""

import sys

from orchestrator.cli import app

if __name__ == "__main__":
    app(["train", "pose", *sys.argv[1:]], prog_name="python -m trainers.pose")
