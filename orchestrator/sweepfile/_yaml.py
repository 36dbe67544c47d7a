"""YAML loading that remembers where every key and list item came from.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both keep
the 1-based line of each key / item so that errors can point at the exact line.
Floats follow YAML 1.2 (``1e-3`` is a float, not the string PyYAML 1.1 makes of it),
because learning rates are written that way and a string would fail validation
with a confusing message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A dict with ``line`` (where the mapping starts) and ``lines[key]``."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}


class LineList(list):
    """A list with ``line`` (where the sequence starts) and ``lines[i]``."""

    line: int | None = None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.lines: list[int] = []


_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:float"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain name, not a {type(key).__name__.replace('Line', '').lower()}",
                key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for child in node.value:
        out.append(loader.construct_object(child, deep=True))
        out.lines.append(child.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlSyntaxError(Exception):
    """The text is not YAML; carries the line of the mistake."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


MAX_DEPTH = 64  # nesting of mappings and lists; a sweep needs a handful
# *references to &anchors: more is an alias bomb (each level multiplies what it expands to), not a
# sweep; 32 keep the worst expansion under 10^5 values
MAX_ALIASES = 32


def _check_shape(text: str) -> None:
    """Refuse, before anything is built, a document nested absurdly deep or referencing anchors
    absurdly often (both would exhaust the stack or memory). The scanner is iterative."""
    depth = aliases = 0
    opening = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
               yaml.FlowSequenceStartToken)
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    for token in yaml.scan(text, Loader=_Loader):
        if isinstance(token, opening):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(f"nested more than {MAX_DEPTH} levels deep", token.start_mark.line + 1)
        elif isinstance(token, closing):
            depth -= 1
        elif isinstance(token, yaml.AliasToken):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlSyntaxError(f"more than {MAX_ALIASES} *aliases: an alias bomb, refused",
                                      token.start_mark.line + 1)


def parse_yaml(text: str) -> Any:
    """Parse one YAML document into LineDict / LineList / scalars."""
    try:
        _check_shape(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        # an unclosed quote or bracket is noticed at the end; the mistake is where it opened
        opened = str(exc.context or "").startswith(("while scanning a quoted", "while parsing a flow"))
        mark = (exc.context_mark if opened else None) or exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlSyntaxError(message or str(exc), line) from None
    except yaml.reader.ReaderError as exc:  # a control character or binary data
        line = text[:exc.position].count("\n") + 1
        raise YamlSyntaxError(f"character {exc.character!r} at column "
                              f"{exc.position - text.rfind(chr(10), 0, exc.position)} is not allowed in YAML "
                              "(binary data or a control character)", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc)[:300], None) from None
    except RecursionError:
        raise YamlSyntaxError(f"nested too deeply to read (over {MAX_DEPTH} levels)", None) from None


def read_text(path: Path) -> str:
    """A file's text; bytes that are not UTF-8 (a binary file) are a YamlSyntaxError at their line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise YamlSyntaxError(f"byte 0x{data[exc.start]:02x} is not UTF-8 text (a binary file?)", line) from None


def load_yaml_file(path: Path) -> Any:
    return parse_yaml(read_text(path))


def parse_scalar(text: str) -> Any:
    """A ``--set`` value typed the way YAML types it (``10`` int, ``1e-3`` float, ``[8,4]`` list)."""
    try:
        return parse_yaml(text) if text.strip() else ""
    except YamlSyntaxError:
        return text


def plain(value: Any) -> Any:
    """Strip line bookkeeping: LineDict/LineList to dict/list, recursively."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
