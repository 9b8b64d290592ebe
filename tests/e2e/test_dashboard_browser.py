"""The dashboard in a real browser (Debian's Chromium, driven by Playwright): the live
controller in the sandbox world, then the static build of the same repository, then a
repository full of hostile values.

Live, the controller lives through a blocked hotfix (it waits for the US allow window),
a rollback (a bad image, rolled back automatically) and a NO_GO (a blocker and a missing
approval); at each, the release page says why it is where it is. Every page loads with
no console error, no failed request and nothing fetched from elsewhere; the overview
leads to a release and the release to the commit that recorded its decision; the
calendar filters."""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import icalendar
import pytest
import yaml
from click.testing import CliRunner

from controller.cli import cli
from controller.plan.records import DecisionKind, DecisionRecord, Evidence, Phase, ReleaseStatus
from controller.plan.records import to_yaml as record_yaml
from controller.reconcile.dashboard import Dashboard
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.passes import Reconciler
from controller.reconcile.server import Server
from controller.sandbox.world import World, git
from tests.support.browser import Browser, Watched, chromium
from tests.support.replicas import wait_for
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
BAD = "registry.shop.example/shop/notifications:1.9.0"
HOSTILE_SUMMARY = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'


class Live:
    """The controller's loop on a thread of its own, on a clock the test moves."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.now = at("2026-11-23T12:00:00+01:00")
        world.set_time(self.now)
        self.controller = Controller(
            Reconciler(world.controller, {**os.environ, **world.env}),
            clock=lambda: self.now,
            timing=Timing(interval=3600, retry=0.2),
        )
        self.server = Server(
            self.controller, "127.0.0.1", 0, lambda: None, dashboard=Dashboard(world.controller)
        ).start()
        self.url = f"http://127.0.0.1:{self.server.port}/"
        self.thread = threading.Thread(target=self.controller.run, daemon=True)
        self.thread.start()
        wait_for("the first pass", lambda: self.controller.view.report is not None)

    def pass_at(self, when: datetime) -> None:
        self.now = when
        self.world.set_time(when)
        before = self.controller.view.report
        self.controller.request_pass("test")
        wait_for(
            f"a pass at {when}",
            lambda: (view := self.controller.view).report is not before and view.at == when,
        )
        report = self.controller.view.report
        assert report is not None and report.error is None, report and report.error

    def stop(self) -> None:
        self.controller.stop()
        self.thread.join(timeout=30)
        self.server.stop()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    world = World(SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD, step=1.0)
    world.simulate_time()
    with world:
        running = Live(world)
        try:
            yield running
        finally:
            running.stop()


def clean(watched: Watched) -> Watched:
    assert watched.problems == [], watched.problems
    assert watched.dialogs == [], watched.dialogs
    return watched


def release_page(browser: Browser, base: str, name: str) -> Watched:
    """From the overview, by its link, to the release's page."""
    overview = clean(browser.open(base))
    overview.page.locator(f"a.release-link:text-is('{name}')").click()
    overview.page.wait_for_load_state("load")
    assert overview.page.url.rstrip("/").endswith(f"/releases/{name}")
    return clean(overview)


def follow_commit(watched: Watched, release: str) -> None:
    """The first decision's commit link opens the commit that recorded it."""
    watched.page.locator(".entry-decision a.commit").first.click()
    watched.page.wait_for_load_state("load")
    assert "/commits/" in watched.page.url
    assert release in watched.page.locator(".subject").inner_text()
    assert release in watched.page.locator("dl.facts").inner_text()
    clean(watched)


def check_calendar(browser: Browser, base: str, live: bool) -> None:
    page = clean(browser.open(f"{base}calendar/2026-12/"))
    every = page.visible_events()
    assert every > 5
    page.page.select_option("#filter-team", "team-payments")
    kept = page.visible_events()
    assert 0 < kept < every
    teams = page.page.locator(".event:visible").evaluate_all(
        "els => els.map(e => e.getAttribute('data-team'))"
    )
    assert all(t == "*" or "team-payments" in t.split("\x1f") for t in teams), teams
    link = page.page.locator("#ics").get_attribute("href") or ""
    if live:  # the feed of the same filter, from the controller
        assert link.endswith("calendar.ics?team=team-payments")
        feed = httpx.get(httpx.URL(page.page.url).join(link), timeout=10)
        events = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
        summaries = [str(e["SUMMARY"]) for e in events]
        assert summaries and not any("notifications" in s for s in summaries), summaries
    clean(page)


def test_the_live_dashboard_and_its_static_build_in_a_browser(live: Live, tmp_path: Path) -> None:
    world = live.world
    with chromium() as browser:
        # A hotfix on a Saturday: GO, but prod-us deploys only in US business hours.
        live.pass_at(at("2026-11-28T11:00:00+01:00"))
        hotfix = release_page(browser, live.url, "payments-hotfix-2-4-1")
        assert hotfix.why() == (
            "GO, waiting for us-business-hours to open: it goes at 2026-11-30 14:00 Europe/Berlin."
        )
        follow_commit(hotfix, "payments-hotfix-2-4-1")

        # A bad image: rolled back by itself. A Jira summary turns hostile meanwhile.
        world.clusters["prod-eu"].rollouts.mark_bad(BAD)
        with world.jira.state.lock:
            world.jira.state.issues["PAY-232"].summary = HOSTILE_SUMMARY
        now = at("2026-12-03T16:00:00+01:00")
        for _ in range(10):
            live.pass_at(now)
            if live.controller.view.statuses["notifications-1-9"].phase is Phase.ROLLED_BACK:
                break
            now += timedelta(minutes=1)
            world.advance(60.0)
        rolled = release_page(browser, live.url, "notifications-1-9")
        assert re.fullmatch(
            r"Rolled back at 2026-12-03 \d\d:\d\d Europe/Berlin \(notifications\): "
            r"notifications: .+\.",
            rolled.why(),
        ), rolled.why()

        # The go/no-go: a blocker open and the product owner's approval missing.
        live.pass_at(at("2026-12-07T09:00:00+01:00"))
        no_go = release_page(browser, live.url, "shop-2026-25")
        assert no_go.why().startswith("NO_GO: 1 blocker (SHOP-107), ")
        assert "product-owner approval missing" in no_go.why()
        table = no_go.page.locator("table.criteria").first.inner_text()
        assert "blockers" in table and "approvals" in table
        no_go.shot("release")
        clean(browser.open(live.url)).shot("overview")

        # The hotfix was released with notes made from Jira: the hostile summary is text.
        notes = release_page(browser, live.url, "payments-hotfix-2-4-1")
        assert (
            "<script>window.__pwned=1</script>" in notes.page.locator("article.notes").inner_text()
        )
        assert notes.page.evaluate("window.__pwned") is None
        check_calendar(browser, live.url, live=True)
        for path in ("flags/", "delivery/"):
            clean(browser.open(live.url + path))

        # The same repository, built as a static site and served by a plain file server.
        site = build(Path(world.controller), tmp_path / "site")
        with serve(site) as base:
            no_go = release_page(browser, base, "shop-2026-25")
            assert no_go.why().startswith("NO_GO: 1 blocker (SHOP-107), ")
            follow_commit(no_go, "shop-2026-25")
            rolled = release_page(browser, base, "notifications-1-9")
            assert rolled.why().startswith("Rolled back at 2026-12-03 ")
            check_calendar(browser, base, live=False)
            for path in ("flags/", "delivery/", "calendar/2026-W49/"):
                clean(browser.open(base + path))


def build(root: Path, site: Path) -> Path:
    """`relctl dashboard build` of a repository, as of the test's last pass."""
    built = CliRunner().invoke(
        cli,
        ["dashboard", "build", "--root", str(root), "--out", str(site), "--now",
         "2026-12-07T09:00:00+01:00"],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    return site


@functools.cache
def _quiet_handler(folder: str) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=folder, **kwargs)

        def log_message(self, *_: object) -> None:
            pass

    return Handler


class serve:
    """A plain static file server for a folder, as any static host is."""

    def __init__(self, folder: Path) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _quiet_handler(str(folder)))

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


LONG = "x" * 3000


def hostile_repository(root: Path) -> None:
    """The shop with hostile values wherever people type text, and records a hostile
    commit could have written."""
    shutil.copytree(SHOP, root)
    payload = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
    release = root / "releases/releases/shop-2026-25.yaml"
    text = release.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["spec"]["description"] = f"{payload} javascript:alert(1) {LONG}"
    release.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    window = root / "releases/windows/holiday-freeze.yaml"
    document = yaml.safe_load(window.read_text(encoding="utf-8"))
    document["spec"]["reason"] = f"{payload} {LONG}"
    window.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    component = root / "releases/components/checkout.yaml"
    document = yaml.safe_load(component.read_text(encoding="utf-8"))
    document["spec"]["owner"] = 'team-"><script>window.__pwned=3</script>'
    component.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    at_ = at("2026-12-07T09:00:00+01:00")
    status = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.DECIDING,
        decisions=(
            DecisionRecord(
                DecisionKind.NO_GO,
                at_,
                f"{payload} {LONG}",
                evidence=Evidence(blockers=(payload,), jql=payload),
            ),
        ),
    )
    (root / "status/releases").mkdir(parents=True)
    (root / "status/releases/shop-2026-25.yaml").write_text(record_yaml(status), encoding="utf-8")
    (root / "status/notes").mkdir()
    (root / "status/notes/shop-2026-25.md").write_text(
        f"# Notes\n\n{payload}\n\n[click me](javascript:window.__pwned=4)\n\n"
        '<a href="javascript:window.__pwned=5">raw link</a>\n\n'
        f'![x](x" onerror="window.__pwned=6)\n\n{LONG}\n',
        encoding="utf-8",
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=mallory", "-c", "user.email=m@example", "commit", "-qm", payload)


def test_hostile_values_render_as_text_and_the_layout_holds(tmp_path: Path) -> None:
    root = tmp_path / "hostile"
    hostile_repository(root)
    site = build(Path(root), tmp_path / "site")
    with chromium() as browser, serve(site) as base:
        for path in ("", "releases/shop-2026-25/", "calendar/2026-12/", "calendar/2026-W52/"):
            page = clean(browser.open(base + path))
            assert page.page.evaluate("window.__pwned") is None, path
            assert page.page.locator("script").count() == 1, path  # the site's own only
            assert page.page.locator("img").count() == 0, path
            assert page.page.locator("a[href^='javascript:']").count() == 0, path
            wide = page.page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 1280, f"{path}: the page is {wide} px wide"
        release = clean(browser.open(base + "releases/shop-2026-25/"))
        body = release.page.locator("main").inner_text()
        assert "<script>window.__pwned=1</script>" in body
        assert "[click me](javascript:window.__pwned=4)" in body  # a refused link stays text
        release.shot("hostile-release")
