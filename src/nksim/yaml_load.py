"""The one reader of YAML inputs (scenarios, processes, spatial specs, calibrations, the parameter registry).

Strict on purpose: input files come from users, so the reader refuses what would crash, hang or mislead later.

- text: UTF-8 only, no NUL or other binary content, at most ``MAX_BYTES`` (``read_text``);
- aliases (``&a`` / ``*a``) are allowed, but their expansion may add at most ``ALIAS_BUDGET`` nodes to the
  document (a "billion laughs" alias bomb is refused before anything is built) and may not refer to themselves;
- nesting at most ``MAX_DEPTH`` levels; a key used twice in one mapping is an error (YAML would silently keep
  the last one);
- numbers: ``1e7`` / ``2.5E-3`` are numbers (YAML 1.1 reads them as strings); ``.inf`` / ``.nan`` are refused.

Reads through libyaml when PyYAML has it (7x faster on the parameter registry; the same objects). Errors are
``yaml.YAMLError`` subtypes with the line and column (``read_text`` raises ``nksim.errors.InputError``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 5_000_000  # a scenario is a few kB; the parameter registry about 150 kB
ALIAS_BUDGET = 10_000  # nodes that aliases may add when expanded
MAX_DEPTH = 64

#: ``1e7``, ``-2.5E-3``, ``.5e2``: numbers with an exponent (YAML 1.1 needs a dot and a signed exponent)
_EXP_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class StrictLoader(_BASE):  # type: ignore[misc, valid-type]
    """Safe loader with exponent floats, no non-finite numbers and no duplicate keys."""

    def construct_yaml_float(self, node: ScalarNode) -> float:  # type: ignore[override]
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ConstructorError(None, None, f"non-finite number {node.value!r} is not allowed (give a finite "
                                   "number)", node.start_mark)
        return value


StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXP_FLOAT, list("-+0123456789."))
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)


def _check_nodes(root: Any) -> None:
    """Alias expansion budget, self-reference, depth and duplicate keys, on the composed node graph (aliases are
    shared nodes there, so nothing is expanded to check)."""
    size: dict[int, int] = {}  # id(node) -> expanded size
    distinct = 0
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            continue
        if key in size:
            continue
        if key in on_path:
            raise ConstructorError(None, None, "an alias refers to the node that contains it (recursive YAML is "
                                   "not allowed)", node.start_mark)
        if depth > MAX_DEPTH:
            raise ConstructorError(None, None, f"nesting deeper than {MAX_DEPTH} levels is not allowed",
                                   node.start_mark)
        distinct += 1
        if isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, _ in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    ident = (k.tag, k.value)
                    if ident in seen:
                        raise ConstructorError(None, None, f"duplicate key {k.value!r} (each key may appear once "
                                               "in a mapping)", k.start_mark)
                    seen.add(ident)
        on_path.add(key)
        stack.append((node, depth, True))
        for kid in _children(node):
            if id(kid) in on_path:
                raise ConstructorError(None, None, "an alias refers to the node that contains it (recursive YAML "
                                       "is not allowed)", kid.start_mark)
            if id(kid) not in size:
                stack.append((kid, depth + 1, False))
    total = size.get(id(root), 0)
    if total - distinct > ALIAS_BUDGET:
        raise ConstructorError(None, None, f"aliases expand this document by {total - distinct:,} nodes; at most "
                               f"{ALIAS_BUDGET:,} are allowed (an alias bomb?)", root.start_mark)


def _children(node: Any) -> list[Any]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def safe_load(text: str) -> Any:
    """Parse one YAML document strictly (see the module docstring); errors are ``yaml.YAMLError`` types."""
    if "\x00" in text:
        raise yaml.YAMLError("binary content (NUL bytes) is not YAML text")
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_text(path: Path, what: str = "file", kind: str = "YAML") -> str:
    """A UTF-8 text file's content, or ``InputError`` naming the path: unreadable, too large, binary, not UTF-8
    (``kind``: the format named in messages, e.g. "CSV")."""
    from nksim.errors import InputError

    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(what, str(path), "a file, not a directory")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(what, str(path), f"a readable file ({exc.strerror or exc})") from None
    return decode_text(data, what, str(path), kind)


def decode_text(data: bytes, what: str, label: str, kind: str = "YAML", max_bytes: int = MAX_BYTES) -> str:
    """``data`` (a file's or an upload's bytes) as text, or ``InputError`` naming ``what`` and ``label``: larger
    than ``max_bytes``, binary (NUL bytes), not UTF-8. A leading byte-order mark is dropped."""
    from nksim.errors import InputError

    if len(data) > max_bytes:
        size = f"{max_bytes // 1_000_000} MB" if max_bytes >= 1_000_000 else f"{max_bytes // 1000} kB"
        raise InputError(what, label, f"a {kind} text file of at most {size}")
    if b"\x00" in data:
        raise InputError(what, label, f"a {kind} text file (this one holds binary content)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1]
        raise InputError(what, label, f"UTF-8 text (byte {exc.start} is not UTF-8: {bad!r})") from None
    return text.removeprefix("\ufeff")


def describe_error(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (``... at line 3, column 5``); no reader internals."""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(exc, "position", None)
    return f"{problem} at character {position + 1}" if isinstance(position, int) else problem
