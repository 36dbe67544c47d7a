"""``python -m trainers.seg --set KEY=VALUE ...``: the same as ``orch train seg``."""

import sys

from orchestrator.cli import app

if __name__ == "__main__":
    app(["train", "seg", *sys.argv[1:]], prog_name="python -m trainers.seg")
