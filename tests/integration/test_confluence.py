"""Publishing to Confluence through the real reconciler and against the emulator: the
go/no-go document of a verdict becomes a page on the pass after it is recorded, its page
id and version recorded in git; a pass killed between publishing and recording adopts
its page instead of making a second; a person's edit is written over in a new version
that names theirs; the emulator's answers have the shapes Atlassian's OpenAPI gives."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from controller.adapters.confluence import ConfluenceClient, storage
from controller.manifests.notify import ConfluenceConfig
from controller.plan.records import from_yaml
from controller.sandbox.confluence import PERSON, ConfluenceSandbox
from controller.sandbox.world import World, git
from tests.integration.test_reconcile_life import run
from tests.support.world import at, reconciler

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
SPEC = REPO.parent / "shared" / "confluence" / "confluence-cloud-openapi-v2.json"
NO_GO_AT = at("2026-12-07T09:00:00+01:00")
TITLE = "shop-2026-25 2026.25: go/no-go 1"


def openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` able to resolve the description's `#/components/…` references."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    return {**schema, "components": spec["components"]}


def page_schema() -> dict[str, Any]:
    return openapi({"$ref": "#/components/schemas/PageSingle"})


@pytest.fixture
def wiki() -> Iterator[ConfluenceSandbox]:
    sandbox = ConfluenceSandbox().start()
    sandbox.space("SHOP", "Shop releases")
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def world(tmp_path: Path, wiki: ConfluenceSandbox) -> Iterator[World]:
    source = tmp_path / "source"
    shutil.copytree(SHOP, source)
    config = (source / "relctl.yaml").read_text(encoding="utf-8")
    (source / "relctl.yaml").write_text(config + "  confluence: {space: SHOP}\n", encoding="utf-8")
    world = World(
        source, tmp_path / "world", jira_seed=REPO / "tests/data/jira/shop.yaml", step=1.0
    )
    world.workspace.mkdir()
    world.simulate_time()
    with world:
        world.env.update({
            "RELCTL_CONFLUENCE_URL": wiki.url,
            "RELCTL_CONFLUENCE_EMAIL": wiki.email,
            "RELCTL_CONFLUENCE_TOKEN": wiki.token,
        })  # fmt: skip
        yield world


def publications(world: World) -> dict[str, Any]:
    text = git(world.remote, "show", "main:status/releases/shop-2026-25.yaml")
    return {p.path: p for p in from_yaml(text, "shop-2026-25").publications}


def test_a_verdicts_document_is_published_once_its_text_is_recorded(
    world: World, wiki: ConfluenceSandbox
) -> None:
    with reconciler(world) as r:
        run(world, r, "2026-11-23T12:00:00+01:00")
        run(world, r, NO_GO_AT)
        assert publications(world)["decisions/shop-2026-25-1.md"].state == "Pending"
        assert wiki.page(TITLE) is None
        run(world, r, NO_GO_AT + timedelta(minutes=1))
        run(world, r, NO_GO_AT + timedelta(minutes=2))  # nothing more to publish
    page = wiki.page(TITLE)
    assert page is not None and page["version"]["number"] == 1
    recorded = publications(world)["decisions/shop-2026-25-1.md"]
    assert (recorded.state, recorded.page, recorded.version) == ("Delivered", page["id"], 1)
    body = wiki.versions[page["id"]][-1]["storage"]
    assert "<table>" in body and "<td>blockers</td>" in body
    assert "<td>&lt;= 0</td>" in body  # the escaped Markdown, as text
    space = next(iter(wiki.spaces.values()))
    assert page["parentId"] == space["homepageId"]


def test_a_pass_killed_after_publishing_adopts_its_page(
    world: World, wiki: ConfluenceSandbox
) -> None:
    with reconciler(world) as r:
        run(world, r, "2026-11-23T12:00:00+01:00")
        run(world, r, NO_GO_AT)
        world.set_time(NO_GO_AT + timedelta(minutes=1))
        killed = r.run(NO_GO_AT + timedelta(minutes=1), may_record=lambda: False)
        assert killed.commit is None and wiki.page(TITLE) is not None
    with reconciler(world) as again:
        run(world, again, NO_GO_AT + timedelta(minutes=1))
    titles = [p["title"] for p in wiki.pages.values()]
    assert titles.count(TITLE) == 1  # no second page
    recorded = publications(world)["decisions/shop-2026-25-1.md"]
    assert (recorded.state, recorded.version) == ("Delivered", 2)  # the same text again


def test_a_persons_edit_is_written_over_in_a_version_that_names_it(wiki: ConfluenceSandbox) -> None:
    env = {"RELCTL_CONFLUENCE_URL": wiki.url, "RELCTL_CONFLUENCE_EMAIL": wiki.email,
           "RELCTL_CONFLUENCE_TOKEN": wiki.token}  # fmt: skip
    client = ConfluenceClient(ConfluenceConfig.model_validate({"space": "SHOP"}), env)
    try:
        first = client.publish("notes", "# Notes\n\nFirst.", "", 0)
        wiki.edit(first.page, "<p>A person's words.</p>")
        second = client.publish("notes", "# Notes\n\nSecond.", first.page, first.version)
    finally:
        client.close()
    assert (second.version, second.replaced) == (3, f"version 2 by {PERSON}")
    history = wiki.versions[first.page]
    assert history[1]["storage"] == "<p>A person's words.</p>"  # kept in the history
    assert history[2]["message"] == f"relctl: over version 2 by {PERSON}"


def test_hostile_markdown_becomes_text_not_markup() -> None:
    xhtml = storage("<script>alert(1)</script> <ac:structured-macro ac:name='html'/> & co")
    assert "<script>" not in xhtml and "<ac:" not in xhtml
    assert "&lt;script&gt;" in xhtml and "&amp; co" in xhtml


def test_the_emulator_answers_in_the_shapes_of_the_openapi(wiki: ConfluenceSandbox) -> None:
    auth = (wiki.email, wiki.token)
    api = f"{wiki.url}/wiki/api/v2"
    spaces = httpx.get(f"{api}/spaces", params={"keys": "SHOP"}, auth=auth).json()
    jsonschema.validate(spaces["results"][0], openapi({"$ref": "#/components/schemas/SpaceBulk"}))
    space = spaces["results"][0]["id"]
    made = httpx.post(f"{api}/pages", auth=auth, json={
        "spaceId": space, "status": "current", "title": "T",
        "body": {"representation": "storage", "value": "<p>x</p>"},
    })  # fmt: skip
    assert made.status_code == 200, made.text
    jsonschema.validate(made.json(), page_schema())
    page = made.json()["id"]
    got = httpx.get(f"{api}/pages/{page}", params={"body-format": "storage"}, auth=auth)
    jsonschema.validate(got.json(), page_schema())
    assert got.json()["body"]["storage"]["value"] == "<p>x</p>"
    listed = httpx.get(f"{api}/pages", params={"space-id": space, "title": "T"}, auth=auth).json()
    jsonschema.validate(listed["results"][0], openapi({"$ref": "#/components/schemas/PageBulk"}))
    stale = httpx.put(f"{api}/pages/{page}", auth=auth, json={
        "id": page, "status": "current", "title": "T", "version": {"number": 1},
        "body": {"representation": "storage", "value": "<p>y</p>"},
    })  # fmt: skip
    assert stale.status_code == 409
    assert "Current version is: 1" in stale.json()["errors"][0]["title"]
    broken = httpx.put(f"{api}/pages/{page}", auth=auth, json={
        "id": page, "status": "current", "title": "T", "version": {"number": 2},
        "body": {"representation": "storage", "value": "<p>unclosed"},
    })  # fmt: skip
    assert broken.status_code == 400
    twice = httpx.post(f"{api}/pages", auth=auth, json={
        "spaceId": space, "status": "current", "title": "T",
        "body": {"representation": "storage", "value": "<p>x</p>"},
    })  # fmt: skip
    assert twice.status_code == 400 and "already exists" in twice.text
    assert httpx.get(f"{api}/spaces", auth=("relctl@shop.example", "wrong")).status_code == 401


def test_data_center_takes_the_same_publication_through_the_content_api(
    wiki: ConfluenceSandbox,
) -> None:
    """flavor: datacenter: /rest/api/content with a personal access token (Bearer); a
    person's edit named as on Cloud."""
    env = {"RELCTL_CONFLUENCE_URL": wiki.url, "RELCTL_CONFLUENCE_TOKEN": wiki.token}
    settings = ConfluenceConfig.model_validate({"space": "SHOP", "flavor": "datacenter"})
    client = ConfluenceClient(settings, env)
    try:
        first = client.publish("dc notes", "# Notes\n\n| a |\n|---|\n| <b> |", "", 0)
        again = client.publish("dc notes", "# Notes\n\nAgain.", "", 0)  # found by title
        wiki.edit(first.page, "<p>A person's words.</p>")
        third = client.publish("dc notes", "# Notes\n\nThird.", first.page, again.version)
    finally:
        client.close()
    assert (first.version, again.page, again.version) == (1, first.page, 2)
    assert (third.version, third.replaced) == (4, "version 3 by person")
    assert [p["title"] for p in wiki.pages.values()].count("dc notes") == 1
    assert "<td>&lt;b&gt;</td>" in wiki.versions[first.page][0]["storage"]
    assert any(path.startswith("/rest/api/content") for _, path, _ in wiki.log)


def test_a_third_party_data_center_client_is_served(wiki: ConfluenceSandbox) -> None:
    """atlassian-python-api's Confluence client, with a personal access token, unchanged."""
    from atlassian import Confluence

    confluence = Confluence(url=wiki.url, token=wiki.token)
    made = confluence.create_page("SHOP", "From a client", "<p>one</p>")
    found = confluence.get_page_by_title("SHOP", "From a client")
    assert found["results"][0]["id"] == made["id"]
    confluence.update_page(made["id"], "From a client", "<p>two</p>")
    page = confluence.get_page_by_id(made["id"], expand="body.storage,version")
    assert page["body"]["storage"]["value"] == "<p>two</p>"
    assert page["version"]["number"] == 2
