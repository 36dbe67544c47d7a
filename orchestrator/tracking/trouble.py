"""A store orch cannot use, in one paragraph: a damaged or foreign SQLite file, one that cannot be
written, one another program keeps locked, a full disk, a server that refuses orch's credentials.
Told from the exception SQLite, SQLAlchemy or MLflow raised (whichever wrapped it) and the store's
URI; None when the exception is none of these. No mlflow import."""

from __future__ import annotations

import errno
from pathlib import Path

from orchestrator.util.checkpoints import free_words

__all__ = ["describe", "free_space"]

_DAMAGED = ("database disk image is malformed", "file is not a database", "file is encrypted",
            "malformed database schema")
_READ_ONLY = ("attempt to write a readonly database", "readonly database", "unable to open database file")
_LOCKED = ("database is locked", "database table is locked")
_FULL = ("database or disk is full", "no space left on device", "disk i/o error")
_REFUSED = {401: "401 (not authenticated)", 403: "403 (no permission)"}


def _chain(exc: BaseException) -> str:
    """The text of the exception and of what it wraps (SQLAlchemy's .orig, causes, contexts)."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(str(exc))
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return " ".join(parts).lower()


def free_space(uri: str) -> str:
    """``3.1 MB free on its file system`` for a local store's folder; ``free space unknown`` else."""
    return free_words(Path(uri[len("sqlite:///"):])) if uri.startswith("sqlite:///") else "free space unknown"


def _status(exc: BaseException) -> int | None:
    text = _chain(exc)
    for code in _REFUSED:
        if f"{code} != 200" in text or f"status code {code}" in text or f"http {code}" in text \
                or f"error code {code}" in text or ("unauthorized" in text and code == 401) \
                or ("permission_denied" in text and code == 403):
            return code
    return None


def _os_errors(exc: BaseException) -> list[OSError]:
    out, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            out.append(exc)
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return out


def _os_trouble(exc: BaseException, store: Path | None) -> str | None:
    """A full disk anywhere orch writes; a read-only store folder (its lease and lock files)."""
    for err in _os_errors(exc):
        where = Path(err.filename) if err.filename else store
        if err.errno == errno.ENOSPC and where is not None and store is not None and where.parent == store.parent:
            return (f"the disk is full: writing {where} failed ({free_words(where)}). Nothing finished is lost: free "
                    "some space (`orch runs SWEEP` shows what its checkpoints take, `orch clean SWEEP` removes them) and run the "
                    "same command again; it resumes the sweep exactly once.")
        if err.errno == errno.ENOSPC and err.filename:  # a file of orch's own: a table, a plot, a report
            return (f"the disk is full: writing {where} failed ({free_words(where)}); nothing was written there. Free some "
                    "space on that disk, or write elsewhere with --out, and run the same command again.")
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and store is not None and where is not None \
                and where.parent == store.parent:
            return (f"the tracking store {store} cannot be written: {where} is on a read-only file system or in a "
                    f"folder this user cannot write ({err.strerror}). `orch runs` and `orch table` read it as it "
                    "is; to run a sweep, make the folder writable or copy the store somewhere writable and pass "
                    "--tracking-uri sqlite:///COPY.")
    return None


def describe(exc: BaseException, uri: str) -> str | None:
    text = _chain(exc)
    store = Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None
    said = _os_trouble(exc, store)
    if said:
        return said
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if any(s in text for s in _DAMAGED):
            return (f"the tracking store {path} is damaged or not an SQLite file (SQLite says: "
                    f"{_said(text, _DAMAGED)}); orch changed nothing in it. Restore it from a copy (one taken while no sweep ran), salvage what is "
                    f"readable with `sqlite3 {path} .recover | sqlite3 recovered.db`, or point --tracking-uri at "
                    "another store.")
        if any(s in text for s in _FULL):
            return (f"the disk under the tracking store {path} is full ({free_words(path)}): SQLite could not write. "
                    "Nothing finished is lost: free some space (`orch runs` shows the checkpoints' disk use) "
                    "and run the same command again; it resumes the sweep exactly once.")
        if any(s in text for s in _READ_ONLY):
            return (f"the tracking store {path} cannot be written (the file or its folder is read-only for "
                    "this user): make both writable (`chmod u+w`), or copy the store somewhere writable and "
                    "pass --tracking-uri sqlite:///COPY.")
        if any(s in text for s in _LOCKED):
            return (f"the tracking store {path} stays locked by another program (SQLite: database is locked, "
                    "after waiting for it): close what holds it (an open `sqlite3` shell, a backup tool), "
                    "then run the same command again.")
        return None
    code = _status(exc)
    if code is not None:
        return (f"the tracking server {uri} refused orch: HTTP {_REFUSED[code]}. MLflow sends the credentials "
                "in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or a token in MLFLOW_TRACKING_TOKEN); "
                + ("set them for an account of that server." if code == 401 else
                   "the account they name needs permission on this experiment (ask the server's admin)."))
    return None


def _said(text: str, phrases: tuple[str, ...]) -> str:
    return next(p for p in phrases if p in text)
