"""The ``slurm:`` section of a sweep file: what ``orch sweep FILE --slurm`` asks the allocation
for when no flag says otherwise (``--nodes``, ``--time``, ...). Pure parsing, no Slurm needed."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.sweepfile._yaml import LineDict
from orchestrator.sweepfile.errors import Problems, did_you_mean

__all__ = ["SlurmOptions", "parse_slurm", "slurm_seconds", "slurm_time", "KEYS", "MEM"]

KEYS = ("nodes", "gpus_per_node", "cpus_per_node", "mem", "partition", "account", "qos", "time",
        "requeue", "signal", "sbatch_args")


@dataclass(frozen=True)
class SlurmOptions:
    """What the sbatch script asks for; None: not said (a default applies at submission)."""

    nodes: int | None = None
    gpus_per_node: int | None = None
    cpus_per_node: int | None = None
    mem: str | None = None  # per node, as sbatch --mem takes it (``64G``, ``80000`` MB)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_s: float | None = None  # the job's time limit
    requeue: bool | None = None  # requeued on preemption and at the time limit (default yes)
    signal_s: float | None = None  # orch is told to stop this long before the time limit
    sbatch_args: tuple[str, ...] = ()

    def over(self, other: "SlurmOptions") -> "SlurmOptions":
        """These values where set, ``other``'s elsewhere (flags over the file's section)."""
        changes = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if getattr(self, f.name) not in (None, ())}
        return dataclasses.replace(other, **changes)


_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def slurm_seconds(value: Any) -> float | None:
    """A time limit: Slurm's own forms (``90`` minutes, ``1:30:00``, ``2-00``, ``2-12:00``) or a
    duration (``90m``, ``6h``, ``2d``); seconds, None when it is neither (or not positive)."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    m = _DURATION.match(text)
    if m:
        seconds = float(m.group(1)) * _UNIT_S[m.group(2).lower()]
        return seconds if seconds > 0 else None
    m = _SLURM_TIME.match(text)
    if not m:
        return None
    days, first, second, third = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # days-hours[:minutes[:seconds]]
        seconds = days * 86400 + first * 3600 + (second or 0) * 60 + (third or 0)
    elif third is not None:  # hours:minutes:seconds
        seconds = first * 3600 + second * 60 + third
    elif second is not None:  # minutes:seconds
        seconds = first * 60 + second
    else:  # minutes
        seconds = first * 60
    return float(seconds) if seconds > 0 else None


def slurm_time(seconds: float) -> str:
    """``D-HH:MM:SS``, which sbatch --time takes."""
    s = int(round(seconds))
    return f"{s // 86400}-{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _count(section: LineDict, key: str, minimum: int, file: str, problems: Problems) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(file, section.lines.get(key), f"slurm.{key}", f"expected a whole number >= {minimum}, got {value!r}")
        return None
    return value


def _text(section: LineDict, key: str, file: str, problems: Problems) -> str | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip() or \
            any(c.isspace() for c in str(value)):
        problems.add(file, section.lines.get(key), f"slurm.{key}", f"expected one word, got {value!r}")
        return None
    return str(value)


MEM = re.compile(r"^\d+[KMGT]?$", re.IGNORECASE)  # sbatch --mem: a number of MB, or K/M/G/T


def _mem(section: LineDict, file: str, problems: Problems) -> str | None:
    value = section.get("mem")
    if value is None:
        return None
    if isinstance(value, bool) or not MEM.match(str(value)):
        problems.add(file, section.lines.get("mem"), "slurm.mem", f"cannot read {value!r} as sbatch's --mem",
                     "write e.g. 64G, 512M or 80000 (MB), per node.")
        return None
    return str(value)


def _seconds(section: LineDict, key: str, file: str, problems: Problems) -> float | None:
    if section.get(key) is None:
        return None
    seconds = slurm_seconds(section[key])
    if seconds is None:
        problems.add(file, section.lines.get(key), f"slurm.{key}", f"cannot read {section[key]!r} as a time",
                     "write e.g. 6h, 90m, 1:30:00 or 2-00:00:00 (days-hours:minutes:seconds).")
    return seconds


def parse_slurm(doc: LineDict, file: str, problems: Problems) -> SlurmOptions | None:
    section = doc.get("slurm")
    if section is None:
        return None
    if not isinstance(section, dict):
        problems.add(file, doc.lines.get("slurm"), "slurm", f"expected a mapping, got {type(section).__name__}",
                     "e.g. slurm: {nodes: 1, gpus_per_node: 4, time: 24h, partition: gpu}.")
        return None
    for key in section:
        if key not in KEYS:
            problems.add(file, section.lines.get(key), f"slurm.{key}", "unknown key;", did_you_mean(str(key), KEYS))
    requeue = section.get("requeue")
    if requeue is not None and not isinstance(requeue, bool):
        problems.add(file, section.lines.get("requeue"), "slurm.requeue", f"expected true or false, got {requeue!r}")
        requeue = None
    args = section.get("sbatch_args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) and a.startswith("-") for a in args):
        problems.add(file, section.lines.get("sbatch_args"), "slurm.sbatch_args",
                     f"expected a list of sbatch options, got {args!r}", "e.g. sbatch_args: [--constraint=a100, --exclusive].")
        args = []
    return SlurmOptions(
        nodes=_count(section, "nodes", 1, file, problems),
        gpus_per_node=_count(section, "gpus_per_node", 0, file, problems),
        cpus_per_node=_count(section, "cpus_per_node", 1, file, problems),
        mem=_mem(section, file, problems), partition=_text(section, "partition", file, problems),
        account=_text(section, "account", file, problems), qos=_text(section, "qos", file, problems),
        time_s=_seconds(section, "time", file, problems), requeue=requeue,
        signal_s=_seconds(section, "signal", file, problems), sbatch_args=tuple(args))
