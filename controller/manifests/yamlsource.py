"""Safe YAML parsing that keeps source positions.

libyaml (through PyYAML's C parser) composes each document into a node graph; we build
plain Python values from it ourselves so that duplicate keys are errors, alias expansion
and nesting are bounded, and only the YAML 1.2 core schema is recognised (`no`, `on` and
`1:30` stay strings; dates stay strings for the models to parse). Positions are looked up
lazily from the node graph, so valid input pays nothing for them.

This module must not know about manifests or files: it takes text and returns values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

MAX_DEPTH = 64
MIN_NODE_BUDGET = 50_000
# Below this many structural characters no document can nest deeply enough to trouble
# libyaml's recursive composer, so the event pre-scan is skipped.
_PRESCAN_THRESHOLD = 4_000
_STRUCTURAL = "[{-?:"

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"

PathPart = str | int


class YamlProblem(Exception):
    """A problem in the YAML text, with a 1-based position. Internal to `manifests`."""

    def __init__(self, code: str, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.path: tuple[PathPart, ...] = ()  # filled in as the error unwinds


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema: JSON-like scalars only."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012


_CoreResolver.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(
    NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(MERGE, re.compile(r"^<<$"), ["<"])


class SafeCoreDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """PyYAML's safe dumper, quoting every string the YAML 1.2 core schema this module
    reads with would take for something else: PyYAML writes `5737294242279e01` (a hex
    digest) plain, and the core schema reads it back as a float."""


for _tag, _pattern, _first in (
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        FLOAT,
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    (NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
):
    SafeCoreDumper.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _Loader(CParser, _CoreResolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _CoreResolver.__init__(self)

else:  # pragma: no cover - every supported platform ships libyaml wheels

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _CoreResolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _CoreResolver.__init__(self)


@dataclass(frozen=True, slots=True)
class _Source:
    """A file's text, shared by its documents; composed again only to find positions."""

    text: str

    def node(self, index: int) -> Node:
        return _compose_nodes(self.text)[index]


@lru_cache(maxsize=64)
def _compose_nodes(text: str) -> list[Node]:
    loader = _Loader(text)
    try:
        nodes = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        return nodes
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """One YAML document: its value, and where to find its node graph for positions.

    Node graphs are not kept: holding millions of nodes alive makes the garbage collector
    re-scan them over and over, doubling load time. Positions are wanted only when a
    diagnostic is emitted, and recomposing one file then costs well under a millisecond.
    """

    index: int
    data: object
    source: _Source

    @property
    def node(self) -> Node:
        return self.source.node(self.index)

    def position(self, path: tuple[PathPart, ...], *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the deepest node on `path`.

        With `key=True` and a path ending at a mapping entry, the entry's key is returned
        (that is where an unknown field is written).
        """
        key_node, value_node = locate(self.node, path)
        target = key_node if key and key_node is not None else value_node
        mark = target.start_mark
        return mark.line + 1, mark.column + 1

    def span(self, path: tuple[PathPart, ...]) -> tuple[int, int, bool]:
        """The 1-based first and last lines of the node on `path`, and whether any mapping
        in it takes keys by merge (`<<`: its content then lies elsewhere too)."""
        _, node = locate(self.node, path)
        return node.start_mark.line + 1, _last_line(node, 0), _merges(node, 0)


def _last_line(node: Node, depth: int) -> int:
    """The 1-based line its last character is on (a block collection's end mark is where
    the next token starts, so its last entry decides)."""
    if (
        isinstance(node, MappingNode | SequenceNode)
        and node.flow_style is not True
        and depth < MAX_DEPTH
    ):
        children = (
            [v for pair in node.value for v in pair]
            if isinstance(node, MappingNode)
            else node.value
        )
        if children:
            return max(_last_line(c, depth + 1) for c in children)
    end = node.end_mark
    return end.line if end.column == 0 and end.line > node.start_mark.line else end.line + 1


def _merges(node: Node, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(node, MappingNode):
        return any(k.tag == MERGE or _merges(v, depth + 1) for k, v in node.value)
    if isinstance(node, SequenceNode):
        return any(_merges(v, depth + 1) for v in node.value)
    return False


def locate(root: Node, path: tuple[PathPart, ...]) -> tuple[Node | None, Node]:
    """The (key node, value node) of the deepest entry of `path` present under `root`."""
    key_node: Node | None = None
    node = root
    for part in path:
        found: tuple[Node, Node] | None = None
        if isinstance(node, MappingNode):
            found = _find_key(node, str(part), depth=0)
        elif (
            isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
        ):
            key_node, node = None, node.value[part]
            continue
        if found is None:
            break
        key_node, node = found
    return key_node, node


def _find_key(node: MappingNode, name: str, depth: int) -> tuple[Node, Node] | None:
    merges = []
    for key_node, value_node in node.value:
        if key_node.tag == MERGE:
            merges.append(value_node)
        elif isinstance(key_node, ScalarNode) and key_node.value == name:
            return key_node, value_node
    if depth > MAX_DEPTH:
        return None
    for merge in merges:
        sources = merge.value if isinstance(merge, SequenceNode) else [merge]
        for source in sources:
            if isinstance(source, MappingNode):
                hit = _find_key(source, name, depth + 1)
                if hit is not None:
                    return hit
    return None


def parse(text: str) -> list[ParsedDocument]:
    """Parse every document of `text`. Raises `YamlProblem` for the first problem found."""
    if sum(map(text.count, _STRUCTURAL)) > _PRESCAN_THRESHOLD:
        _check_depth(text)
    loader = _Loader(text)
    budget = _Budget(max(MIN_NODE_BUDGET, len(text) // 2))
    documents: list[ParsedDocument] = []
    source = _Source(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            documents.append(ParsedDocument(len(documents), _construct(node, 0, budget), source))
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc, text) from None
    except yaml.YAMLError as exc:
        raise _from_other(exc, text) from None
    finally:
        loader.dispose()
    return documents


def _check_depth(text: str) -> None:
    """Reject deep nesting from the event stream before libyaml composes it recursively."""
    depth = 0
    try:
        for event in _events(text):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc, text) from None
    except yaml.YAMLError as exc:
        raise _from_other(exc, text) from None


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if event is not None:
                yield event
    finally:
        loader.dispose()


class _Budget:
    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit


def _construct(node: Node, depth: int, budget: _Budget) -> object:
    budget.left -= 1
    if budget.left < 0:
        raise _at(
            node,
            "RC003",
            f"aliases expand to more than {budget.limit} values; "
            "a manifest never needs that (is this a 'billion laughs' file?)",
        )
    if depth > MAX_DEPTH:
        raise _at(
            node, "RC011", f"nesting is deeper than {MAX_DEPTH} levels; manifests never need that"
        )
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        if node.tag != SEQ:
            raise _at(node, "RC001", f"unsupported YAML tag {node.tag!r}")
        items = []
        for index, item in enumerate(node.value):
            try:
                items.append(_construct(item, depth + 1, budget))
            except YamlProblem as problem:
                problem.path = (index, *problem.path)
                raise
        return items
    if isinstance(node, MappingNode):
        if node.tag != MAP:
            raise _at(node, "RC001", f"unsupported YAML tag {node.tag!r}")
        return _mapping(node, depth, budget)
    raise _at(node, "RC001", "unsupported YAML node")  # pragma: no cover


def _mapping(node: MappingNode, depth: int, budget: _Budget) -> dict[object, object]:
    result: dict[object, object] = {}
    seen: dict[object, Node] = {}
    merged: dict[object, object] = {}
    for key_node, value_node in node.value:
        if key_node.tag == MERGE:
            _merge(merged, key_node, value_node, depth, budget)
            continue
        if not isinstance(key_node, ScalarNode):
            raise _at(key_node, "RC001", "a mapping key must be a plain value, not a collection")
        key = _scalar(key_node)
        if key in seen:
            first = seen[key].start_mark.line + 1
            problem = _at(
                key_node,
                "RC002",
                f"duplicate key {key_node.value!r} (first defined on line {first}); "
                "remove one of them",
            )
            problem.path = (key_node.value,)
            raise problem
        seen[key] = key_node
        try:
            result[key] = _construct(value_node, depth + 1, budget)
        except YamlProblem as problem:
            problem.path = (key_node.value, *problem.path)
            raise
    if merged:
        merged.update(result)
        return merged
    return result


def _merge(
    into: dict[object, object], key_node: Node, value_node: Node, depth: int, budget: _Budget
) -> None:
    sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
    for source in sources:
        if not isinstance(source, MappingNode):
            raise _at(key_node, "RC001", "'<<' merges mappings only")
        value = _construct(source, depth + 1, budget)
        assert isinstance(value, dict)
        for k, v in value.items():
            into.setdefault(k, v)  # earlier sources win, as in YAML 1.1 merge keys


def _scalar(node: ScalarNode) -> object:
    tag, value = node.tag, node.value
    if tag == STR:
        return value
    if tag == INT:
        return _int(value, node)
    if tag == FLOAT:
        return _float(value)
    if tag == BOOL:
        return value.lower() == "true"
    if tag == NULL:
        return None
    raise _at(node, "RC001", f"unsupported YAML tag {tag!r}; use plain values")


def _int(value: str, node: ScalarNode) -> int:
    try:
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)
    except ValueError:
        raise _at(node, "RC001", f"{value!r} is not an integer") from None


def _float(value: str) -> float:
    lowered = value.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(value)


def _too_deep(mark: Any) -> YamlProblem:
    """RC011 at a libyaml or PyYAML mark (None: the start of the file)."""
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return YamlProblem(
        "RC011",
        f"nesting is deeper than {MAX_DEPTH} levels; manifests never need that",
        line,
        column,
    )


def _at(node: Node, code: str, message: str) -> YamlProblem:
    mark = node.start_mark
    return YamlProblem(code, message, mark.line + 1, mark.column + 1)


HINTS = (
    ("mapping values are not allowed", "a key indented deeper than the key above it, or an "
     "unquoted value holding ': ' (quote it)"),
    ("did not find expected '-' indicator", "an item indented differently from the items "
     "of its list above it"),
    ("did not find expected key", "a line indented differently from the keys of its mapping "
     "above it"),
    ("could not find expected ':'", "a key without ':' after it, or a quote left open above"),
    ("found unexpected end of stream", "a quote or bracket left open"),
)  # fmt: skip
"""What a syntax error usually means, by the parser's words."""


def _hint(problem: str, text: str, mark: Any) -> str:
    """What probably happened, in words a person typing YAML uses."""
    if mark is not None:
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        tab = line.find("\t")
        if tab >= 0 and ("cannot start any token" in problem or tab <= mark.column):
            return f"; a tab at line {mark.line + 1}, column {tab + 1}: YAML indents with spaces"
    for words, hint in HINTS:
        if words in problem:
            return f"; probably {hint}"
    return ""


def _from_marked(exc: yaml.MarkedYAMLError, text: str = "") -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    if "nesting depth" in str(exc.problem):
        # libyaml ≥ 0.2.6 (PyYAML 6.0.4's wheels) stops deep nesting itself, sometimes
        # before our own check sees it: the same problem, the same code.
        return _too_deep(mark)
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "YAML syntax error: " + ", ".join(parts) if parts else "YAML syntax error"
    message += _hint(str(exc.problem or ""), text, mark)
    if mark is None:
        return YamlProblem("RC001", message, 1, 1)
    return YamlProblem("RC001", message, mark.line + 1, mark.column + 1)


def _from_other(exc: yaml.YAMLError, text: str) -> YamlProblem:
    position = getattr(exc, "position", None)
    line, column = 1, 1
    if isinstance(position, int):
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
    reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    return YamlProblem("RC001", f"YAML error: {reason}", line, column)
