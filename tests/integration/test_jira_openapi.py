"""The Jira emulator's responses validate against Atlassian's published OpenAPI schemas
(`../shared/jira/`) for every operation it serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from controller.sandbox.jira import JiraSandbox
from tests.conftest import REPO

SPEC_FILE = REPO.parent / "shared" / "jira" / "jira-cloud-platform-openapi-v3.json"
SPEC: dict[str, Any] = json.loads(SPEC_FILE.read_text()) if SPEC_FILE.exists() else {}
REGISTRY = Registry().with_resource(
    "urn:jira", Resource.from_contents(SPEC, default_specification=DRAFT7)
)
AUTH = ("dev@shop.example", "token")


def schema_for(method: str, template: str, status: str) -> dict[str, Any]:
    operation = SPEC["paths"][template][method.lower()]
    content = operation["responses"][status].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    assert schema is not None, f"{method} {template} {status} has no JSON schema"
    return _rebase(schema)


def _rebase(schema: Any) -> Any:
    """Point the document's local references at the registered resource."""
    if isinstance(schema, dict):
        return {
            k: ("urn:jira" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def check(response: httpx.Response, method: str, template: str) -> None:
    status = str(response.status_code)
    schema = (
        _rebase({"$ref": "#/components/schemas/ErrorCollection"})
        if response.status_code >= 400
        else schema_for(method, template, status)
    )
    errors = sorted(
        Draft7Validator(schema, registry=REGISTRY).iter_errors(response.json()), key=str
    )
    assert errors == [], f"{method} {template}: {errors[0].message} at {list(errors[0].path)}"


@pytest.fixture
def jira() -> Iterator[tuple[JiraSandbox, httpx.Client]]:
    if not SPEC:
        pytest.fail(f"{SPEC_FILE} is missing: CI runs with ../shared beside the repository")
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.add_user(*AUTH)
        sandbox.state.seed(
            {
                "projects": [
                    {
                        "key": "PAY",
                        "name": "Payments",
                        "versions": [{"name": "2026.25", "releaseDate": "2026-12-08"}],
                        "issues": [
                            {"summary": "Wallet", "fixVersions": ["2026.25"], "labels": ["x"]}
                        ],
                    }
                ]
            }
        )
        with httpx.Client(base_url=sandbox.url + "/rest/api/3", auth=AUTH) as http:
            yield sandbox, http


def test_read_operations(jira: tuple[JiraSandbox, httpx.Client]) -> None:
    _, http = jira
    check(http.get("/serverInfo"), "GET", "/rest/api/3/serverInfo")
    check(http.get("/myself"), "GET", "/rest/api/3/myself")
    check(http.get("/project/PAY"), "GET", "/rest/api/3/project/{projectIdOrKey}")
    check(http.get("/project/PAY/versions"), "GET", "/rest/api/3/project/{projectIdOrKey}/versions")
    check(http.get("/issue/PAY-1"), "GET", "/rest/api/3/issue/{issueIdOrKey}")
    check(
        http.get("/issue/PAY-1/transitions"), "GET", "/rest/api/3/issue/{issueIdOrKey}/transitions"
    )
    check(http.get("/issue/PAY-1/comment"), "GET", "/rest/api/3/issue/{issueIdOrKey}/comment")
    check(http.get("/field"), "GET", "/rest/api/3/field")


def test_search_operations(jira: tuple[JiraSandbox, httpx.Client]) -> None:
    _, http = jira
    body = {
        "jql": 'project = "PAY"',
        "fields": ["summary", "status", "fixVersions"],
        "maxResults": 1,
    }
    check(http.post("/search/jql", json=body), "POST", "/rest/api/3/search/jql")
    check(
        http.get("/search/jql", params={"jql": "project = PAY", "fields": "*all"}),
        "GET",
        "/rest/api/3/search/jql",
    )
    check(
        http.get("/search/jql", params={"jql": "project = NOPE"}), "GET", "/rest/api/3/search/jql"
    )


def test_write_operations(jira: tuple[JiraSandbox, httpx.Client]) -> None:
    sandbox, http = jira
    created = http.post(
        "/version",
        json={"name": "2026.26", "project": "PAY", "releaseDate": "2026-12-22", "description": "x"},
    )
    assert created.status_code == 201
    check(created, "POST", "/rest/api/3/version")
    version = created.json()["id"]
    check(
        http.put(f"/version/{version}", json={"released": True}), "PUT", "/rest/api/3/version/{id}"
    )
    check(http.get(f"/version/{version}"), "GET", "/rest/api/3/version/{id}")
    check(
        http.post("/version", json={"name": "2026.26", "project": "PAY"}),
        "POST",
        "/rest/api/3/version",
    )
    comment = {
        "body": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Released."}]}],
        }
    }
    posted = http.post("/issue/PAY-1/comment", json=comment)
    assert posted.status_code == 201
    check(posted, "POST", "/rest/api/3/issue/{issueIdOrKey}/comment")
    assert (
        http.post("/issue/PAY-1/transitions", json={"transition": {"id": "13"}}).status_code == 204
    )
    assert sandbox.state.issues["PAY-1"].status == "Done"
