"""The committed JSON Schemas equal the generated ones, and agree with the models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from controller.manifests import schemas
from controller.manifests.yamlsource import parse
from tests.conftest import DATA, REPO

COMMITTED = REPO / "schemas"
COMBINED = json.loads((COMMITTED / schemas.COMBINED).read_text())


def test_committed_schemas_equal_generated() -> None:
    generated = schemas.generate()
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == sorted(generated)
    for name, schema in generated.items():
        assert (COMMITTED / name).read_text() == schemas.dump(schema), (
            f"schemas/{name} is stale: run 'relctl schema export'"
        )


@pytest.mark.parametrize("name", sorted(p.name for p in COMMITTED.glob("*.json")))
def test_schemas_are_valid_draft_2020_12_with_ids(name: str) -> None:
    schema = json.loads((COMMITTED / name).read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(name)
    assert "$ref" not in json.dumps(schema).replace('"$ref": "#/', "")  # self-contained


def _documents(*roots: Path) -> list[object]:
    found = []
    for root in roots:
        for file in sorted(root.rglob("*.yaml")):
            if "ci" in file.relative_to(root).parts or file.name == "cases.yaml":
                continue
            found.extend(d.data for d in parse(file.read_text()) if d.data is not None)
    return found


def test_every_shipped_manifest_satisfies_the_schema() -> None:
    validator = Draft202012Validator(COMBINED)
    documents = _documents(REPO / "releases", REPO / "examples") + _documents_at_root()
    assert len(documents) > 30
    for document in documents:
        errors = list(validator.iter_errors(document))
        assert errors == [], errors[0].message if errors else ""


def _documents_at_root() -> list[object]:
    return [d.data for d in parse((REPO / "relctl.yaml").read_text())]


@pytest.mark.parametrize(
    "case",
    [
        "schema-unknown-field.yaml",
        "schema-unknown-kind.yaml",
        "schema-missing-field.yaml",
        "schema-lowercase-jira-key.yaml",
        "schema-bad-duration.yaml",
        "schema-empty-components.yaml",
        "schema-bad-enum.yaml",
    ],
)
def test_schema_rejects_what_the_models_reject(case: str) -> None:
    validator = Draft202012Validator(COMBINED)
    documents = [d.data for d in parse((DATA / "invalid" / case).read_text())]
    assert any(list(validator.iter_errors(doc)) for doc in documents)


def test_descriptions_reach_editors() -> None:
    release = COMBINED["$defs"]["ReleaseSpec"]["properties"]
    assert "fixVersion" in release["version"]["description"]
    assert COMBINED["$defs"]["ComponentSpec"]["additionalProperties"] is False


def test_readme_reference_is_current() -> None:
    from controller.manifests import reference

    readme = (REPO / "README.md").read_text()
    assert reference.splice(readme) == readme, (
        "README.md is stale: run 'relctl schema reference --update README.md'"
    )
