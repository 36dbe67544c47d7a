"""What every ``orch`` command shares: the Typer app, the common options, and the one-paragraph
answer for a known failure (exit 2 for the user's input, 3 for a store or service)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Optional

import typer

from orchestrator.util.version import __version__

app = typer.Typer(
    name="orch",
    help="Experiment sweeps for computer-vision research: YAML grids on Ray Tune, "
    "every trial in MLflow, ablation tables ready to paste.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a parameter for every trial: KEY=VALUE (YAML-typed), repeatable."),
]
ProfileOption = Annotated[
    Optional[str], typer.Option("--profile", help="Apply a named profile of the sweep file, e.g. smoke."),
]
MaxTrialsOption = Annotated[Optional[int], typer.Option(
    "--max-trials", min=1, help="Refuse a sweep that expands to more trials (default: the file's "
    "max_trials, else 10000).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Experiment sweeps for computer-vision research."""


def _fail(problems, file: str) -> None:
    from orchestrator.cli.console import print_problems

    print_problems(problems, file)
    raise typer.Exit(2) from None


@contextmanager
def _reported(*usage: type, unreachable: tuple[type, ...] = (), uri: str | None = None):
    """Known failures as one paragraph: exit 3 for an unreachable service (the tracking server,
    ``unreachable``), 2 for the store's or the user's problems (``usage``: more such types).
    ``uri``: the command's --tracking-uri, for what the store or server said."""
    from orchestrator.tracking import StoreError, SweepBusy, SweepNotFound, TrackingUnreachable

    try:
        yield
    except (TrackingUnreachable, *unreachable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    except (StoreError, SweepBusy, SweepNotFound, *usage) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # a store SQLite or the server would not serve: one paragraph, exit 3
        text = _store_trouble(exc, uri)
        if text is None:
            raise
        typer.echo(f"error: {text}", err=True)
        raise typer.Exit(3) from None


def _store_trouble(exc: BaseException, uri: str | None) -> str | None:
    """What :mod:`orchestrator.tracking.trouble` makes of ``exc``, for the store this command uses."""
    from orchestrator.tracking.store import resolve_uri
    from orchestrator.tracking.trouble import describe

    return describe(exc, resolve_uri(uri))
