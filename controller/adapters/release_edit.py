"""One field of a Release manifest changed in its file, everything else kept: the file is
edited round trip (ruamel.yaml), so its other documents, fields, comments and quoting
stay as people wrote them. Used by `relctl suspend`, `resume`, `abort`, `retry` and
`approve`. Nothing here touches git."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from controller.adapters.errors import AdapterError
from controller.adapters.locators import MAX_BYTES, plain, round_trip
from controller.errors import Disposition


class EditError(AdapterError):
    """The release's file cannot be edited as asked."""

    disposition = Disposition.STALLED


def _scalar(value: Any) -> Any:
    if isinstance(value, str) and (not plain(value) or "\n" in value):
        return DoubleQuotedScalarString(value)
    return value


def edit(
    text: str,
    name: str,
    where: str,
    set_fields: Mapping[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    approval: Mapping[str, str] | None = None,
) -> str:
    """The file's text with release `name`'s spec changed: `set_fields` set (added at the
    end of the spec when new), `remove` removed, `approval` appended to its approvals."""
    if len(text) > MAX_BYTES:
        raise EditError(f"{where} is larger than {MAX_BYTES // 1024} KiB")
    try:
        documents = list(round_trip().load_all(io.StringIO(text)))
    except YAMLError as exc:
        raise EditError(f"{where} is not YAML: {str(exc).splitlines()[0]}") from None
    found = [
        d
        for d in documents
        if isinstance(d, CommentedMap)
        and d.get("kind") == "Release"
        and isinstance(d.get("metadata"), Mapping)
        and d["metadata"].get("name") == name
    ]
    if len(found) != 1:
        raise EditError(f"{where} holds {len(found)} Release named {name}; expected one")
    spec = found[0].get("spec")
    if not isinstance(spec, CommentedMap):
        raise EditError(f"{where}: release {name} has no spec mapping")
    for key, value in (set_fields or {}).items():
        spec[key] = _scalar(value)
    for key in remove:
        spec.pop(key, None)
    if approval is not None:
        entry = CommentedMap((k, _scalar(v)) for k, v in approval.items())
        entry.fa.set_flow_style()
        approvals = spec.get("approvals")
        if approvals is None:
            approvals = CommentedSeq()
            spec["approvals"] = approvals
        if not isinstance(approvals, list):
            raise EditError(f"{where}: release {name}'s approvals is not a list")
        approvals.append(entry)
    out = io.StringIO()
    round_trip().dump_all(documents, out)
    written = out.getvalue()
    if text.startswith("---") is False and written.startswith("---\n"):
        written = written[4:]
    return written
