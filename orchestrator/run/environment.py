"""The process environment Ray and Tune read, set in one place, and starting Ray the way orch
does (embedded and loopback-only, or joining a cluster)."""

from __future__ import annotations

import contextlib
import logging
import os

__all__ = ["configure_environment", "start_ray", "own_instance_tag", "trial_actors_plain", "worker_modules",
           "ClusterUnreachable", "ResourcesUnavailable", "check_resources", "trials_that_fit"]


class ClusterUnreachable(Exception):
    pass


class ResourcesUnavailable(Exception):
    pass

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
    # data-parallel trials run Ray Train's V2 TorchTrainer inside the Tune trial (run.distributed)
    "RAY_TRAIN_V2_ENABLED": "1",
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
        # what Tune puts in each trial actor's runtime env (Ray issue 28197: Lightning must not
        # fork in a Ray worker), given to the whole instance instead (see trial_actors_plain)
        os.environ.setdefault("PL_DISABLE_FORK", "1")
    else:  # joining: give up on a cluster that refuses us after ~8 s, not Ray's default ~20
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "8")


_own_tag: str | None = None  # the ORCH_INSTANCE tag of the embedded instance this process started


def own_instance_tag() -> str | None:
    """The tag of the embedded Ray instance this process started (None when it joined a cluster
    or uses one it did not start): only its processes may be stopped by this process."""
    return _own_tag


def start_ray(address: str | None = None, preload: tuple[str, ...] = ()) -> bool:
    """Start the embedded instance, or join ``address``; True when this call started Ray (and
    the caller should shut it down), False when this process already had it. ``preload``: the
    modules every worker of the embedded instance imports as it starts (see :func:`worker_modules`)."""
    configure_environment(embedded=not address)
    import ray

    if ray.is_initialized():
        return False
    # the embedded instance keeps Ray's token authentication; its notice is noise on every run
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    with _signals_stay_ours(ray):
        _init(ray, address, preload)
    return True


@contextlib.contextmanager
def _signals_stay_ours(ray):
    """While ray.init runs, a SIGTERM reaches orch's handler (it is counted, the sweep then stops
    cleanly) instead of one of the three Ray puts on it in turn: ``sys.exit(15)``, the node's
    kill-and-exit(1), and the driver's C++ failure handler, which prints a stack trace and, raised
    into a half-connected core worker, ends the process with SIGABRT at exit. Only the driver: trial
    workers keep Ray's handlers. Both hooks are Ray internals: where one is gone, Ray's way stays."""
    from orchestrator.run.interrupt import active

    utils = getattr(getattr(ray, "_private", None), "utils", None)
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if active() is None or not hasattr(utils, "set_sigterm_handler"):
        yield
        return
    setter, no_handler = utils.set_sigterm_handler, getattr(constants, "RAY_DISABLE_FAILURE_SIGNAL_HANDLER", None)
    utils.set_sigterm_handler = lambda handler: None
    if no_handler is not None:
        constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True
    try:
        yield
    finally:
        utils.set_sigterm_handler = setter
        if no_handler is not None:
            constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = no_handler


def _init(ray, address: str | None, preload: tuple[str, ...] = ()) -> None:
    if address:
        _join(ray, address)
    else:
        from orchestrator.util.processes import reap_orphans, tag_instance

        global _own_tag
        reap_orphans()  # what an orch killed with kill -9 left running
        _own_tag = tag_instance()  # every process of this instance and its trials carries the tag
        # "local": always a new embedded instance, never one a `ray start` left behind; its
        # servers bind to the node address, so 127.0.0.1 keeps them off the network
        with _lean_head(ray):
            ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING, **_logical_gpus(),
                     **({"_system_config": {"preload_python_modules": list(preload)}} if preload else {}))


def worker_modules() -> tuple[str, ...]:
    """What every trial's worker imports before its first trial can run, for ``preload``: Tune
    and orch's trial function. The workers Ray starts with the instance import them while the
    store opens and the driver sets Tune up, instead of when the first trial is handed to them
    (0.8 s of the first trial's start here). Not the trainer's module: torch sizes its thread
    pool when imported, before Ray sets OMP_NUM_THREADS for a trial (numpy's BLAS, which Tune
    imports, is sized again per trial: orchestrator.run.trainable). A module that fails to
    import there is only logged by Ray; the trial imports it again and reports the error."""
    return ("ray.tune", "orchestrator.run.trainable")


@contextlib.contextmanager
def trial_actors_plain():
    """While a sweep's Tune run lasts: trial actors without Tune's runtime env of their own
    (``PL_DISABLE_FORK=1``), which no worker the raylet started ahead has, so the first trial
    waited for a new worker process (0.4-0.9 s of its start here). Only on the embedded
    instance, whose workers inherit orch's environment, where :func:`configure_environment` put
    that variable. Tune still adds the variables it propagates when they are set. A Tune
    internal: where it is gone, Tune's way stays; afterwards Tune's defaults are back."""
    defaults = None
    if own_instance_tag() is not None and os.environ.get("PL_DISABLE_FORK") == "1":
        try:
            from ray.tune.execution import class_cache
        except ImportError:
            class_cache = None
        defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    if not isinstance(defaults, dict) or defaults.get("PL_DISABLE_FORK") != "1":
        yield
        return
    del defaults["PL_DISABLE_FORK"]
    try:
        yield
    finally:
        defaults["PL_DISABLE_FORK"] = "1"


def _skip_api_server(self, *args, **kwargs):
    self._webui_url = None


def _skip(self, *args, **kwargs):
    return None


# Ray's head-node processes the embedded instance goes without, each a Python process that
# imports half of Ray while ray.init waits on the raylet (2 cores: they compete with it):
_SKIPPED = {
    # the API server: with include_dashboard=False Ray still starts dashboard.py (for usage
    # statistics) and polls until it is up, 0.7-1 s of ray.init; orch never calls it (no state
    # API, no job submission), and it is one more open port
    "start_api_server": _skip_api_server,
    # the autoscaler's monitor: a single local node has nothing to scale (`ray status` reads it)
    "start_monitor": _skip,
    # the log monitor tails worker logs for the driver, which log_to_driver=False turns off:
    # orch keeps what a trial prints itself (orchestrator.run._capture)
    "start_log_monitor": _skip,
}


@contextlib.contextmanager
def _lean_head(ray):
    """The embedded instance without the head-node processes in :data:`_SKIPPED`; together
    0.3-1 s of ray.init here. Ray internals: where one is gone, Ray's way stays for it."""
    node = getattr(getattr(getattr(ray, "_private", None), "node", None), "Node", None)
    saved = {name: getattr(node, name) for name in _SKIPPED if callable(getattr(node, name, None))}
    for name in saved:
        setattr(node, name, _SKIPPED[name])
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(node, name, method)


def _logical_gpus() -> dict[str, int]:
    """``ORCH_RAY_NUM_GPUS=N``: the embedded instance offers N GPUs whatever the machine has. For
    tests of GPU placement on a machine without one (Ray sets CUDA_VISIBLE_DEVICES per trial)."""
    value = os.environ.get("ORCH_RAY_NUM_GPUS", "")
    return {"num_gpus": int(value)} if value.isdigit() else {}


def _probe(address: str, timeout: float = 3.0) -> str | None:
    """Why nothing listens at HOST:PORT, or None when something does (or it cannot be told)."""
    import socket

    host, _, port = address.rpartition(":")
    if "://" in address or not port.isdigit():
        return None  # auto, ray://...: let Ray resolve it
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


def _init_quietly(ray, address: str) -> tuple[Exception | None, str]:
    """``ray.init(address)`` with fd 2 captured (Ray's C++ client retries loudly there):
    (the failure or None, what it printed)."""
    import tempfile

    with tempfile.TemporaryFile() as said:
        saved = os.dup(2)
        os.dup2(said.fileno(), 2)
        failure = None
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, its own
            failure = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        said.seek(0)
        return failure, said.read().decode(errors="replace")


def _join(ray, address: str) -> None:
    why = _probe(address)
    if why is not None:
        raise ClusterUnreachable(f"no Ray cluster answers at {address} ({why}). Start one with `ray start "
                                 f"--head --node-ip-address=127.0.0.1 --port={address.rpartition(':')[2]}`, "
                                 "check --address, or leave it out to run on an embedded local instance.")
    failure, printed = _init_quietly(ray, address)
    if failure is None:
        return
    if "InvalidAuthToken" in printed or "Unauthenticated" in printed:
        raise ClusterUnreachable(
            f"the Ray cluster at {address} refused this driver: it uses token authentication and no valid "
            "token was sent. Set RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token (copy it "
            "from the head node) or RAY_AUTH_TOKEN.")
    text = f"{type(failure).__name__}: {failure}".splitlines()[0][:300]
    hint = (" The cluster may use token authentication (`ray start --head` turns it on): set "
            "RAY_AUTH_MODE=token, with the cluster's token in ~/.ray/auth_token or RAY_AUTH_TOKEN."
            if os.environ.get("RAY_AUTH_MODE") != "token" else "")
    raise ClusterUnreachable(f"could not join the Ray cluster at {address}: {text}.{hint}")


_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


def _amount(name: str, value: float) -> str:
    """``2 CPU``; memory in GiB (Ray counts bytes): ``16.4 GiB memory``."""
    return f"{value / 2**30:.3g} GiB {name}" if "memory" in name else f"{value:g} {name}"


def check_resources(wanted: dict[str, float], trial: str, every: bool = True) -> None:
    """Refuse, before anything runs, a trial that asks for more than the whole cluster has
    (``every``: all trials ask the same; otherwise ``trial`` is the one that asks the most)."""
    import ray

    totals = ray.cluster_resources()
    short = {name: amount for name, amount in wanted.items()
             if amount and amount > totals.get(_RAY_NAMES.get(name, name), 0.0) + 1e-9}
    if short:
        asked = ", ".join(_amount(k, v) for k, v in short.items())
        has = ", ".join(_amount(k, v) for k, v in sorted(totals.items())
                        if not k.startswith("node:") and "accelerator" not in k) or "nothing"
        who, outcome = (f"every trial (e.g. {trial})", "no trial could ever start") if every else \
            (f"trial {trial}", "it could never start")
        raise ResourcesUnavailable(
            f"{who} asks for {asked}, but the Ray cluster has in all: {has}; {outcome}. Lower "
            "`resources:` in the sweep file, or run on a cluster (--address) whose nodes offer it. "
            "Nothing was launched.")


def trials_that_fit(wanted: dict[str, float]) -> int:
    """How many trials asking for ``wanted`` each the whole cluster holds at once (at least 1)."""
    import ray

    totals = ray.cluster_resources()
    fits = [int(totals.get(_RAY_NAMES.get(name, name), 0.0) // amount + 1e-9)
            for name, amount in wanted.items() if amount]
    return max(1, min(fits, default=1))
