"""The process environment Ray and Tune read, set in one place, and starting Ray the way orch
does (embedded and loopback-only, or joining a cluster)."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_environment", "start_ray"]

_TUNE_SETTINGS = {
    # orch logs to MLflow itself; Tune's CSV/JSON/TensorBoard files per trial are pure overhead
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    # the final status report of a trial carries no metric; schedulers simply skip it
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    "RAY_DEDUP_LOGS": "0",
    # orch draws its own progress; Tune's reporter would print over it
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100",
    # orch handles Ctrl-C itself (orchestrator.run.interrupt): trials are recorded as killed
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


def configure_environment(embedded: bool) -> None:
    """Set what Ray and Tune read from the environment, before ray is imported; a value the user
    set already wins. ``embedded``: Ray 2.60 then advertises 127.0.0.1 instead of the machine's
    external address (only for the embedded instance: a node joining a multi-node cluster
    refuses to start with it)."""
    for name, value in _TUNE_SETTINGS.items():
        os.environ.setdefault(name, value)
    if embedded:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def start_ray(address: str | None = None) -> bool:
    """Start the embedded instance, or join ``address``; True when this call started Ray (and
    the caller should shut it down), False when this process already had it."""
    configure_environment(embedded=not address)
    import ray

    if ray.is_initialized():
        return False
    # the embedded instance keeps Ray's token authentication; its notice is noise on every run
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        from orchestrator.processes import reap_orphans, tag_instance

        reap_orphans()  # what an orch killed with kill -9 left running
        tag_instance()  # every process of this instance and its trials carries the tag
        # "local": always a new embedded instance, never one a `ray start` left behind; its
        # servers bind to the node address, so 127.0.0.1 keeps them off the network
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                 log_to_driver=False, logging_level=logging.WARNING)
    return True
