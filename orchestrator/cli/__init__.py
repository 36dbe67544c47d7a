"""The ``orch`` command line: thin Typer commands, each calling one library function.

``common`` holds the app and what the commands share, ``launch`` the commands that run sweeps
(sweep, validate, train, data, trainers), ``read`` those that read the store (runs, status, table,
plot, report, diff, clean, ui), ``console`` what they print. Heavy modules (ray, mlflow, the spec
loader) are imported inside the commands so that ``orch --help`` answers at once.
"""

from orchestrator.cli import launch, read  # noqa: F401 - each registers its commands on app
from orchestrator.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app(prog_name="orch")
