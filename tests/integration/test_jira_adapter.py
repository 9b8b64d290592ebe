"""The Jira adapter over real HTTP against the emulator, in both flavours: paging,
incremental refresh, Retry-After, retries, credentials, hostile version names, idempotent
version writes, comments and transitions."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from controller.adapters.errors import AdapterError
from controller.adapters.jira import JiraClient, JiraError, settings_from
from controller.errors import Disposition
from controller.manifests.config import JiraConfig
from controller.plan.jql import quote
from controller.plan.observed import IssueCategory, StatusCategory
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.jira_state import Comment

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ENV = {"RELCTL_JIRA_EMAIL": "relctl@shop.example", "RELCTL_JIRA_TOKEN": "t0ps3cret"}


def config(flavor: str, page_size: int = 100) -> JiraConfig:
    return JiraConfig.model_validate(
        {
            "url": "https://jira.invalid",
            "flavor": flavor,
            "pageSize": page_size,
            "categories": {
                "breakingField": "customfield_10042",
                "migrationField": "customfield_10043",
            },
        }
    )


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraSandbox]:
    with JiraSandbox(request.param) as sandbox:
        sandbox.state.clock = NOW
        sandbox.state.add_user(ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"])
        yield sandbox


def client(sandbox: JiraSandbox, page_size: int = 100, **kwargs: object) -> JiraClient:
    env = {**ENV, "RELCTL_JIRA_URL": sandbox.url}
    return JiraClient(settings_from(config(sandbox.state.flavor, page_size), env), **kwargs)  # type: ignore[arg-type]


def seed_release(sandbox: JiraSandbox, issues: int = 250) -> None:
    state = sandbox.state
    for key in ("PAY", "SHOP", "OPS"):
        state.add_project(key)
    state.add_version("PAY", "2026.25")
    state.add_version("SHOP", "2026.25")
    for number in range(issues):
        project = "PAY" if number % 2 else "SHOP"
        state.add_issue(
            project,
            f"Change {number}",
            fix_versions=("2026.25",),
            issuetype=["Story", "Bug", "Improvement"][number % 3],
            status=["Done", "In Progress", "To Do"][number % 3],
        )
    state.add_issue("OPS", "Unrelated", fix_versions=("2026.25",))


def test_full_observe_pages_through_every_issue_in_one_search(jira: JiraSandbox) -> None:
    seed_release(jira, 250)
    with client(jira, page_size=50) as jc:
        seen = jc.observe({"PAY": ["2026.25"], "SHOP": ["2026.25"]}, now=NOW)
    assert len(seen.issues) == 250
    assert "OPS-1" not in seen.issues
    # the account's time zone + 2 version listings + ceil(250 / 50) pages, nothing else.
    assert seen.requests == 1 + 2 + 5
    searches = [r for r in jira.log if "/search" in r.path]
    assert len(searches) == 5
    issue = seen.issues["SHOP-1"]
    assert issue.status_category is StatusCategory.DONE and issue.done
    assert {v.name for v in seen.versions["PAY"]} == {"2026.25"}
    assert len(seen.issues_of(["PAY", "SHOP"], "2026.25")) == 250


def test_incremental_observe_fetches_only_what_changed(jira: JiraSandbox) -> None:
    seed_release(jira, 120)
    with client(jira, page_size=50) as jc:
        first = jc.observe({"PAY": ["2026.25"], "SHOP": ["2026.25"]}, now=NOW)
        jira.state.clock = NOW + timedelta(minutes=5)
        changed = jira.state.issues["PAY-2"]
        changed.status = "Done"
        jira.state.touch(changed)
        moved = jira.state.issues["SHOP-3"]
        moved.fix_versions = []
        jira.state.touch(moved)
        added = jira.state.add_issue("PAY", "Late addition", fix_versions=("2026.25",))
        second = jc.observe(
            {"PAY": ["2026.25"], "SHOP": ["2026.25"]},
            now=NOW + timedelta(minutes=6),
            previous=first,
        )
    assert second.requests <= 3
    assert second.issues["PAY-2"].done
    assert "SHOP-3" not in second.issues
    assert added.key in second.issues
    assert len(second.issues) == 120
    [query] = [r for r in jira.log if "/search" in r.path][-1:]
    assert 'updated >= "2026-11-23 11:59"' in (query.body or {}).get("jql", "")


def test_retry_after_is_honoured(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    jira.inject(429, retry_after=1, path="/versions")
    with client(jira) as jc:
        started = time.monotonic()
        assert jc.versions("PAY") == []
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0
    assert jc.waits == [1.0]
    assert [r.status for r in jira.log] == [429, 200]


def test_503_is_retried_with_capped_backoff(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    jira.inject(503, count=3)
    with client(jira, jitter=lambda: 0.01) as jc:
        assert jc.versions("PAY") == []
    assert jc.waits == [0.005, 0.01, 0.02]  # 0.5 s · 2^n with full jitter (here 1%)
    assert [r.status for r in jira.log] == [503, 503, 503, 200]


def test_giving_up_is_transient_and_a_long_retry_after_means_waiting(jira: JiraSandbox) -> None:
    jira.inject(503, count=10)
    with client(jira, jitter=lambda: 0.0) as jc, pytest.raises(JiraError) as failure:
        jc.versions("PAY")
    assert failure.value.disposition is Disposition.TRANSIENT
    assert "gave up after 5 attempts" in str(failure.value)
    jira.clear_faults()
    jira.inject(429, retry_after=600)
    with client(jira) as jc, pytest.raises(JiraError) as waiting:
        jc.versions("PAY")
    assert waiting.value.disposition is Disposition.WAITING
    assert waiting.value.requeue_after == 600


def test_bad_credentials_name_the_credential_not_the_secret(jira: JiraSandbox) -> None:
    env = {**ENV, "RELCTL_JIRA_URL": jira.url, "RELCTL_JIRA_TOKEN": "wrong-token-value"}
    with (
        JiraClient(settings_from(config(jira.state.flavor), env)) as jc,
        pytest.raises(JiraError) as failure,
    ):
        jc.server_info()
    message = str(failure.value)
    assert "$RELCTL_JIRA_TOKEN" in message
    assert "wrong-token-value" not in message
    assert failure.value.disposition is Disposition.STALLED


def test_missing_secret_is_reported(jira: JiraSandbox) -> None:
    env = {"RELCTL_JIRA_EMAIL": "a@b", "RELCTL_JIRA_URL": jira.url}
    with pytest.raises(
        AdapterError, match=r"needs \$RELCTL_JIRA_TOKEN \(or \$RELCTL_JIRA_TOKEN_FILE"
    ):
        settings_from(config(jira.state.flavor), env)


def test_the_url_comes_from_the_deployment_not_the_repository(jira: JiraSandbox) -> None:
    # relctl.yaml names https://jira.invalid: it is never where credentials go.
    with pytest.raises(AdapterError, match=r"set \$RELCTL_JIRA_URL"):
        settings_from(config(jira.state.flavor), ENV)
    settings = settings_from(config(jira.state.flavor), ENV, url=jira.url)
    assert settings.url == jira.url


@pytest.mark.parametrize(
    "url", ["http://relctl:t0ps3cret@127.0.0.1:9", "https://:t0ps3cret@jira.example"]
)
def test_credentials_in_the_url_are_refused_and_not_echoed(url: str) -> None:
    with pytest.raises(AdapterError) as refused:
        settings_from(config("cloud"), {**ENV, "RELCTL_JIRA_URL": url})
    assert "carries credentials" in str(refused.value)
    assert "t0ps3cret" not in str(refused.value)


def test_secret_files_are_confined_to_the_secrets_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "secrets", tmp_path / "repo"
    folder.mkdir()
    outside.mkdir()
    (folder / "token").write_text("t0ps3cret\n")
    (outside / ".git-credentials").write_text("https://u:git-token@host\n")
    base = {"RELCTL_JIRA_URL": "https://jira.example", "RELCTL_JIRA_EMAIL": "a@b"}
    env = {**base, "RELCTL_SECRETS_DIR": str(folder)}
    good = settings_from(config("cloud"), {**env, "RELCTL_JIRA_TOKEN_FILE": str(folder / "token")})
    assert good.token == "t0ps3cret"
    sneaky = str(folder / ".." / "repo" / ".git-credentials")
    with pytest.raises(AdapterError, match=r"outside \$RELCTL_SECRETS_DIR") as refused:
        settings_from(config("cloud"), {**env, "RELCTL_JIRA_TOKEN_FILE": sneaky})
    assert "git-token" not in str(refused.value)
    with pytest.raises(AdapterError, match="set one"):
        settings_from(
            config("cloud"),
            {**env, "RELCTL_JIRA_TOKEN": "x", "RELCTL_JIRA_TOKEN_FILE": str(folder / "token")},
        )


def test_unknown_project_is_named(jira: JiraSandbox) -> None:
    with client(jira) as jc, pytest.raises(JiraError, match="project NOPE: not found"):
        jc.versions("NOPE")


HOSTILE = [
    '2026.25" OR project = "OPS',
    "back\\slash",
    "and",
    "order by",
    "a, b",
    '"quoted"',
    "line\nbreak",
    "(paren)",
    "x ~ y",
    "ünïcødé 🚀",
]


def test_hostile_version_names_are_quoted_and_cannot_inject(jira: JiraSandbox) -> None:
    state = jira.state
    for key in ("PAY", "OPS"):
        state.add_project(key)
    for name in HOSTILE:
        state.add_issue("PAY", f"in {name!r}", fix_versions=(name,))
    state.add_issue("OPS", "decoy", fix_versions=("2026.25",))
    state.add_issue("PAY", "decoy in PAY", fix_versions=("2026.24",))
    with client(jira) as jc:
        seen = jc.observe({"PAY": HOSTILE}, now=NOW)
    [search] = [r for r in jira.log if "/search" in r.path]
    expected = (
        'project in ("PAY") AND fixVersion in ('
        + ", ".join(quote(v) for v in sorted(HOSTILE))
        + ") ORDER BY key ASC"
    )
    assert search.body["jql"] == expected
    assert '"2026.25\\" OR project = \\"OPS"' in expected
    assert "back\\\\slash" in expected and "line\\nbreak" in expected
    assert sorted(i.summary for i in seen.issues.values()) == sorted(
        f"in {name!r}" for name in HOSTILE
    )


def test_version_writes_are_idempotent(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    with client(jira) as jc:
        first = jc.ensure_version(
            "PAY", "2026.25", release_date=date(2026, 12, 8), description="Train shop-fortnightly"
        )
        again = jc.ensure_version("PAY", "2026.25", release_date=date(2026, 12, 8))
        moved = jc.ensure_version("PAY", "2026.25", release_date=date(2026, 12, 22))
        released = jc.release_version(moved, date(2026, 12, 23))
        writes = len([r for r in jira.log if r.method in ("POST", "PUT")])
        jc.release_version(released, date(2026, 12, 23))
        archived = jc.archive_version(released)
    assert first.id == again.id == moved.id == released.id
    assert moved.release_date == date(2026, 12, 22)
    assert released.released and released.release_date == date(2026, 12, 23)
    assert archived.archived
    assert writes == 3  # create, move, release: the repeats wrote nothing
    assert [v.name for v in jira.state.versions.values()] == ["2026.25"]


def test_comments_and_transitions_per_flavour(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    issue = jira.state.add_issue("PAY", "Ship it")
    with client(jira) as jc:
        jc.comment(issue.key, "Released in 2026.25.\n\nNotes: see git.")
        jc.transition(issue.key, "done")
        assert jc.comments(issue.key) == ["Released in 2026.25.\n\nNotes: see git."]
        with pytest.raises(JiraError, match="no transition named 'Teleport'"):
            jc.transition(issue.key, "Teleport")
    [post] = [r for r in jira.log if r.method == "POST" and r.path.endswith("/comment")]
    if jira.state.flavor == "cloud":
        assert post.path.startswith("/rest/api/3/") and post.body["body"]["type"] == "doc"
    else:
        assert post.path.startswith("/rest/api/2/") and isinstance(post.body["body"], str)
    assert jira.state.issues[issue.key].status == "Done"


def test_issue_classification(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    state = jira.state
    state.add_issue("PAY", "New wallet", fix_versions=("v1",), issuetype="Story")
    state.add_issue("PAY", "Crash", fix_versions=("v1",), issuetype="Bug", priority="Critical")
    state.add_issue(
        "PAY",
        "Drop v1 API",
        fix_versions=("v1",),
        issuetype="Task",
        labels=["breaking-change"],
        custom={"customfield_10043": "Move clients to /v2 first."},
    )
    state.add_issue("PAY", "Stop the line", fix_versions=("v1",), labels=["release-blocker"])
    state.add_issue(
        "PAY", "Schema", fix_versions=("v1",), custom={"customfield_10042": {"value": "Yes"}}
    )
    with client(jira) as jc:
        seen = jc.observe({"PAY": ["v1"]}, now=NOW)
    issues = seen.issues
    assert issues["PAY-1"].category is IssueCategory.FEATURE
    assert issues["PAY-2"].category is IssueCategory.BUG and issues["PAY-2"].critical
    assert issues["PAY-3"].category is IssueCategory.BREAKING
    assert issues["PAY-3"].migration_note == "Move clients to /v2 first."
    assert issues["PAY-4"].blocker
    assert issues["PAY-5"].category is IssueCategory.BREAKING


def test_flavour_endpoints(jira: JiraSandbox) -> None:
    auth = (ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"])
    if jira.state.flavor == "cloud":
        gone = httpx.get(f"{jira.url}/rest/api/3/search", params={"jql": ""}, auth=auth)
        assert gone.status_code == 410
        assert "search/jql" in gone.json()["errorMessages"][0]
    else:
        assert httpx.get(f"{jira.url}/rest/api/3/myself", auth=auth).status_code == 404
        bearer = {"Authorization": f"Bearer {ENV['RELCTL_JIRA_TOKEN']}"}
        assert httpx.get(f"{jira.url}/rest/api/2/myself", headers=bearer).status_code == 200


def test_every_call_has_a_timeout(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    jira.latency = 0.3
    settings = settings_from(config(jira.state.flavor), {**ENV, "RELCTL_JIRA_URL": jira.url})
    fast = dataclasses.replace(settings, timeout=0.05, max_attempts=2)
    with JiraClient(fast, jitter=lambda: 0.0) as jc, pytest.raises(JiraError) as failure:
        jc.versions("PAY")
    assert "did not answer the versions of project PAY within 0.05 s" in str(failure.value)
    assert failure.value.disposition is Disposition.TRANSIENT


def test_incremental_watermark_is_written_in_the_account_time_zone() -> None:
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.clock = NOW - timedelta(minutes=30)
        sandbox.state.add_user(
            ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"], time_zone="Europe/Berlin"
        )
        seed_release(sandbox, 20)
        with client(sandbox) as jc:
            first = jc.observe({"PAY": ["2026.25"]}, now=NOW)
            assert first.timezone == "Europe/Berlin"
            sandbox.state.clock = NOW + timedelta(minutes=5)
            sandbox.state.touch(sandbox.state.issues["PAY-2"])
            second = jc.observe(
                {"PAY": ["2026.25"]}, now=NOW + timedelta(minutes=6), previous=first
            )
        [search] = [r for r in sandbox.log if "/search" in r.path][-1:]
        # 11:59 UTC is 12:59 in Berlin. Written in UTC, Jira would read it as 10:59 UTC
        # and return every issue (created 11:30 UTC); written in Berlin time, only PAY-2.
        assert 'updated >= "2026-11-23 12:59"' in search.body["jql"]
        answer = httpx.post(
            f"{sandbox.url}/rest/api/3/search/jql",
            json={"jql": search.body["jql"], "fields": ["key"]},
            auth=(ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"]),
        )
        assert [i["key"] for i in answer.json()["issues"]] == ["PAY-2"]
        assert second.requests == 1
        assert len(second.issues) == 10


def late_answers(sandbox: JiraSandbox, writes: int, delay: float) -> list[str]:
    """The next `writes` writes are applied, but answered only after `delay` seconds."""
    slowed: list[str] = []

    def after_write(method: str, path: str) -> None:
        if len(slowed) < writes:
            slowed.append(f"{method} {path}")
            threading.Event().wait(delay)  # the reply comes late: a slow server

    sandbox.after_write = after_write
    return slowed


def test_a_comment_answered_late_is_posted_once(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    issue = jira.state.add_issue("PAY", "Ship it")
    slowed = late_answers(jira, writes=3, delay=1.0)
    settings = dataclasses.replace(
        settings_from(config(jira.state.flavor), {**ENV, "RELCTL_JIRA_URL": jira.url}),
        timeout=0.3,
    )
    with JiraClient(settings, sleep=lambda _: None) as jc:
        jc.comment(issue.key, "Released in 2026.25 <!-- relctl:x -->", marker="relctl:x")
    assert len(slowed) == 1  # the first POST landed; the retry found it and posted nothing
    assert len(jira.state.issues[issue.key].comments) == 1


def test_a_version_created_but_answered_late_is_created_once(jira: JiraSandbox) -> None:
    jira.state.add_project("PAY")
    slowed = late_answers(jira, writes=1, delay=1.0)
    settings = dataclasses.replace(
        settings_from(config(jira.state.flavor), {**ENV, "RELCTL_JIRA_URL": jira.url}),
        timeout=0.3,
    )
    with JiraClient(settings, sleep=lambda _: None) as jc:
        version = jc.create_version("PAY", "2026.25")
    assert version.name == "2026.25"
    assert slowed == ["POST " + jc.path("version")]
    assert [v.name for v in jira.state.versions.values()] == ["2026.25"]


def test_a_version_not_created_yet_costs_no_other_release_its_issues(jira: JiraSandbox) -> None:
    """A release whose fixVersion is not in Jira yet: Jira refuses a search naming it
    (400 "does not exist for the field 'fixVersion'"), so it is not named."""
    seed_release(jira, 10)
    with client(jira) as jc:
        seen = jc.observe({"PAY": ["2026.25", "2026.26"], "SHOP": ["2026.25", "2027.1"]}, now=NOW)
        assert len(seen.issues) == 10
        assert seen.version("PAY", "2026.26") is None
        searches = len([r for r in jira.log if "/search" in r.path])
        nothing = jc.observe({"PAY": ["2026.26"]}, now=NOW)
    assert nothing.issues == {} and nothing.watched == {("PAY", "2026.26")}
    assert len([r for r in jira.log if "/search" in r.path]) == searches  # none was needed


def test_a_newly_watched_version_is_observed_in_full(jira: JiraSandbox) -> None:
    """Issues of a version first watched after the first pass, not updated since: an
    incremental search (updated >= the last pass) would never see them."""
    seed_release(jira, 6)
    old = jira.state.add_issue(
        "PAY", "Shipped long ago", fix_versions=("2026.24",), created=NOW - timedelta(days=30)
    )
    with client(jira) as jc:
        first = jc.observe({"PAY": ["2026.25"]}, now=NOW)
        assert old.key not in first.issues
        jira.state.clock = NOW + timedelta(hours=2)
        second = jc.observe(
            {"PAY": ["2026.24", "2026.25"]}, now=NOW + timedelta(hours=2), previous=first
        )
        assert [i.key for i in second.issues_of(["PAY"], "2026.24")] == [old.key]
        assert len(second.issues_of(["PAY"], "2026.25")) == 3
        # Watching the same pairs (or fewer) again is incremental: one search.
        third = jc.observe({"PAY": ["2026.24"]}, now=NOW + timedelta(hours=3), previous=second)
    assert third.requests == 1
    assert [i.key for i in third.issues_of(["PAY"], "2026.24")] == [old.key]


def test_comments_are_read_past_the_first_page(jira: JiraSandbox) -> None:
    """Jira pages comments (100 at most): relctl's marker on the 150th comment is found,
    so the executor does not comment again."""
    jira.state.add_project("PAY")
    issue = jira.state.add_issue("PAY", "Busy issue")
    with client(jira) as jc:
        for n in range(149):
            issue.comments.append(
                Comment(jira.state.next_id("comment"), f"comment {n}", "someone", NOW)
            )
        jc.comment(issue.key, "Released.\n\nRecorded by relctl release r1.", "relctl release r1")
        first_page = jira.log[-1]
        texts = jc.comments(issue.key)
    assert len(texts) == 150
    assert "relctl release r1" in texts[-1]
    pages = [r for r in jira.log if r.method == "GET" and r.path.endswith("/comment")]
    assert len(pages) == 2 and first_page.method == "POST"
