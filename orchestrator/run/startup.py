"""A sweep's start: the store opens on a thread while Ray starts on the main one.

Importing MLflow and opening the store take a second or two; starting Ray's processes a few
seconds more, most of it waiting on them. Done side by side, the first trial starts sooner.
``ray.init`` keeps the main thread (it puts its signal handlers there; orch keeps SIGTERM its own,
see :func:`orchestrator.run.environment.start_ray`). What can refuse a launch at once runs before
either, so a refusal is as quick as ever and starts nothing: an unreachable tracking server, a
local store that is not whole, the sweep's lease held by another launch.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

from orchestrator.run.environment import ClusterUnreachable, own_instance_tag, start_ray
from orchestrator.run.interrupt import Interrupts
from orchestrator.sweepfile.model import SweepSpec

__all__ = ["RayInstance", "open_beside_ray"]


class RayInstance:
    """The sweep's Ray: started (or joined) once, stopped once, whoever asks first."""

    def __init__(self, address: str | None, interrupts: Interrupts, preload: tuple[str, ...] = ()):
        self.address, self.interrupts, self.preload = address, interrupts, preload
        self.started = False  # this process started it (and shuts it down)

    def start(self) -> None:
        """start_ray; a SIGTERM during ray.init (whose own handler exits with 15) is an interrupt."""
        try:
            self.started = start_ray(self.address, self.preload)
        except SystemExit as exc:
            if exc.code != signal.SIGTERM:
                raise
            self.interrupts.arrived("SIGTERM")
            import ray

            self.started = ray.is_initialized()
        finally:
            self.interrupts.install()  # back from Ray, which took SIGTERM in ray.init

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        import ray

        from orchestrator.util.processes import instance_processes, stop_processes

        ray.shutdown()
        tag = own_instance_tag()
        if tag:  # whatever of this instance outlived the shutdown (agents, orphaned scripts)
            stop_processes(list(instance_processes(tag)))


class _Opening(threading.Thread):
    def __init__(self, make: Callable[[], Any]):
        super().__init__(name="orch-open-store", daemon=True)
        self._make, self._value, self._error = make, None, None

    def run(self) -> None:
        try:
            self._value = self._make()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread as it was
            self._error = exc

    def result(self) -> Any:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value


def open_beside_ray(spec: SweepSpec, tracking_uri: str | None, new: bool, on_outage, ray: RayInstance):
    """The sweep's tracker, its parent run open, with Ray started beside it. A store that fails
    stops the Ray just started; a Ray that fails (an unreachable address, a second Ctrl-C) closes
    the store, the new parent run removed when the cluster never answered."""
    from orchestrator.tracking import SweepTracker, claim_store, resolve_uri

    uri = resolve_uri(tracking_uri)
    claimed = claim_store(spec.name, uri)

    def make():
        try:
            tracker = SweepTracker(spec, uri, on_outage=on_outage, claimed=claimed)
            tracker.open_parent(new=new)
            return tracker
        except BaseException:
            if claimed is not None:
                claimed.release()
            raise

    opening = _Opening(make)
    opening.start()
    failed: BaseException | None = None
    try:
        ray.start()
    except BaseException as exc:  # noqa: BLE001 - raised again once the store is closed
        failed = exc
    try:
        tracker = opening.result()
    except BaseException:
        ray.stop()
        raise
    if failed is not None:
        if isinstance(failed, ClusterUnreachable):
            tracker.discard_parent()  # nothing ran: a parent made just now goes again
        tracker.close("KILLED", {})
        raise failed
    return tracker
