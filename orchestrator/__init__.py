"""orch: experiment sweeps on Ray Tune, tracked in MLflow, tabulated for papers.

This module stays import-light (stdlib only) so that trainers can import the
contract types from :mod:`orchestrator.trainer` on a GPU box that has only torch,
and so that ``orch --help`` answers at once.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
