"""The dashboard over real git and real sockets: which commit recorded each decision (read
again only from the last head on), basic auth and the security headers of the live pages,
and `relctl dashboard build` writing a whole site or nothing."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from controller.cli import cli
from controller.manifests.loading import load
from controller.plan.records import DecisionKind, DecisionRecord, Phase, ReleaseStatus, to_yaml
from controller.reconcile.dashboard import Dashboard
from controller.reconcile.loop import Controller, View
from controller.reconcile.passes import Reconciler
from controller.reconcile.server import Server
from tests.conftest import SHOP

T = datetime(2026, 12, 7, 8, tzinfo=UTC)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "manifests")
    return root


def record(root: Path, name: str, *decisions: DecisionRecord, message: str) -> str:
    status = ReleaseStatus(name, "2026.25", Phase.DECIDING, decisions=decisions)
    path = root / "status" / "releases" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(status), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD")


def decision(kind: DecisionKind, minutes: int) -> DecisionRecord:
    return DecisionRecord(kind, T + timedelta(minutes=minutes), f"{kind.value} because")


def test_each_decision_links_the_commit_that_recorded_it(shop: Path) -> None:
    state = load(shop).states[0]
    settings = state.config.spec.git
    no_go = decision(DecisionKind.NO_GO, 0)
    go = decision(DecisionKind.GO, 60)
    first = record(shop, "shop-2026-25", no_go, message="relctl: shop-2026-25 NO_GO")
    (shop / "README").write_text("unrelated\n")
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "a person's commit")
    second = record(shop, "shop-2026-25", no_go, go, message="relctl: shop-2026-25 GO")
    dashboard = Dashboard(shop)
    found = dashboard.snapshot(state, settings, T).history
    assert found.decisions == {
        ("shop-2026-25", "NO_GO", no_go.at.isoformat()): first,
        ("shop-2026-25", "GO", go.at.isoformat()): second,
    }
    assert set(found.commits) == {first, second}  # the person's commit records nothing
    assert found.commits[second].subject == "relctl: shop-2026-25 GO"

    # A later commit is read from the last head on, and agrees with a whole read.
    rollout = decision(DecisionKind.ROLLOUT, 120)
    third = record(shop, "shop-2026-25", no_go, go, rollout, message="relctl: ROLLOUT")
    later = dashboard.snapshot(state, settings, T).history
    assert later.decisions[("shop-2026-25", "ROLLOUT", rollout.at.isoformat())] == third
    assert later == Dashboard(shop).snapshot(state, settings, T).history

    # History rewritten (an amended commit): read whole again, nothing stale kept.
    git(shop, "commit", "--amend", "-qm", "relctl: ROLLOUT (amended)")
    amended = git(shop, "rev-parse", "HEAD")
    rewritten = dashboard.snapshot(state, settings, T).history
    assert rewritten.decisions[("shop-2026-25", "ROLLOUT", rollout.at.isoformat())] == amended
    assert third not in rewritten.commits


@pytest.fixture
def served(shop: Path):  # type: ignore[no-untyped-def]
    record(shop, "shop-2026-25", decision(DecisionKind.NO_GO, 0), message="relctl: NO_GO")
    controller = Controller(Reconciler(shop, {}))
    state = load(shop).states[0]
    controller.view = View(state, {}, None, T)
    credentials: list[tuple[str, str] | None] = [None]
    server = Server(
        controller,
        "127.0.0.1",
        0,
        lambda: None,
        dashboard=Dashboard(shop),
        auth=lambda: credentials[0],
    ).start()
    try:
        yield server, credentials
    finally:
        server.stop()


def test_live_pages_carry_the_policy_and_redirect_to_their_folder(served) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        page = http.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        moved = http.get("/releases/shop-2026-25")
        assert moved.status_code == 308 and moved.headers["location"] == "shop-2026-25/"
        assert http.get("/releases/shop-2026-25/").status_code == 200
        assert http.get("/no/such/page/").status_code == 404
        assert http.post("/").status_code == 404  # read-only: nothing but GET


def test_basic_auth_guards_the_pages_but_not_health_or_the_webhook(served) -> None:  # type: ignore[no-untyped-def]
    server, credentials = served
    credentials[0] = ("release", "s3cret:with:colons")
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        for path in ("/", "/releases/shop-2026-25/", "/calendar.ics", "/api/status"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith('Basic realm="relctl"')
        assert http.get("/", auth=("release", "wrong")).status_code == 401
        assert http.get("/", auth=("someone", "s3cret:with:colons")).status_code == 401
        assert http.get("/", headers={"authorization": "Basic !!!"}).status_code == 401
        assert http.get("/", auth=("release", "s3cret:with:colons")).status_code == 200
        assert http.get("/healthz").status_code in (200, 500)
        assert http.get("/readyz").status_code in (200, 503)
        assert http.post("/webhook", content=b"{}").status_code == 401  # its own check


def test_build_writes_a_whole_site_and_never_over_someone_elses_folder(shop: Path) -> None:
    record(shop, "shop-2026-25", decision(DecisionKind.NO_GO, 0), message="relctl: NO_GO")
    runner = CliRunner()
    out = shop.parent / "site"
    args = ["dashboard", "build", "--root", str(shop), "--out", str(out), "--now", T.isoformat()]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert (out / "index.html").is_file() and (out / "releases/shop-2026-25/index.html").is_file()
    assert "NO_GO" in (out / "releases/shop-2026-25/index.html").read_text()
    again = runner.invoke(cli, args)  # an earlier build is replaced whole
    assert again.exit_code == 0, again.output
    other = shop.parent / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("mine\n")
    refused = runner.invoke(cli, [*args[:-4], "--out", str(other), "--now", T.isoformat()])
    assert refused.exit_code == 2 and "not a dashboard build" in refused.output
    assert sorted(p.name for p in other.iterdir()) == ["keep.txt"]
    bad = runner.invoke(cli, [*args, "--commit-url", "javascript:alert(1)/{sha}"])
    assert bad.exit_code == 2 and "http(s) URL" in bad.output
