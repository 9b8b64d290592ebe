"""Turning pydantic's validation errors into located, actionable diagnostics.

Each error's `loc` is a path into the document; the path finds the line and column, the
error type picks the code, and the message is rewritten to say how to fix the input
(for an unknown field, the field that was probably meant).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode

from controller.manifests.config import DEPLOYMENT_ONLY
from controller.manifests.diagnostics import Diagnostic, render_path
from controller.manifests.yamlsource import ParsedDocument, PathPart, locate

_TYPE_ERRORS = {
    "string_type",
    "int_type",
    "float_type",
    "bool_type",
    "dict_type",
    "list_type",
    "tuple_type",
    "model_type",
    "int_parsing",
    "float_parsing",
    "bool_parsing",
    "model_attributes_type",
    "is_instance_of",
    "none_required",
}


def unknown_kind(kind: object) -> str:
    from controller.manifests.documents import KINDS

    known = ", ".join(KINDS)
    if isinstance(kind, str):
        guess = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.6)
        if guess:
            return f"unknown kind {kind!r}; did you mean {guess[0]!r}?"
    return f"unknown kind {kind!r}; use one of {known}"


def diagnostics(
    file: str, document: ParsedDocument, model: type[BaseModel], exc: ValidationError
) -> Iterator[Diagnostic]:
    seen: set[tuple[str, tuple[PathPart, ...]]] = set()
    errors = exc.errors(include_url=False)
    deeper = {tuple(e["loc"])[:n] for e in errors for n in range(len(e["loc"]))}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc in deeper:
            continue  # items failed: the list is short only because of them
        code, message, at, key = _explain(document, model, error, loc)
        if (message, loc) in seen:
            continue
        seen.add((message, loc))
        line, column = document.position(at, key=key)
        yield Diagnostic(file, line, column, code, message, render_path(loc))


def _explain(
    document: ParsedDocument,
    model: type[BaseModel],
    error: ErrorDetails,
    loc: tuple[PathPart, ...],
) -> tuple[str, str, tuple[PathPart, ...], bool]:
    kind = error["type"]
    name = loc[-1] if loc else ""
    if kind == "missing":
        return "RC101", f"missing required field '{name}'", loc[:-1], True
    if kind == "extra_forbidden":
        return "RC102", _unknown_field(model, loc), loc, True
    if kind in _TYPE_ERRORS:
        return "RC103", _wrong_type(document, error, loc), loc, False
    message = error["msg"].removeprefix("Value error, ")
    ctx = error.get("ctx") or {}
    if kind == DEPLOYMENT_ONLY:
        return "RC106", message, loc, True
    if _secret(loc):
        message = "invalid value (not shown, it may be a secret)"
    elif kind in _BOUNDS:
        message = f"{error['input']!r} is {_BOUNDS[kind]} {_bound(ctx)}"
    elif kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        message = f"{error['input']!r} does not match the required pattern {pattern}"
    elif kind in ("too_short", "too_long"):
        if kind == "too_short":
            message = f"needs at least {ctx.get('min_length')} item(s)"
        else:
            message = f"allows at most {ctx.get('max_length')} item(s)"
    elif kind == "literal_error":
        message = f"{error['input']!r} is not allowed: {message[0].lower()}{message[1:]}"
    key = _is_mapping(document, loc)
    return "RC104", message, loc, key


def _is_mapping(document: ParsedDocument, loc: tuple[PathPart, ...]) -> bool:
    """Errors about a whole object point at its key (`spec:`), not its first field."""
    _, node = locate(document.node, loc)
    return isinstance(node, MappingNode) and bool(loc)


_BOUNDS = {
    "less_than_equal": "above the maximum",
    "less_than": "not below",
    "greater_than_equal": "below the minimum",
    "greater_than": "not above",
}
_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}


def _bound(ctx: dict[str, Any]) -> object:
    for key in ("le", "lt", "ge", "gt"):
        if key in ctx:
            return f"{ctx[key]:g}" if isinstance(ctx[key], int | float) else ctx[key]
    return "?"


_SECRET_WORDS = ("auth", "token", "secret", "password", "credential")


def _secret(loc: tuple[PathPart, ...]) -> bool:
    """Values under these fields may be credentials pasted inline: never echo them. A
    step's `secret: {name, key}` names a Kubernetes Secret: a reference, shown."""
    if len(loc) >= 2 and loc[-2] == "secret" and loc[-1] in ("name", "key"):
        return False
    return any(isinstance(p, str) and any(w in p.lower() for w in _SECRET_WORDS) for p in loc)


def _wrong_type(document: ParsedDocument, error: ErrorDetails, loc: tuple[PathPart, ...]) -> str:
    value = error["input"]
    expected = _EXPECTED.get(error["type"]) or error["msg"].removeprefix("Input should be ")
    if _secret(loc):
        return (
            f"expected {expected}, got a {type(value).__name__} value (not shown); "
            "secrets are never written inline: use {env: NAME} or {file: PATH}"
        )
    got = _describe(value)
    message = f"expected {expected}, got {got}"
    if (
        error["type"] == "string_type"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        _, node = locate(document.node, loc)
        raw = getattr(node, "value", value)
        message += f'; quote it ("{raw}") so YAML keeps it as text'
    return message


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_field(model: type[BaseModel], loc: tuple[PathPart, ...]) -> str:
    name = str(loc[-1])
    allowed = _fields_at(model, loc[:-1])
    if not allowed:
        return f"unknown field '{name}'"
    guess = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if guess:
        return f"unknown field '{name}'; did you mean '{guess[0]}'?"
    return f"unknown field '{name}'; allowed here: {', '.join(sorted(allowed))}"


def _fields_at(model: type[BaseModel], path: tuple[PathPart, ...]) -> list[str]:
    """The field names (aliases) allowed at `path` under `model`."""
    annotation: Any = model
    for part in path:
        annotation = _strip(annotation)
        origin = get_origin(annotation)
        if isinstance(part, int) and origin in (tuple, list):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {(f.alias or n): f for n, f in annotation.model_fields.items()}
            if str(part) not in fields:
                return []
            annotation = fields[str(part)].annotation
        else:
            return []
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _strip(annotation: Any) -> Any:
    """Remove Annotated[...] and `| None` wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (types.UnionType, typing.Union):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
