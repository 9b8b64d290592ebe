"""The dashboard's pages from hand-made records: the "why" of each phase, the delivery
metrics, routes, escaping and the static site's paths."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.plan.readiness import Criterion
from controller.plan.records import DecisionKind, DecisionRecord, Evidence, Phase, ReleaseStatus
from controller.web import delivery
from controller.web.history import CommitInfo, History
from controller.web.model import Snapshot, span
from controller.web.site import CSP, Site
from controller.web.why import why
from tests.conftest import SHOP
from tests.support.world import desired

NOW = datetime(2026, 12, 7, 8, tzinfo=UTC)
T = datetime(2026, 12, 7, 8, tzinfo=UTC)


def record(
    kind: DecisionKind, at: datetime, rationale: str = "", **evidence: object
) -> DecisionRecord:
    return DecisionRecord(kind, at, rationale or kind.value, evidence=Evidence(**evidence))  # type: ignore[arg-type]


NO_GO = DecisionRecord(
    DecisionKind.NO_GO,
    T,
    "veto criteria unmet: blockers, approvals",
    criteria=(
        Criterion("completion", ">= 90%", "62.5%", False, False),
        Criterion("blockers", "<= 0", "1", False, True),
        Criterion("approvals", "qa-lead, product-owner", "qa-lead", False, True),
        Criterion("signal:security-scan", "== passed", "missing", False, True),
        Criterion("criticalBugs", "<= 0", "0", True, True),
    ),
    evidence=Evidence(blockers=("SHOP-107",)),
)


def snapshot(*statuses: ReleaseStatus, history: History | None = None) -> Snapshot:
    return Snapshot(
        revision="r1",
        now=NOW,
        state=desired(SHOP),
        statuses={s.release: s for s in statuses},
        history=history or History(),
    )


def test_why_a_no_go_names_the_blockers_and_the_missing_approval_vetoes_first() -> None:
    status = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.DECIDING,
        departure=T + timedelta(days=1),
        decisions=(NO_GO,),
    )
    text = why(snapshot(status), "shop-2026-25")
    assert text == (
        "NO_GO: 1 blocker (SHOP-107), product-owner approval missing, signal security-scan "
        "missing (needs == passed), completion 62.5% (needs >= 90%). "
        "Departs at 2026-12-08 09:00 Europe/Berlin."
    )


def test_why_a_held_release_says_since_when_and_what_is_missing() -> None:
    status = ReleaseStatus("shop-2026-25", "2026.25", Phase.HELD, departure=T, decisions=(NO_GO,))
    assert why(snapshot(status), "shop-2026-25").startswith(
        "Held since its departure at 2026-12-07 09:00 Europe/Berlin: NO_GO: 1 blocker (SHOP-107)"
    )


def test_why_blocked_by_a_deny_window_or_waiting_for_an_allow_window() -> None:
    opens = datetime(2027, 1, 4, 8, tzinfo=UTC)
    freeze = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.WAITING,
        decisions=(
            record(DecisionKind.GO, T),
            record(DecisionKind.BLOCKED, T, windows=("holiday-freeze",), until=opens),
        ),
    )
    assert why(snapshot(freeze), "shop-2026-25") == (
        "GO, waiting for holiday-freeze to end: it goes at 2027-01-04 09:00 Europe/Berlin."
    )
    monday = datetime(2026, 11, 30, 13, tzinfo=UTC)
    hotfix = ReleaseStatus(
        "payments-hotfix-2-4-1",
        "payments-2.4.1",
        Phase.WAITING,
        decisions=(record(DecisionKind.BLOCKED, T, windows=("us-business-hours",), until=monday),),
    )
    assert why(snapshot(hotfix), "payments-hotfix-2-4-1") == (
        "GO, waiting for us-business-hours to open: it goes at 2026-11-30 14:00 Europe/Berlin."
    )


def test_why_rolled_back_names_the_trigger_and_the_components() -> None:
    status = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.ROLLED_BACK,
        rolled_back=("checkout",),
        decisions=(
            record(DecisionKind.ROLLOUT, T, components=("checkout",)),
            record(
                DecisionKind.ROLLBACK,
                T + timedelta(minutes=12),
                triggers=("checkout: rollout failed",),
            ),
        ),
    )
    assert why(snapshot(status), "shop-2026-25") == (
        "Rolled back at 2026-12-07 09:12 Europe/Berlin (checkout): checkout: rollout failed."
    )


def test_why_a_moved_release_says_from_when_and_by_what() -> None:
    status = ReleaseStatus(
        "search-2027-1",
        "2027.1",
        Phase.SCHEDULED,
        departure=datetime(2027, 1, 5, 8, tzinfo=UTC),
        decisions=(
            record(
                DecisionKind.RESCHEDULED,
                T,
                windows=("holiday-freeze",),
                departure=datetime(2026, 12, 22, 8, tzinfo=UTC),
            ),
        ),
    )
    assert why(snapshot(status), "search-2027-1") == (
        "Scheduled to depart at 2027-01-05 09:00 Europe/Berlin, moved from "
        "2026-12-22 09:00 Europe/Berlin by holiday-freeze."
    )


def test_delivery_metrics_from_the_decision_log() -> None:
    day = datetime(2026, 12, 8, 8, tzinfo=UTC)
    shipped = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.RELEASED,
        planned=day,
        departure=day,
        decisions=(
            record(DecisionKind.ROLLOUT, day),
            record(DecisionKind.DEPLOYED, day + timedelta(minutes=30)),
        ),
    )
    failed = ReleaseStatus(
        "payments-2026-25",
        "2026.25",
        Phase.ROLLED_BACK,
        planned=day,
        departure=day + timedelta(days=1),
        decisions=(
            record(DecisionKind.DELAY, day),
            record(DecisionKind.ROLLOUT, day + timedelta(days=1)),
            record(DecisionKind.DEPLOYED, day + timedelta(days=1, minutes=20)),
            record(DecisionKind.ROLLBACK, day + timedelta(days=1, minutes=45)),
        ),
    )
    found = delivery.metrics(snapshot(shipped, failed))
    total = found.total
    assert total.deployments == 2
    assert total.failure_rate == "50%"  # one of two rollouts rolled back
    assert total.restore == "45 min"
    assert total.on_time == "50%"  # the delayed one was not on time
    assert total.delays == 1
    # Code freeze is 8 days before the 2026-12-08 departure both asked for (the train's
    # milestone): 8 d 30 min and 9 d 20 min, whose median is 8 d 12 h 25 min.
    assert total.lead_time == "8 d 12 h"
    (train,) = found.trains
    assert train.group == "shop-fortnightly" and train.deployments == 2
    assert {r.group for r in found.components} >= {"checkout", "payments"}
    assert [r.group for r in found.months] == ["2026-12"]


def test_span_reads_like_a_person_wrote_it() -> None:
    assert [span(s) for s in (12, 600, 5400, 7 * 86400, 7 * 86400 + 3600)] == [
        "12 s",
        "10 min",
        "1 h 30 min",
        "7 d",
        "7 d 1 h",
    ]


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_every_value_is_escaped_and_pages_carry_the_policy() -> None:
    status = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.DECIDING,
        decisions=(record(DecisionKind.NO_GO, T, HOSTILE, blockers=(HOSTILE,)),),
    )
    site = Site(snapshot(status))
    for path in ("/", "/releases/shop-2026-25/"):
        page = site.get(path)
        assert page.status == 200
        body = page.body.decode()
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert f'content="{CSP}"' in html.unescape(body)  # the meta tag, for static hosts
        assert "unsafe-inline" not in CSP


def test_routes_redirects_and_misses() -> None:
    site = Site(snapshot())
    assert site.get("/releases/shop-2026-25").status == 308
    assert site.get("/releases/shop-2026-25").location == "shop-2026-25/"
    assert site.get("/releases/nothing-here/").status == 404
    assert site.get("/releases/../../etc/passwd/").status == 404
    assert site.get("/commits/" + "a" * 40 + "/").status == 404
    assert site.get("/calendar/2026-13/").status == 404
    assert site.get("/calendar/2026-12/").status == 200
    assert site.get("/calendar/2026-W49/").status == 200
    assert site.get("/static/dashboard.css").content_type.startswith("text/css")
    assert site.get("/static/other.js").status == 404


def test_links_are_relative_so_the_site_works_under_any_prefix() -> None:
    commit = CommitInfo(
        "c" * 40, "relctl", "relctl@example", T, "relctl: shop-2026-25 NO_GO", "", ("shop-2026-25",)
    )
    history = History(
        "c" * 40, {("shop-2026-25", "NO_GO", T.isoformat()): "c" * 40}, {"c" * 40: commit}
    )
    status = ReleaseStatus("shop-2026-25", "2026.25", Phase.DECIDING, decisions=(NO_GO,))
    site = Site(snapshot(status, history=history))
    page = site.get("/releases/shop-2026-25/").body.decode()
    assert 'href="../../static/dashboard.css"' in page
    assert f'href="../../commits/{"c" * 40}/"' in page
    overview = site.get("/").body.decode()
    assert (
        'href="./releases/shop-2026-25/"' in overview or 'href="releases/shop-2026-25/"' in overview
    )
    commit_page = site.get(f"/commits/{'c' * 40}/")
    assert commit_page.status == 200 and b"relctl: shop-2026-25 NO_GO" in commit_page.body


def test_the_calendar_filter_keeps_what_concerns_the_team() -> None:
    site = Site(snapshot())
    every = site.get("/calendar/2026-12/").body.decode()
    payments = site.get("/calendar/2026-12/", "team=team-payments").body.decode()
    assert every.count(" hidden>") < payments.count(" hidden>")
    assert 'href="../../calendar.ics?team=team-payments"' in payments
    ics = site.get("/calendar.ics", "train=shop-fortnightly").body.decode()
    assert "shop-fortnightly" in ics and "Release notifications-1-9" not in ics
    unknown = site.get("/calendar/2026-12/", "team=<script>").body.decode()
    assert unknown.count(" hidden>") == every.count(" hidden>")


@pytest.mark.parametrize("static", [True, False])
def test_static_paths_cover_every_release_and_month(static: bool) -> None:
    site = Site(snapshot(), static=static)
    paths = site.paths()
    assert "/releases/shop-2026-25/" in paths and "/calendar/2026-12/" in paths
    files = dict(site.pages())
    assert "index.html" in files and "releases/shop-2026-25/index.html" in files
    assert "calendar-team-team-payments.ics" in files


def test_the_overview_lists_drift_and_stale_flags_not_every_finding() -> None:
    from dataclasses import replace

    from controller.web.model import Problem
    from controller.web.views import overview, release

    found = (
        Problem("readiness", "shop-2026-25", "not_ready: 5/8 issues done"),
        Problem("drift", "checkout", "prod-eu/shop/checkout runs :hand-made, not :3.8.0"),
        Problem("stale-flag", "legacy-cart-fallback", "past its removeBy date"),
    )
    shown = replace(snapshot(), findings=found)
    page = overview(shown)
    assert [(c["kind"], c["subject"]) for c in page["drift"]] == [("DRIFT", "checkout")]
    assert [c["subject"] for c in page["stale"]] == ["legacy-cart-fallback"]
    details = release(shown, "shop-2026-25")
    assert details is not None
    assert [c["kind"] for c in details["conditions"]] == ["READINESS"]


def test_why_a_suspended_an_aborted_and_a_retried_release() -> None:
    by = "Rita Release <rita@shop.example> in 1a2b3c4d5e6f, unsigned"
    suspended = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.ROLLING_OUT,
        decisions=(record(DecisionKind.SUSPENDED, T, "suspended: INC-42", by=by),),
    )
    assert why(snapshot(suspended), "shop-2026-25") == (
        f"Suspended since 2026-12-07 09:00 Europe/Berlin by {by}: nothing is done for it "
        "(RollingOut) until `suspend` is removed (relctl resume)."
    )
    aborted = ReleaseStatus(
        "shop-2026-25",
        "2026.25",
        Phase.ROLLED_BACK,
        rolled_back=("catalog",),
        decisions=(
            record(DecisionKind.ROLLOUT, T),
            record(DecisionKind.ABORTED, T, "aborted by a person: bad build", by=by),
            record(DecisionKind.ROLLBACK, T),
        ),
    )
    assert why(snapshot(aborted), "shop-2026-25") == (
        f"Aborted at 2026-12-07 09:00 Europe/Berlin by {by}: aborted by a person: bad build; "
        "rolled back."
    )
    retried = replace(
        aborted,
        attempt=2,
        phase=Phase.DECIDING,
        departure=T + timedelta(days=1),
        decisions=(*aborted.decisions, replace(NO_GO, attempt=2)),
    )
    assert why(snapshot(retried), "shop-2026-25").startswith("Attempt 2: NO_GO: 1 blocker")
