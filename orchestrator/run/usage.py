"""What each trial used, measured by the driver: wall time between a trial's start and its end
(each attempt on its own), the reserved GPUs and CPUs over that time, and the peak GPU memory and
images/s the trainer reported (:class:`orchestrator.protocol.Compute`). No ray import."""

from __future__ import annotations

import math
import statistics
import time
from typing import Mapping

from orchestrator.protocol import Compute

__all__ = ["Usage"]


class Usage:
    def __init__(self, cpu: float, gpu: float, clock=time.time,
                 per_key: Mapping[str, tuple[float, float]] | None = None):
        self.cpu, self.gpu = cpu, gpu  # what a trial reserves, unless per_key has its own (cpu, gpu)
        self._own = dict(per_key or {})
        self._clock = clock
        self._began: dict[str, float] = {}
        self._peak: dict[str, float] = {}
        self._speed: dict[str, list[float]] = {}

    def started(self, key: str) -> None:
        self._began[key] = self._clock()
        self._peak.pop(key, None)
        self._speed[key] = []

    def saw(self, key: str, values: Mapping[str, float]) -> None:
        peak = values.get(Compute.TRAINER_PEAK_MEMORY)
        if peak is not None and math.isfinite(peak):
            self._peak[key] = max(self._peak.get(key, 0.0), peak)
        speed = values.get(Compute.TRAINER_IMAGES_PER_S)
        if speed is not None and math.isfinite(speed) and speed > 0:
            self._speed.setdefault(key, []).append(speed)

    def running_gpu_hours(self) -> float:
        """What the trials running now have used so far."""
        now = self._clock()
        return sum(self._of(key)[1] * max(0.0, now - began) / 3600 for key, began in list(self._began.items()))

    def _of(self, key: str) -> tuple[float, float]:
        return self._own.get(key, (self.cpu, self.gpu))

    def ended(self, key: str) -> dict[str, float]:
        """This attempt's usage (empty when it never started here)."""
        began = self._began.pop(key, None)
        if began is None:
            return {}
        wall = max(0.0, self._clock() - began)
        cpu, gpu = self._of(key)
        out = {Compute.WALL_S: wall, Compute.GPU_HOURS: gpu * wall / 3600, Compute.CPU_HOURS: cpu * wall / 3600}
        if key in self._peak:
            out[Compute.PEAK_GPU_MEMORY_GB] = self._peak.pop(key)
        speeds = self._speed.pop(key, [])
        if speeds:
            out[Compute.IMAGES_PER_S] = statistics.fmean(speeds)
        return out
