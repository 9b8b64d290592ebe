"""A popular third-party Jira client (the `jira` package) works against the emulator
unchanged, in both flavours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jira import JIRA

from controller.sandbox.jira import JiraSandbox

SEED = {
    "projects": [
        {
            "key": "PAY",
            "name": "Payments",
            "versions": [{"name": "2026.25"}],
            "issues": [
                {"summary": "Wallet", "fixVersions": ["2026.25"]},
                {"summary": "Crash", "type": "Bug"},
            ],
        }
    ]
}


@pytest.fixture(params=["cloud", "datacenter"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[JiraSandbox]:
    with JiraSandbox(request.param) as jira:
        jira.state.add_user("dev@shop.example", "token")
        jira.state.seed(SEED)
        yield jira


def test_jira_package_round_trip(sandbox: JiraSandbox) -> None:
    client = JIRA(server=sandbox.url, basic_auth=("dev@shop.example", "token"))
    expected = "Cloud" if sandbox.state.flavor == "cloud" else "Server"
    assert client.server_info()["deploymentType"] == expected
    assert client.project("PAY").name == "Payments"
    assert [v.name for v in client.project_versions("PAY")] == ["2026.25"]
    created = client.create_version("2026.26", "PAY", releaseDate="2026-12-22")
    assert sandbox.state.versions[int(created.id)].name == "2026.26"
    jql = 'project = PAY AND fixVersion = "2026.25"'
    found = (
        client.enhanced_search_issues(jql)
        if sandbox.state.flavor == "cloud"
        else client.search_issues(jql)
    )
    assert [(i.key, i.fields.summary) for i in found] == [("PAY-1", "Wallet")]
    client.add_comment("PAY-1", "Released.")
    assert [c.body for c in client.comments("PAY-1")] == ["Released."]
    client.transition_issue("PAY-1", "Done")
    assert client.issue("PAY-1").fields.status.name == "Done"
    assert [r for r in sandbox.log if r.status >= 400] == []
    client.close()
