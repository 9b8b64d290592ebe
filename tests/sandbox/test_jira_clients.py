"""The same operations through two Jira clients — pycontribs `jira` and
atlassian-python-api — against the emulator in both flavours (Cloud, REST v3; Data
Center, REST v2). Each test is one row: the operation and what real Jira answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest
import requests
from atlassian import Jira as Atlassian
from jira import JIRA, JIRAError

from controller.sandbox.jira import JiraSandbox

AUTH = ("dev@shop.example", "token")
SEED: dict[str, Any] = {
    "users": [{"email": AUTH[0], "token": AUTH[1]}],
    "projects": [
        {
            "key": "SHOP",
            "versions": [{"name": "2026.25", "releaseDate": "2026-12-08"}],
            "issues": [
                {"key": "SHOP-1", "summary": "Checkout", "fixVersions": ["2026.25"]},
                {"key": "SHOP-2", "summary": "Basket", "fixVersions": ["2026.25"]},
                {"key": "SHOP-3", "summary": "Search", "status": "Done"},
            ],
        }
    ],
}


class Missing(Exception):
    """Jira answered 404."""


class Refused(Exception):
    """Jira answered 400."""


class Driver(Protocol):
    def me(self) -> str: ...
    def versions(self, project: str) -> dict[str, bool]: ...
    def create_version(self, project: str, name: str) -> str: ...
    def release(self, version_id: str) -> None: ...
    def search(self, jql: str) -> list[str]: ...
    def comment(self, key: str, text: str) -> None: ...
    def comments(self, key: str) -> list[str]: ...
    def summary(self, key: str) -> str: ...


class Pycontribs:
    def __init__(self, sandbox: JiraSandbox) -> None:
        self.client = JIRA(server=sandbox.url, basic_auth=AUTH, max_retries=0)
        self.cloud = sandbox.state.flavor == "cloud"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except JIRAError as e:
            raise (Missing if e.status_code == 404 else Refused)(e.text) from None

    def me(self) -> str:
        return str(self._call(self.client.myself)["emailAddress"])

    def versions(self, project: str) -> dict[str, bool]:
        found = self._call(self.client.project_versions, project)
        return {v.name: bool(v.released) for v in found}

    def create_version(self, project: str, name: str) -> str:
        return str(self._call(self.client.create_version, name, project).id)

    def release(self, version_id: str) -> None:
        version = self._call(self.client.version, version_id)
        self._call(version.update, released=True)

    def search(self, jql: str) -> list[str]:
        if self.cloud:
            found = self._call(self.client.enhanced_search_issues, jql, fields="summary")
        else:
            found = self._call(self.client.search_issues, jql, fields="summary")
        return sorted(i.key for i in found)

    def comment(self, key: str, text: str) -> None:
        self._call(self.client.add_comment, key, text)

    def comments(self, key: str) -> list[str]:
        return [c.body for c in self._call(self.client.comments, key)]

    def summary(self, key: str) -> str:
        return str(self._call(self.client.issue, key, fields="summary").fields.summary)


class AtlassianApi:
    def __init__(self, sandbox: JiraSandbox) -> None:
        self.cloud = sandbox.state.flavor == "cloud"
        self.client = Atlassian(
            url=sandbox.url,
            username=AUTH[0],
            password=AUTH[1],
            cloud=self.cloud,
            api_version="3" if self.cloud else "2",
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except requests.HTTPError as e:
            status = e.response.status_code if e.response is not None else 0
            raise (Missing if status == 404 else Refused)(str(e)) from None

    def me(self) -> str:
        return str(self._call(self.client.myself)["emailAddress"])

    def versions(self, project: str) -> dict[str, bool]:
        found = self._call(self.client.get_project_versions, project)
        return {v["name"]: bool(v["released"]) for v in found}

    def create_version(self, project: str, name: str) -> str:
        project_id = self._call(self.client.get_project, project)["id"]
        return str(self._call(self.client.add_version, project, project_id, name)["id"])

    def release(self, version_id: str) -> None:
        self._call(self.client.update_version, version_id, is_released=True)

    def search(self, jql: str) -> list[str]:
        if self.cloud:
            found = self._call(self.client.enhanced_jql, jql, fields="summary")
        else:
            found = self._call(self.client.jql, jql, fields="summary")
        return sorted(i["key"] for i in found["issues"])

    def comment(self, key: str, text: str) -> None:
        # REST v3 (Cloud) takes a comment as an Atlassian Document only.
        body: Any = _document(text) if self.cloud else text
        self._call(self.client.issue_add_comment, key, body)

    def comments(self, key: str) -> list[str]:
        found = self._call(self.client.issue_get_comments, key)["comments"]
        return [_text(c["body"]) for c in found]

    def summary(self, key: str) -> str:
        return str(self._call(self.client.get_issue, key, fields="summary")["fields"]["summary"])


def _document(text: str) -> dict[str, Any]:
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    return {"type": "doc", "version": 1, "content": [paragraph]}


def _text(body: Any) -> str:
    """A comment body: a string (REST v2) or an Atlassian Document (REST v3)."""
    if isinstance(body, str):
        return body
    return "".join(
        node.get("text", "") for block in body.get("content", []) for node in block["content"]
    )


@pytest.fixture(
    params=[
        ("cloud", "jira"),
        ("cloud", "atlassian"),
        ("datacenter", "jira"),
        ("datacenter", "atlassian"),
    ],
    ids=lambda p: "-".join(p),
)
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    flavor, name = request.param
    with JiraSandbox(flavor) as sandbox:
        sandbox.state.seed(SEED)
        made = Pycontribs(sandbox) if name == "jira" else AtlassianApi(sandbox)
        yield made
        made.client.close()


def test_myself_is_the_caller(driver: Driver) -> None:
    assert driver.me() == AUTH[0]


def test_a_created_version_is_listed_unreleased_then_released(driver: Driver) -> None:
    made = driver.create_version("SHOP", "2026.26")
    assert driver.versions("SHOP") == {"2026.25": False, "2026.26": False}
    driver.release(made)
    assert driver.versions("SHOP")["2026.26"] is True


def test_a_version_of_a_project_that_does_not_exist_is_404(driver: Driver) -> None:
    with pytest.raises(Missing):
        driver.versions("NOPE")


def test_jql_finds_the_issues_of_a_fix_version(driver: Driver) -> None:
    assert driver.search('project = SHOP AND fixVersion = "2026.25"') == ["SHOP-1", "SHOP-2"]
    assert driver.search("project = SHOP AND status = Done") == ["SHOP-3"]


def test_jql_that_does_not_parse_is_400(driver: Driver) -> None:
    with pytest.raises(Refused):
        driver.search("project = = SHOP")


def test_a_comment_is_read_back_as_written(driver: Driver) -> None:
    driver.comment("SHOP-1", "Released in 2026.25")
    assert driver.comments("SHOP-1") == ["Released in 2026.25"]


def test_an_issue_that_does_not_exist_is_404(driver: Driver) -> None:
    assert driver.summary("SHOP-2") == "Basket"
    with pytest.raises(Missing):
        driver.summary("SHOP-404")


def test_rest_v3_refuses_a_comment_in_plain_text() -> None:
    """Jira Cloud's REST v3 takes rich text as an Atlassian Document: a plain string (what
    atlassian-python-api's issue_add_comment sends if given one) is a 400."""
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.seed(SEED)
        made = AtlassianApi(sandbox)
        with pytest.raises(Refused, match="Atlassian Document"):
            made._call(made.client.issue_add_comment, "SHOP-1", "plain")
        made.client.close()
