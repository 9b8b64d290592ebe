"""The manifest reference in Markdown, generated from the JSON Schemas (and so from the
models) so the README can never drift from the code. A test compares the two."""

from __future__ import annotations

import json
from typing import Any

from controller.manifests import schemas
from controller.manifests.diagnostics import CODES
from controller.manifests.documents import KINDS
from controller.manifests.types import DURATION, LOCAL_DATE_TIME

BEGIN = "<!-- BEGIN GENERATED: manifest reference (relctl schema reference) -->"
END = "<!-- END GENERATED: manifest reference -->"


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        if all("format" in p for p in prop["anyOf"]):
            return " or ".join(p["format"] for p in prop["anyOf"])
        options = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(options)
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"map of {_type(extra)}" if isinstance(extra, dict) else "map"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    if prop.get("pattern") == DURATION:
        return "duration, e.g. `-14d`, `36h`"
    if prop.get("pattern") == LOCAL_DATE_TIME:
        return "date-time (offset optional)"
    if "pattern" in prop and kind == "string" and prop.get("examples"):
        return f"{kind}, e.g. `{prop['examples'][0]}`"
    return str(kind or "any")


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in prop:
        value = prop["default"]
        if value in ({}, [], None, ""):
            return ""
        return f"`{json.dumps(value)}`"
    return ""


def _table(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"#### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"].replace("\n", " "), ""]
    lines += ["| field | type | default | description |", "|---|---|---|---|"]
    required = set(schema.get("required", []))
    for field, prop in schema.get("properties", {}).items():
        description = prop.get("description", "").replace("\n", " ").replace("|", "\\|")
        lines.append(
            f"| `{field}` | {_type(prop)} | {_default(prop, field in required)} | {description} |"
        )
    return [*lines, ""]


def generate() -> str:
    """Markdown: one section per kind with every nested object, then the diagnostic codes."""
    combined = schemas.generate()[schemas.COMBINED]
    defs: dict[str, Any] = combined["$defs"]
    out: list[str] = []
    shown: set[str] = set()
    for kind in KINDS:
        out += [f"### {kind}", ""]
        queue = [f"{kind}Spec"] if f"{kind}Spec" in defs else []
        while queue:
            name = queue.pop(0)
            if name in shown:
                continue
            shown.add(name)
            out += _table(name, defs[name])
            text = json.dumps(defs[name])
            for ref in sorted({r for r in defs if f'"#/$defs/{r}"' in text}):
                if ref not in shown and ref not in KINDS:
                    queue.append(ref)
    out += ["### Diagnostic codes", "", "| code | meaning |", "|---|---|"]
    out += [f"| {code} | {meaning} |" for code, meaning in CODES.items()]
    return "\n".join(out).rstrip() + "\n"


def splice(document: str) -> str:
    """`document` with the text between the markers replaced by `generate()`."""
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return document[:start] + "\n\n" + generate() + "\n" + document[end:]
