"""``python -m orchestrator.cli``: the ``orch`` command (importing this module runs nothing)."""

import sys

from orchestrator.cli import main

if __name__ == "__main__":
    sys.exit(main())
