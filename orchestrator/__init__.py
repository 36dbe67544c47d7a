"""orch: experiment sweeps on Ray Tune, tracked in MLflow, tabulated for papers.

This module stays import-light (stdlib only) so that trainers can import the
contract types from :mod:`orchestrator.trainer` on a GPU box that has only torch,
and so that ``orch --help`` answers at once.
"""

import json
import os

from orchestrator.util.version import __version__

__all__ = ["__version__", "report", "trials_dataframe", "table_dataframe"]


def trials_dataframe(sweep: "str | None" = None, tracking_uri: "str | None" = None):
    """One row per trial of a sweep as a pandas DataFrame (see :mod:`orchestrator.analysis.frames`)."""
    from orchestrator.analysis.frames import trials_dataframe as frame

    return frame(sweep, tracking_uri)


def table_dataframe(sweep: "str | None" = None, metrics=(), **options):
    """The rows `orch table` prints, as a pandas DataFrame of numbers (see :mod:`orchestrator.analysis.frames`)."""
    from orchestrator.analysis.frames import table_dataframe as frame

    return frame(sweep, metrics, **options)


def report(metrics: "dict[str, float] | None" = None, *, step: "int | None" = None, **more: float) -> None:
    """Report metrics from a script that the ``command`` trainer runs::

        import orchestrator
        orchestrator.report(step=epoch, loss=loss, **{"val/Mean": pckh_mean})

    Outside orch (``ORCH_REPORT_FILE`` unset) it does nothing, so scripts keep working alone.
    """
    path = os.environ.get("ORCH_REPORT_FILE")
    if not path:
        return
    values = {str(k): float(v) for k, v in {**(metrics or {}), **more}.items()}
    with open(path, "a", encoding="utf-8") as handle:  # one short append per call: atomic
        handle.write(json.dumps({"step": step, "metrics": values}) + "\n")
