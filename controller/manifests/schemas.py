"""JSON Schemas (Draft 2020-12) generated from the models, for editors and other tools.

One schema per kind, plus `relctl.schema.json` that accepts any manifest and picks the
kind's schema by `kind` (use it in a `# yaml-language-server: $schema=` modeline). Every
schema is self-contained: no reference leaves the file, so nothing is ever fetched.
"""

from __future__ import annotations

import json
from typing import Any

from controller import API_VERSION
from controller.manifests.documents import KINDS

BASE_URI = "https://relctl.dev/schemas/v1alpha1/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
COMBINED = "relctl.schema.json"


def file_name(kind: str) -> str:
    return f"{kind.lower()}.schema.json"


def _kind_schema(kind: str) -> dict[str, Any]:
    model = KINDS[kind]
    body = model.model_json_schema(by_alias=True, mode="validation")
    body.pop("title", None)
    return {
        "$schema": DRAFT,
        "$id": BASE_URI + file_name(kind),
        "title": f"relctl {kind} ({API_VERSION})",
        **body,
    }


def generate() -> dict[str, dict[str, Any]]:
    """File name → schema, for every kind and the combined schema."""
    schemas = {file_name(kind): _kind_schema(kind) for kind in KINDS}
    defs: dict[str, Any] = {}
    branches = []
    for kind in KINDS:
        schema = _kind_schema(kind)
        for name, definition in schema.pop("$defs", {}).items():
            if defs.setdefault(name, definition) != definition:  # pragma: no cover
                raise ValueError(f"two models are both named {name}")
        for key in ("$schema", "$id", "title"):
            schema.pop(key)
        defs[kind] = schema
        branches.append(
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{kind}"},
            }
        )
    schemas[COMBINED] = {
        "$schema": DRAFT,
        "$id": BASE_URI + COMBINED,
        "title": f"relctl manifest ({API_VERSION})",
        "description": "Any relctl manifest; the schema of its kind applies.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"enum": list(KINDS)},
        },
        "allOf": branches,
        "$defs": defs,
    }
    return schemas


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
