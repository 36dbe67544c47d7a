"""``python -m orchestrator.cli``: the ``orch`` command."""

import sys

from orchestrator.cli import main

sys.exit(main())
