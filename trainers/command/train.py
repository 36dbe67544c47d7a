"""Run one trial's script, stream its output into the trial log, and report what it prints."""

from __future__ import annotations

import json
import os
import re
import string
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.trainer import Report, progress_of
from trainers.command.config import Config
from trainers.command.parsers import DEFAULT_PARSERS, DEFAULT_STEP_REGEX, Harvester, metric_aliases
from trainers.command.presets import PRESETS
from trainers.command.process import Script, free_port, gpu_list

__all__ = ["train", "CommandFailed"]


class CommandFailed(RuntimeError):
    pass


def _argv(cfg: Config, runtime: dict) -> list[str]:
    if not cfg.command or not all(isinstance(a, (str, int, float)) for a in cfg.command):
        raise CommandFailed(f"command must be a non-empty list of strings, got {cfg.command!r}")
    return [_fill_runtime(a, runtime) for a in cfg.command]


def _fill_runtime(value, runtime: dict) -> str:
    """The spec filled every placeholder but the runtime ones and left a template: ``{gpus}``,
    ``{nproc}`` and ``{master_port}`` are filled now, ``{{``/``}}`` become literal braces."""
    return string.Formatter().vformat(str(value), (), runtime)


class _Lazy:
    """A runtime placeholder's value, worked out the first time a template uses it and then the
    same in every argument and variable of the trial (one port, not one per use)."""

    def __init__(self, make):
        self.make, self.value = make, None

    def __format__(self, spec: str) -> str:
        if self.value is None:
            self.value = self.make()
        return format(self.value, spec)


def runtime_placeholders() -> dict[str, _Lazy]:
    """``{gpus}``: ``0,1,...`` of the GPUs Ray gave the trial; ``{nproc}``: how many (at least 1:
    one process on a CPU trial), what torchrun's ``--nproc_per_node`` takes; ``{master_port}``: a
    port free on this node now, so two torchrun trials on one node never share a rendezvous."""
    return {"gpus": _Lazy(gpu_list), "nproc": _Lazy(lambda: len(gpu_list().split(",")) if gpu_list() else 1),
            "master_port": _Lazy(free_port)}


def _env(cfg: Config, report_file: str, runtime: dict) -> dict[str, str]:
    env = dict(os.environ)
    # `python` in the command is the interpreter orch runs on, so `import orchestrator` works
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive as they are printed, not at exit
    env["ORCH_REPORT_FILE"] = report_file
    env.update({str(k): _fill_runtime(v, runtime) for k, v in cfg.env.items()})
    return env


class _ReportFile:
    """Reads what ``orchestrator.report()`` appended since the last call."""

    def __init__(self, path: str):
        self.path, self.offset, self.partial = path, 0, ""

    def read(self) -> list[tuple[dict[str, float], int | None]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                handle.seek(self.offset)
                text = handle.read()
                self.offset = handle.tell()
        except FileNotFoundError:
            return []
        complete, _, self.partial = (self.partial + text).rpartition("\n")
        out = []
        for line in filter(None, complete.split("\n")):
            record = json.loads(line)
            out.append(({k: float(v) for k, v in record["metrics"].items()}, record.get("step")))
        return out


def _harvester(cfg: Config) -> Harvester:
    """The parsers: a preset's (plus ``metrics:`` when it lists more than the defaults), else ``metrics:``."""
    if not cfg.parse:
        return Harvester(cfg.metrics, cfg.step_regex, metric_aliases())
    preset = PRESETS[cfg.parse]
    extra = [] if list(cfg.metrics) == list(DEFAULT_PARSERS) else list(cfg.metrics)
    step_regex = preset.step_regex if cfg.step_regex == DEFAULT_STEP_REGEX else cfg.step_regex
    return Harvester([*preset.parsers, *extra], step_regex, metric_aliases(), preset.rename)


# a progress line as SimpleBaseline, HRNet and mmpose print them: "Epoch: [3][50/1000]", "Epoch [3][50/1000]"
_POSITION = re.compile(r"\bEpoch:?\s*\[(\d+)\]\s*\[(\d+)/(\d+)\]")


def train(cfg: Config, report: Report) -> dict[str, float]:
    runtime = runtime_placeholders()
    argv = _argv(cfg, runtime)
    cwd = cfg.cwd or None
    if cwd and not Path(cwd).is_dir():
        raise CommandFailed(f"cwd: {cwd} is not a folder")
    harvester = _harvester(cfg)
    fd, report_path = tempfile.mkstemp(prefix="orch-report-", suffix=".jsonl")
    os.close(fd)
    client = _ReportFile(report_path)
    progress = progress_of(report)
    last: dict[str, float] = {}

    def send(metrics: dict[str, float], step: int | None) -> None:
        nonlocal last
        if step is None:  # a client report without a step: as for printed values
            step = harvester.next_step(-1)
        last = {**last, **metrics}
        report(metrics, int(step))

    print(f"$ {' '.join(argv)}", flush=True)
    deadline = time.monotonic() + cfg.timeout if cfg.timeout else None
    try:
        script = Script(argv, cwd, _env(cfg, report_path, runtime), cfg.grace, cfg.tail_lines)
    except OSError as exc:
        os.unlink(report_path)
        raise CommandFailed(f"cannot start {argv[0]!r}: {exc}") from None
    try:
        for stream, line in script.lines():
            if line is not None:
                print(line, file=sys.stderr if stream == "stderr" else sys.stdout, flush=True)
                for metrics, step in harvester.feed(line):
                    send(metrics, step)
                at = _POSITION.search(line)
                if at:  # SimpleBaseline's / mmpose's "Epoch: [3][50/1000]": the live view's position
                    progress(int(at[2]), int(at[3]), epoch=int(at[1]))
            for metrics, step in client.read():
                send(metrics, step)
            if deadline and time.monotonic() > deadline:
                raise CommandFailed(f"timeout: still running after {cfg.timeout:g}s; stopped")
        code = script.wait()
        for metrics, step in client.read():
            send(metrics, step)
    finally:  # also when report() stops the trial (NaN, budget) or the sweep is interrupted
        script.stop()
        os.unlink(report_path)
    if code != 0:
        tail = "\n".join(script.stderr_tail) or "(no stderr)"
        raise CommandFailed(f"{argv[0]} exited with code {code}; last stderr lines:\n{tail}")
    if not last:
        print("warning: the script printed no metric any parser recognised; check `metrics:`",
              file=sys.stderr, flush=True)
    return last
