"""What orch never writes in clear: values whose names look secret, and values marked secret.

The rule: a name (a config key's last part, an ``env:`` entry, an environment variable)
containing KEY, TOKEN, PASSWORD, SECRET, CREDENTIAL or AUTH, in any case, is secret; so is a key
listed under ``secrets:`` in the sweep file or declared ``param(secret=True)`` by a trainer. The
trial receives the real value; params, tags, artifacts and logs get ``***``. Stdlib only.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

__all__ = ["MASK", "is_secret_name", "secret_keys", "mask_config", "mask_value", "mask_text",
           "mask_argv", "secret_values"]

MASK = "***"
_SECRET = re.compile(r"KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|AUTH", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET.search(name.rsplit(".", 1)[-1]))


def secret_keys(config: Mapping[str, Any], explicit: Iterable[str] = ()) -> set[str]:
    """The flat config keys whose values are secret: by name, or listed in ``explicit``."""
    marked = set(explicit)
    return {k for k in config if k in marked or is_secret_name(k)}


def mask_value(value: Any) -> Any:
    """A mapping keeps its keys and loses its secret-named values (``env:``); the rest as is."""
    if isinstance(value, Mapping):
        return {k: MASK if is_secret_name(str(k)) else mask_value(v) for k, v in value.items()}
    return value


def mask_config(config: Mapping[str, Any], secret: Iterable[str]) -> dict[str, Any]:
    """Secret keys' values as ``***``, and every secret value inside other values too (a command
    line whose placeholder a secret filled)."""
    hidden = set(secret)
    values = secret_values(config, hidden)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return mask_text(value, values)
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, Mapping):
            return {k: scrub(v) for k, v in value.items()}
        return value

    return {k: MASK if k in hidden else scrub(mask_value(v)) for k, v in config.items()}


def secret_values(config: Mapping[str, Any], secret: Iterable[str]) -> list[str]:
    """Every secret value as text (longest first), to scrub from logs and messages."""
    found: list[str] = []

    def walk(value: Any, is_secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, is_secret or is_secret_name(str(k)))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, is_secret)
        elif is_secret and value not in (None, "") and len(str(value)) >= 3:
            found.append(str(value))

    hidden = set(secret)
    for key, value in config.items():
        walk(value, key in hidden)
    return sorted(set(found), key=len, reverse=True)


def mask_text(text: str, values: Iterable[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return text


_ASSIGNMENT = re.compile(r"^(?P<key>[^=]+)=(?P<value>.*)$", re.S)


def mask_argv(argv: list[str], explicit: Iterable[str] = ()) -> list[str]:
    """``--set api_token=abc`` (also ``--set=...``) as ``--set api_token=***``."""
    marked = set(explicit)
    out = []
    for arg in argv:
        body = arg[len("--set="):] if arg.startswith("--set=") else arg
        match = _ASSIGNMENT.match(body)
        if match and (is_secret_name(match["key"]) or match["key"] in marked):
            arg = arg[:len(arg) - len(body)] + f"{match['key']}={MASK}"
        out.append(arg)
    return out
