"""The Jira emulator against what real Jira does (Atlassian's REST reference and the Cloud
OpenAPI in ../shared/jira). Each test names the behaviour it checks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from controller.sandbox import jira_seed
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.jira_state import DEFAULT_USER, JiraState, SeedError
from tests.conftest import DATA, REPO

AUTH = ("dev@shop.example", "token")
SEED: dict[str, Any] = {
    "users": [{"email": AUTH[0], "token": AUTH[1]}],
    "projects": [
        {
            "key": "SHOP",
            "versions": [{"name": "2026.25", "releaseDate": "2026-12-08"}],
            "issues": [{"key": "SHOP-1", "summary": "Checkout", "fixVersions": ["2026.25"]}],
        }
    ],
}


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraSandbox]:
    with JiraSandbox(request.param) as sandbox:
        sandbox.state.seed(SEED)
        yield sandbox


def api(sandbox: JiraSandbox) -> str:
    return f"{sandbox.url}/rest/api/{'3' if sandbox.state.flavor == 'cloud' else '2'}"


def test_without_a_seed_only_the_default_user_may_call() -> None:
    """Jira authenticates every caller against its accounts: the first caller does not
    become an account, and one caller's success does not lock the others out."""
    with JiraSandbox("cloud") as sandbox:
        myself = f"{sandbox.url}/rest/api/3/myself"
        assert httpx.get(myself, auth=("a@x", "1")).status_code == 401
        assert httpx.get(myself, auth=DEFAULT_USER).json()["emailAddress"] == DEFAULT_USER[0]
        assert httpx.get(myself, auth=("b@y", "2")).status_code == 401
        assert httpx.get(myself, auth=DEFAULT_USER).status_code == 200


def test_server_info_is_served_to_anyone(jira: JiraSandbox) -> None:
    """GET serverInfo needs no credentials; everything else does."""
    assert httpx.get(f"{api(jira)}/serverInfo").status_code == 200
    assert httpx.get(f"{api(jira)}/myself").status_code == 401
    assert httpx.get(f"{api(jira)}/serverInfo", auth=("x@y", "wrong")).status_code == 401


def test_myself_names_people_as_each_flavor_does(jira: JiraSandbox) -> None:
    """Cloud names people by accountId (GDPR mode); Data Center by username and key."""
    me = httpx.get(f"{api(jira)}/myself", auth=AUTH).json()
    if jira.state.flavor == "cloud":
        assert {"accountId", "accountType"} <= set(me) and "name" not in me
    else:
        assert {"name", "key"} <= set(me)
        assert not {"accountId", "accountType"} & set(me)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/issue/SHOP-1/comment?maxResults=abc", None),
        ("GET", "/issue/SHOP-1/comment?startAt=x", None),
        ("POST", "/version", {"projectId": "x", "name": "2026.26"}),
        ("SEARCH", "maxResults=abc", None),
    ],
)
def test_bad_parameters_are_answered_400(
    jira: JiraSandbox, method: str, path: str, body: Any
) -> None:
    """A parameter Jira cannot read is a 400 with errorMessages, not a dropped connection."""
    if method == "SEARCH":
        search = "search/jql" if jira.state.flavor == "cloud" else "search"
        method, path = "GET", f"/{search}?jql=project%20%3D%20SHOP&{path}"
    answer = httpx.request(method, f"{api(jira)}{path}", json=body, auth=AUTH)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorMessages"] or answer.json()["errors"]


def test_data_center_search_refuses_a_start_that_is_no_number() -> None:
    """Data Center's /search pages by startAt (Cloud's enhanced search by token)."""
    with JiraSandbox("datacenter") as sandbox:
        sandbox.state.seed(SEED)
        url = f"{sandbox.url}/rest/api/2/search"
        answer = httpx.get(url, params={"jql": "project = SHOP", "startAt": "x"}, auth=AUTH)
        assert answer.status_code == 400 and answer.json()["errorMessages"]


def test_a_version_update_takes_a_null_as_not_given(jira: JiraSandbox) -> None:
    """PUT version with `name: null` or `archived: null` leaves them as they are (what
    atlassian-python-api's update_version sends for what it does not change; the version
    is never renamed "None"); an empty name or a non-boolean is a 400. A null date clears
    the date."""
    versions = httpx.get(f"{api(jira)}/project/SHOP/versions", auth=AUTH).json()
    url = f"{api(jira)}/version/{versions[0]['id']}"
    nulls = {"name": None, "archived": None, "released": None, "description": None}
    assert httpx.put(url, json=nulls, auth=AUTH).status_code == 200
    after = httpx.get(url, auth=AUTH).json()
    assert after["name"] == "2026.25" and after["archived"] is False
    assert after["released"] is False and after["releaseDate"] == "2026-12-08"
    assert httpx.put(url, json={"name": " "}, auth=AUTH).status_code == 400
    assert httpx.put(url, json={"archived": "yes"}, auth=AUTH).status_code == 400
    assert httpx.put(url, json={"releaseDate": None}, auth=AUTH).status_code == 200
    assert "releaseDate" not in httpx.get(url, auth=AUTH).json()


def test_cloud_refuses_an_unbounded_query() -> None:
    """Cloud's enhanced search requires a search restriction."""
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.seed(SEED)
        url = f"{sandbox.url}/rest/api/3/search/jql"
        refused = httpx.get(url, params={"jql": "order by key"}, auth=AUTH)
        assert refused.status_code == 400
        assert "Unbounded JQL" in refused.json()["errorMessages"][0]
        found = httpx.get(url, params={"jql": "project = SHOP order by key"}, auth=AUTH)
        assert found.status_code == 200


def test_faults_are_injected_from_text() -> None:
    """`--fault PATH:STATUS[:retry-after=S][:times=N]`: the next N matching requests."""
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.seed(SEED)
        sandbox.inject_spec("myself:429:retry-after=2:times=2")
        url = f"{sandbox.url}/rest/api/3/myself"
        answers = [httpx.get(url, auth=AUTH) for _ in range(3)]
        assert [a.status_code for a in answers] == [429, 429, 200]
        assert answers[0].headers["Retry-After"] == "2"
        for bad in ("myself", "myself:200", "myself:429:wait=2", "myself:429:times=x", ":500"):
            with pytest.raises(ValueError, match=r"expected PATH:STATUS|is not retry-after"):
                sandbox.inject_spec(bad)


def test_relctl_sandbox_jira_takes_faults_and_says_who_may_call(tmp_path: Path) -> None:
    relctl = Path(sys.executable).parent / "relctl"
    process = subprocess.Popen(
        [str(relctl), "sandbox", "jira", "--port", "0", "--fault", "serverInfo:503:times=1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline() + process.stderr.readline()
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert f"call it as {DEFAULT_USER[0]} with the token {DEFAULT_USER[1]}" in banner
        info = f"{url}/rest/api/3/serverInfo"
        assert [httpx.get(info).status_code for _ in range(2)] == [503, 200]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    refused = subprocess.run(
        [str(relctl), "sandbox", "jira", "--fault", "serverInfo:ok"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2 and "--fault" in refused.stderr


# --- the seed format ----------------------------------------------------------------------


def test_the_seed_schema_is_fresh_and_the_shipped_seeds_follow_it() -> None:
    path = REPO / "schemas" / "sandbox" / "jira-seed.schema.json"
    assert path.read_text(encoding="utf-8") == jira_seed.dump(), "regenerate: see jira_seed"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    seeds = [*sorted((DATA / "jira").glob("*.yaml")), DATA / "histories" / "jira.yaml"]
    for seed in seeds:
        data = yaml.safe_load(seed.read_text(encoding="utf-8"))
        errors = list(
            jsonschema.Draft202012Validator(schema).iter_errors(
                json.loads(json.dumps(data, default=str))
            )
        )
        assert errors == [], (seed, errors[:3])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            {"projects": [{"key": "SHOP", "issues": [{"summary": "x", "status": "Doing"}]}]},
            "status 'Doing', which the workflow does not have",
        ),
        ({"projects": [{"key": "SHOP", "colour": "red"}]}, "projects.0.colour"),
        ({"users": [{"email": "a@b.c"}]}, "users.0.token"),
        (
            {"projects": [{"key": "SHOP", "issues": [{"key": "PAY-1", "summary": "x"}]}]},
            "PAY-1 is listed under project SHOP",
        ),
        ({"workflow": {"transitions": [{"name": "Ship", "to": "Shipped"}]}}, "'Shipped'"),
        ({"users": [{"email": "a@b.c", "token": "t", "projects": ["NOPE"]}]}, "NOPE"),
    ],
)
def test_a_bad_seed_is_refused_naming_where(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    """An unknown status no longer becomes To Do; any mistake names its place and loads
    nothing."""
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(change), encoding="utf-8")
    state = JiraState("cloud")
    with pytest.raises(SeedError, match=r"seed\.yaml") as refused:
        state.seed_file(path)
    assert named in str(refused.value)
    assert not state.projects and not state.issues


def test_a_user_sees_only_the_projects_it_may_browse() -> None:
    """A project one may not browse answers as a missing one does (404), and its issues
    are not found by search."""
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.seed(
            {
                "users": [
                    {"email": "all@shop.example", "token": "t"},
                    {"email": "pay@shop.example", "token": "t", "projects": ["PAY"]},
                ],
                "projects": [
                    {"key": "SHOP", "issues": [{"summary": "Checkout"}]},
                    {"key": "PAY", "issues": [{"summary": "Wallet"}]},
                ],
            }
        )
        url = f"{sandbox.url}/rest/api/3"
        limited, everyone = ("pay@shop.example", "t"), ("all@shop.example", "t")
        assert httpx.get(f"{url}/project/SHOP", auth=limited).status_code == 404
        assert httpx.get(f"{url}/project/SHOP", auth=everyone).status_code == 200
        assert httpx.get(f"{url}/issue/SHOP-1", auth=limited).status_code == 404
        assert [p["key"] for p in httpx.get(f"{url}/project", auth=limited).json()] == ["PAY"]
        search = f"{url}/search/jql"
        query = {"jql": "project in (SHOP, PAY) order by key", "fields": "key"}
        mine = httpx.get(search, params=query, auth=limited)
        assert mine.status_code == 400  # Jira: SHOP does not exist for this user
        found = httpx.get(search, params={"jql": "project = PAY", "fields": "key"}, auth=limited)
        assert [i["key"] for i in found.json()["issues"]] == ["PAY-1"]
        created = httpx.post(f"{url}/version", json={"project": "SHOP", "name": "x"}, auth=limited)
        assert created.status_code == 404


def test_the_listings_and_calls_the_jira_client_makes(jira: JiraSandbox) -> None:
    """Issue types, statuses, priorities and resolutions; a comment by its id; moving a
    version (pycontribs `jira`, as it calls them)."""
    from jira import JIRA

    client = JIRA(server=jira.url, basic_auth=AUTH)
    assert "Bug" in [t.name for t in client.issue_types()]
    statuses = {s.name: s.statusCategory.key for s in client.statuses()}
    assert statuses["Done"] == "done" and statuses["In Progress"] == "indeterminate"
    assert "Blocker" in [p.name for p in client.priorities()]
    assert "Done" in [r.name for r in client.resolutions()]
    posted = client.add_comment("SHOP-1", "Released in 2026.25")
    assert client.comment("SHOP-1", posted.id).id == posted.id
    with pytest.raises(Exception, match="404"):
        client.comment("SHOP-1", "999999")
    first = client.project_versions("SHOP")[0]
    later = client.create_version("2026.26", "SHOP")
    client.move_version(later.id, position="First")
    assert [v.name for v in client.project_versions("SHOP")] == ["2026.26", first.name]
    client.move_version(later.id, after=first.self)
    assert [v.name for v in client.project_versions("SHOP")] == [first.name, "2026.26"]


def test_expand_and_createmeta(jira: JiraSandbox) -> None:
    """`expand=names,renderedFields,changelog` on an issue; createmeta as the `jira`
    client asks for it (the legacy form on Cloud, per project and type on Data Center)."""
    from jira import JIRA

    client = JIRA(server=jira.url, basic_auth=AUTH)
    with jira.state.lock:
        jira.state.issues["SHOP-1"].description = "Pay <fast>\n\nthen ship"
    issue = client.issue("SHOP-1", expand="renderedFields,names,changelog")
    assert issue.renderedFields.description == "<p>Pay &lt;fast&gt;</p><p>then ship</p>"
    assert issue.names.summary == "Summary" and issue.changelog.total == 0
    plain = httpx.get(f"{api(jira)}/issue/SHOP-1", auth=AUTH).json()
    assert "names" not in plain and "renderedFields" not in plain
    if jira.state.flavor == "cloud":
        meta = client.createmeta(projectKeys="SHOP", expand="projects.issuetypes.fields")
        bug = next(t for t in meta["projects"][0]["issuetypes"] if t["name"] == "Bug")
        assert bug["fields"]["summary"]["required"] is True
    else:
        types = {t.name: t.id for t in client.project_issue_types("SHOP")}
        fields = {f.fieldId: f.required for f in client.project_issue_fields("SHOP", types["Bug"])}
        assert fields["summary"] is True and fields["labels"] is False
