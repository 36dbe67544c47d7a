"""What the user watches during a sweep: a rich live view on a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.cli.console import STATUS_STYLE, trials_text
from orchestrator.protocol import TrialStatus
from orchestrator.run.board import Position


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class _Running:
    started: float
    step: int = 0
    value: float | None = None
    best: tuple[float, int] | None = None  # (its best value of the sweep's metric, at which step)
    position: Position | None = None  # the latest position inside an epoch (run.board)
    first: tuple[float, float] | None = None  # (monotonic time, fraction done) at the first one

    def moved(self, position: Position) -> None:
        self.position = position
        fraction = position.fraction
        if fraction is not None and (self.first is None or fraction < self.first[1]):  # a retry starts over
            self.first = (time.monotonic(), fraction)

    def eta(self, now: float) -> float | None:
        """Seconds left, from the pace since the first position (None until there is one, or
        when the run's length is unknown)."""
        if self.position is None or self.first is None or self.position.fraction is None:
            return None
        t0, f0 = self.first
        done = self.position.fraction - f0
        if done <= 0 or now - t0 < 1:
            return None
        return (now - t0) / done * (1 - self.position.fraction)


@dataclass
class SweepProgress:
    name: str
    metric: str
    mode: str
    total: int  # trials to run now
    skipped: int  # trials already finished in the store
    concurrency: int
    console: Console
    live: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    running: dict[str, _Running] = field(default_factory=dict)
    best: tuple[float, str] | None = None
    durations: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _live: Live | None = None
    outage: object | None = None  # the tracking store's outage, while there is one
    phase: str = ""  # what the sweep is doing before its trials run: "starting Ray", ...

    # ---- events ----------------------------------------------------------------------
    def trial_started(self, name: str) -> None:
        self.phase = ""
        self.running[name] = _Running(time.monotonic())

    def trial_metrics(self, name: str, metrics: dict[str, float], step: int) -> None:
        run = self.running.setdefault(name, _Running(time.monotonic()))
        run.step = step
        value = metrics.get(self.metric)
        if value is not None:
            run.value = value
            if math.isfinite(value) and (run.best is None or self._better(value, run.best[0])):
                run.best = (value, step)
            if math.isfinite(value) and (self.best is None or self._better(value, self.best[0])):
                self.best = (value, f"{name}, step {step}")

    def trial_position(self, name: str, position: Position) -> None:
        run = self.running.get(name)
        if run is not None:
            run.moved(position)

    def trial_retry(self, name: str, message: str) -> None:
        self._line(f"[yellow]retry[/]    {escape(name)}: {escape(message)}")

    def trial_ended(self, name: str, status: TrialStatus, message: str = "") -> None:
        run = self.running.pop(name, None)
        if run is not None:
            self.durations.append(time.monotonic() - run.started)
        self.counts[status] = self.counts.get(status, 0) + 1
        done = sum(self.counts.values())
        value = f"  {self.metric}={run.value:.4g}" if run and run.value is not None else ""
        if value and run.best is not None and run.best[0] != run.value:  # the last step's is not its best
            value += f" (last; best {run.best[0]:.4g} at step {run.best[1]})"
        style = STATUS_STYLE.get(status, "")
        why = f"  ({escape(message)})" if message and status != TrialStatus.FINISHED else ""
        self._line(f"[{done:>{len(str(self.total))}}/{self.total}] [{style}]{status:<8}[/] {escape(name)}{value}{why}")

    def note(self, text: str) -> None:
        """A line the user must see (interrupts), live view or not; nothing for an empty one."""
        if not text:
            return
        target = self._live.console if self._live is not None else self.console
        target.print(f"[bold]{escape(text)}[/]", highlight=False, soft_wrap=True)

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def _line(self, text: str) -> None:
        target = self._live.console if self._live is not None else self.console
        target.print(text, highlight=False, soft_wrap=True)

    def tracking(self, outage) -> None:
        """The store went away (an :class:`~orchestrator.tracking.queue.Outage`) or came back (None)."""
        was = self.outage
        self.outage = outage
        if outage is not None and was is None:
            self._line(f"[red]{outage.describe()}[/]; results are kept and written when it is back")
        elif outage is None and was is not None:
            self._line("[green]tracking reachable again[/]: writing the buffered results")

    # ---- rendering ---------------------------------------------------------------------
    def eta(self) -> float | None:
        done = sum(self.counts.values())
        if not self.durations or done >= self.total:
            return None
        left = self.total - done
        per_trial = sum(self.durations) / len(self.durations)
        return per_trial * left / max(1, min(self.concurrency, left))

    def summary(self) -> str:
        parts = [f"{n} {s}" for s, n in sorted(self.counts.items())]
        if self.skipped:
            parts.append(f"{self.skipped} done before")
        best = f"; best {self.metric} {self.best[0]:.4g} ({self.best[1]})" if self.best else ""
        return f"{self.name}: " + (", ".join(parts) or "nothing to run") + best + \
            f"; {_clock(time.monotonic() - self.started)} elapsed"

    def __rich__(self) -> Group:
        done = sum(self.counts.values())
        eta = self.eta()
        head = Text.from_markup(
            f"[bold]{self.name}[/]  {done}/{self.total} trials done, {len(self.running)} running"
            f"  elapsed {_clock(time.monotonic() - self.started)}"
            + (f"  ETA {_clock(eta)}" if eta is not None else ""))
        counts = Text("  ")
        for status in (TrialStatus.FINISHED, TrialStatus.DIVERGED, TrialStatus.FAILED, TrialStatus.STOPPED):
            counts.append(f"{status} {self.counts.get(status, 0)}   ", style=STATUS_STYLE[status])
        counts.append(f"pending {max(0, self.total - done - len(self.running))}", style="dim")
        if self.skipped:
            counts.append(f"   done before {self.skipped}", style=STATUS_STYLE["done before"])
        best = Text(f"  best {self.metric}: {self.best[0]:.4g} ({self.best[1]})" if self.best
                    else f"  best {self.metric}: -")
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        for column in ("running", "step", self.metric, "time", "progress", "ETA"):
            table.add_column(column)
        now = time.monotonic()
        for name, run in list(self.running.items())[:12]:
            value = "-" if run.value is None else f"{run.value:.4g}"
            eta = run.eta(now)
            table.add_row(name, str(run.step), value, _clock(now - run.started),
                          run.position.text() if run.position else "", _clock(eta) if eta is not None else "")
        parts = [head, counts, best]
        if self.phase and not self.running:
            parts.append(Text(f"  {self.phase} ...", style="cyan"))
        if self.outage is not None:
            parts.append(Text(f"  {self.outage.describe()}", style="red"))
        return Group(*parts, table)

    def __enter__(self) -> "SweepProgress":
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        else:
            self.console.print(f"{self.name}: {trials_text(self.total)} to run"
                               + (f", {self.skipped} done before" if self.skipped else ""), highlight=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
