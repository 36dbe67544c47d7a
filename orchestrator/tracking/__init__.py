"""MLflow, and only here: the only package that writes it.

    tracker = SweepTracker(spec, uri)          # the writer, fed by the run package's Tune callback
    record = read_sweep("msssm_temper", uri)   # the reader: frozen orchestrator.analysis.records records
    snapshot = read_run("t15_s0", uri)         # one run, for `orch diff`

One parent run per sweep (``Tag.KIND`` = sweep), one nested child run per trial key. A local SQLite
store is read directly (read-only) when its MLflow schema revision is one orch knows; everything
else goes through the MLflow client. Tag names live in :mod:`orchestrator.protocol`. Nothing here
imports mlflow at import time, and nothing here depends on a module that uses it.
"""

from orchestrator.tracking._local_store import StoreError
from orchestrator.tracking.lease import SweepBusy
from orchestrator.tracking.parent import claim_store
from orchestrator.util.secrets import is_secret_name
from orchestrator.tracking.provenance import environment_report, git_state, run_tags
from orchestrator.tracking.reader import SweepNotFound, list_sweeps, read_run, read_sweep
from orchestrator.tracking.store import (TrackingUnreachable, experiment_id, from_mlflow_name, make_client,
                                         resolve_uri, to_mlflow_name)
from orchestrator.tracking.artifacts import log_parent_artifact
from orchestrator.tracking.writer import ExistingTrial, SweepTracker

__all__ = ["ExistingTrial", "claim_store", "StoreError", "SweepBusy", "SweepNotFound", "TrackingUnreachable", "SweepTracker", "environment_report", "experiment_id",
           "from_mlflow_name", "git_state", "is_secret_name", "list_sweeps", "log_parent_artifact",
           "make_client", "read_run", "read_sweep", "resolve_uri", "run_tags", "to_mlflow_name"]
