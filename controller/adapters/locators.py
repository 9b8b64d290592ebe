"""A workload's image in an environment repository's file: read it, and change it by
rewriting that one scalar in place, so every other byte of the file — comments, quoting,
indentation, key order, other documents — stays as the people who keep it wrote it.

The file is parsed with ruamel.yaml's round-trip loader only to find where the scalar
is (its line and column); the edit is made on the text. Three forms:

- Kustomize: the `images:` entry whose `name` is the component's image; its `newTag`
  (added under `name` when the entry has none; a `digest` beside it is refused, since
  the two would disagree).
- Helm values: the scalar at a dotted key path, e.g. `image.tag`.
- A Deployment manifest: the `image` of the named container in
  `spec.template.spec.containers` (repository and tag).

A file that no longer has the shape the locator names is a `LocatorError` that needs a
person (the change is not made anywhere). Nothing here touches git or the network.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from yaml import YAMLError as YAML11Error
from yaml import safe_load as yaml11

from controller.adapters.errors import AdapterError
from controller.errors import Disposition
from controller.manifests.deploy import Locator

MAX_BYTES = 1024 * 1024


class LocatorError(AdapterError):
    """The file does not hold the value where the locator says."""

    disposition = Disposition.STALLED


def _documents(text: str, where: str) -> list[Any]:
    if len(text) > MAX_BYTES:
        raise LocatorError(f"{where} is larger than {MAX_BYTES // 1024} KiB")
    try:
        return list(YAML(typ="rt").load_all(io.StringIO(text)))
    except YAMLError as exc:
        raise LocatorError(f"{where} is not YAML: {str(exc).splitlines()[0]}") from None


def _slot(text: str, locator: Locator, image: str, where: str) -> tuple[CommentedMap, str]:
    """The mapping holding the value and the value's key."""
    documents = _documents(text, where)
    if locator.kustomize_image:
        for document in documents:
            for entry in _seq(document, "images"):
                if isinstance(entry, CommentedMap) and entry.get("name") == image:
                    if "digest" in entry:
                        raise LocatorError(
                            f"{where}: the images entry {image} pins a digest; relctl sets "
                            "newTag, and the two would disagree: remove the digest"
                        )
                    return entry, "newTag"
        raise LocatorError(f"{where} has no images entry named {image}")
    if locator.helm_key:
        node: Any = documents[0] if documents else None
        parts = locator.helm_key.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, CommentedMap) else None
        if not isinstance(node, CommentedMap) or parts[-1] not in node:
            raise LocatorError(f"{where} has no key {locator.helm_key}")
        return node, parts[-1]
    for document in documents:
        if not isinstance(document, CommentedMap) or document.get("kind") != "Deployment":
            continue
        spec = ((document.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or ():
            if isinstance(container, CommentedMap) and container.get("name") == locator.container:
                if "image" not in container:
                    break
                return container, "image"
    raise LocatorError(f"{where} has no Deployment container {locator.container} with an image")


def _seq(document: Any, key: str) -> Iterator[Any]:
    found = document.get(key) if isinstance(document, CommentedMap) else None
    if isinstance(found, CommentedSeq):
        yield from found


def read(text: str, locator: Locator, image: str, where: str) -> str | None:
    """The image the file gives the workload (`repository:tag`); None when a Kustomize
    entry sets no tag yet. `image`: the component's repository."""
    holder, key = _slot(text, locator, image, where)
    value = holder.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LocatorError(f"{where}: {key} is not a scalar")
    if locator.container:
        return str(value)
    repository = holder.get("newName") or image if locator.kustomize_image else image
    return f"{repository}:{value}"


def write(text: str, locator: Locator, image: str, target: str, where: str) -> str:
    """`text` with the workload's image set to `target` (`repository:tag`); nothing else
    in it changes. The repository must be the component's (or, in Kustomize, the
    entry's `newName`)."""
    holder, key = _slot(text, locator, image, where)
    repository, _, tag = target.rpartition(":")
    expected = holder.get("newName") or image if locator.kustomize_image else image
    if not locator.container and repository != expected:
        raise LocatorError(f"{where}: {target} is not an image of {expected}")
    value = target if locator.container else tag
    lines = text.splitlines(keepends=True)
    if key not in holder:  # a Kustomize entry without newTag: under its name
        line, column = holder.lc.key("name")
        indent = " " * column
        lines.insert(line + 1, f"{indent}newTag: {_quoted(value)}\n")
        return "".join(lines)
    line, column = holder.lc.value(key)
    current = lines[line]
    end = _scalar_end(current, column)
    lines[line] = current[:column] + _quoted(value, current[column]) + current[end:]
    return "".join(lines)


def _scalar_end(line: str, start: int) -> int:
    """Where the scalar starting at `start` ends: its closing quote, or a comment or the
    end of the line for a plain one."""
    if start < len(line) and line[start] in "'\"":
        quote = line[start]
        n = start + 1
        while n < len(line):
            if line[n] == quote and not (quote == '"' and line[n - 1] == "\\"):
                if quote == "'" and n + 1 < len(line) and line[n + 1] == "'":
                    n += 2
                    continue
                return n + 1
            n += 1
        raise LocatorError("a quoted scalar spans lines; relctl edits single-line values only")
    comment = line.find(" #", start)
    end = comment if comment >= 0 else len(line.rstrip("\r\n"))
    return len(line[:end].rstrip()) if end > start else start


def round_trip() -> YAML:
    """ruamel.yaml's round-trip reader and writer, set to keep a file as people wrote it:
    quotes kept, lists indented under their key, no line folding."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def plain(value: str) -> bool:
    """Whether `value` may be written as a plain YAML scalar: YAML 1.2 (ruamel) and
    YAML 1.1 (kubectl's and most agents' reader, where `on`, `no`, `y` and `0o7` are
    not strings) both read it back as this string."""
    if not value or value.lower() in ("y", "n") or value.startswith(("*", "&", "!")):
        return False
    try:
        return bool(YAML(typ="safe").load(value) == value == yaml11(value))
    except (YAMLError, YAML11Error):
        return False


def _quoted(value: str, style: str = "") -> str:
    """A tag or image as a YAML scalar, in the quotes the old value had (`style`); a
    plain one quoted only when plain would read as another type (5.0, 1e3, true, on)."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style != '"' and plain(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
