"""`relctl demo`, as a newcomer runs it: under a minute, each step narrated, and the
artifacts kept with --keep are what the narration said."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import icalendar

from controller.plan.records import from_yaml


def test_demo_runs_the_story_and_keeps_its_artifacts(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "controller", "demo", "--keep", str(keep)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 60
    out = done.stdout
    for expected in (
        "13/13",
        "relctl approve: ",
        "Approve shop-2026-25 as product-owner, signed with priya.po's key",
        "approval product-owner priya.po signed by priya.po SHA256:",
        "catalog-2026-26: SUSPENDED: suspended: catalog data migration under review",
        "(by Rita Release <rita@shop.example> in ",
        "catalog-2026-26: RESUMED: resumed: it goes on from Scheduled",
        "leader: True",
        "set-image       prod-eu/payments/ledger",
        "rollback-image  prod-eu/platform/notifications",
        "exceeded its progress deadline",
        "shop-2026-25: NO_GO: veto criteria unmet: blockers",
        "shop-2026-25: GO: every criterion is met",
        "release-version SHOP 2026.25",
        "ensure-version  SHOP 2026.26",
        "falls inside 'holiday-freeze'",
        "until 2027-01-04 00:00 Europe/Berlin; it departs 2027-01-05 09:00 Europe/Berlin",
        "catalog-2026-26: RESCHEDULED",
        "new-checkout-flow advances from 0% to 10%",
        "new-checkout-flow advances from 10% to 50%",
        "analysis http-health/error-ratio@prod-eu/shop/storefront",
        'query: sum(rate(http_requests_total{cluster="prod-eu", deployment="storefront"',
        "digest-emails is held at stage 1: analysis Inconclusive",
        "run-job         prod-eu/payments/payments-2026-25-payments-migrate-pre1",
        "payments postRollout smoke-test on prod-eu/payments: Failed (BackoffLimitExceeded, "
        "exit 1)",
        "payments onRollback migrate-down on prod-eu/payments: Succeeded",
        "Release tags, each at the revision of its GO: notifications-1-9, payments-2-5-1,",
        '± +    newTag: "6.9.1"  # promoted by relctl',
        "prod-us/platform/search runs registry.shop.example/shop/search:6.9.1, as the agent",
        "dashboard (while the demo runs): http://127.0.0.1:",
        "dashboard: catalog-2026-26: Scheduled to depart at 2027-01-05 09:00 Europe/Berlin, "
        "moved from 2026-12-22 09:00 Europe/Berlin by holiday-freeze.",
        "dashboard: storefront-4-2-1: Rolled back at 2026-12-10 16:30 Europe/Berlin (storefront)",
    ):
        assert expected in out, expected
    # The migration before payments' image, the smoke test after; the failed smoke
    # test's rollback runs the down-migration before the previous image is restored.
    assert out.index("payments-2026-25-payments-migrate-pre1") < out.index("payments:2.5.0")
    assert out.index("payments:2.5.0") < out.index("payments-2026-25-payments-smoke-test-post1")
    assert out.index("payments-2-5-1-payments-migrate-down-undo1") < out.index(
        "rollback-image  prod-eu/payments/payments-api"
    )
    # Dependency order: ledger before payments (payments dependsOn ledger), catalog
    # before checkout before storefront.
    assert out.index("prod-eu/payments/ledger") < out.index("payments:2.5.0")
    assert out.index("shop/catalog:2.3.1") < out.index("shop/checkout:3.8.0")
    assert out.index("shop/checkout:3.8.0") < out.index("shop/storefront:4.2.0")

    repo = keep / "repo"
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%B%x00"], capture_output=True, text=True
    ).stdout
    assert "Relctl-Release: shop-2026-25\nRelctl-Decision: RELEASED" in log
    assert "Relctl-Release: notifications-1-9\nRelctl-Decision: ROLLBACK" in log

    def status(name: str):  # type: ignore[no-untyped-def]
        path = repo / "status/releases" / f"{name}.yaml"
        return from_yaml(path.read_text(encoding="utf-8"), str(path))

    shop = status("shop-2026-25")
    assert shop.phase == "Released"
    assert [d.decision for d in shop.decisions] == [
        "NO_GO",
        "GO",
        "ROLLOUT",
        "DEPLOYED",
        "RELEASED",
    ]
    assert status("notifications-1-9").phase == "RolledBack"
    # The metric-triggered rollback keeps its evidence: query, value, threshold.
    hotfix = status("storefront-4-2-1")
    assert hotfix.phase == "RolledBack"
    evidence = hotfix.last().evidence
    assert evidence.measurements and evidence.measurements[0].value is not None
    assert evidence.measurements[0].value > 0.05
    assert evidence.measurements[0].reason.endswith("> 5%")
    assert "Relctl-Release: storefront-4-2-1\nRelctl-Decision: ROLLBACK" in log
    catalog = status("catalog-2026-26")
    # Its next departure, Dec 22, is in the holiday freeze: it departs Jan 5 instead.
    assert catalog.planned is not None and catalog.planned.date().isoformat() == "2026-12-22"
    assert catalog.departure is not None and catalog.departure.date().isoformat() == "2027-01-05"
    assert [d.decision for d in catalog.decisions] == ["RESCHEDULED", "SUSPENDED", "RESUMED"]
    suspended = catalog.decisions[1]
    assert suspended.evidence.by.startswith("Rita Release <rita@shop.example> in ")
    # The failed smoke test is in the record: exit code, the log's tail, the token masked.
    smoke = status("payments-2-5-1")
    assert smoke.phase == "RolledBack"
    failed = [r for r in smoke.steps if r.state == "Failed"]
    assert failed and failed[0].exit_code == 1 and "1 of 14 checks failed" in failed[0].log
    history = subprocess.run(
        ["git", "-C", str(repo), "log", "-p"], capture_output=True, text=True
    ).stdout
    assert "pat-0123456789abcdef" not in history
    shown = subprocess.run(
        [sys.executable, "-m", "controller", "status", "payments-2-5-1"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout
    assert "payments onRollback migrate-down on prod-eu/payments: Succeeded" in shown
    assert "| smoke-test: 1 of 14 checks failed" in shown
    # Every release that rolled out is tagged, annotated, at the revision of its GO.
    go = next(d for d in shop.decisions if d.decision == "GO")
    tagged = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "shop-2026-25^{commit}"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert tagged == go.revision
    # The environment repository kept: relctl's commit, with its trailers, over the team's.
    environment = subprocess.run(
        ["git", "-C", str(keep / "environment.git"), "log", "--format=%an|%s|%b"],
        capture_output=True,
        text=True,
    ).stdout
    assert "relctl|relctl: search-6-9-1 ROLLOUT search registry.shop.example/shop/search:6.9.1" in (
        environment
    )
    assert "Relctl-Decision: ROLLOUT" in environment and "Platform team|" in environment
    # search's flag is kept there too, and the agent applied relctl's commit of it.
    assert "relctl|relctl: FLAGS platform/search-flags: search-ranking 0%|" in environment
    assert "search-flags serves search-ranking" in out

    # What each sink received: the verdicts, the rollbacks and the releases.
    def received(sink: str) -> list[dict[str, Any]]:
        lines = (keep / "notifications" / f"{sink}.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in lines.splitlines()]

    room = [r["headers"]["x-relctl-event"] for r in received("release-room")]
    for event in ("shop-2026-25/NO_GO/", "shop-2026-25/GO/", "shop-2026-25/RELEASED/"):
        assert sum(e.startswith(event) for e in room) == 1, room
    operations = [r["body"]["attachments"][0]["content"] for r in received("operations")]
    assert any("ROLLBACK" in card["body"][0]["text"] for card in operations)
    [news] = received("customer-news")
    assert news["headers"]["Subject"] == "[relctl] Version 2026.25 is released"
    assert "SHOP-" not in news["text"]
    # The go/no-go documents, and the notes for the audiences the release asks for.
    verdict = (repo / "status/decisions/shop-2026-25-1.md").read_text(encoding="utf-8")
    assert verdict.startswith("# Go/no-go 1: shop-2026-25 2026.25: NO_GO")
    assert "(repo / " not in verdict and "| blockers |" in verdict
    go = (repo / "status/decisions/shop-2026-25-2.md").read_text(encoding="utf-8")
    assert "- Decision: **GO**" in go and "| product-owner | priya.po |" in go
    operations = (repo / "status/notes/shop-2026-25.operations.md").read_text(encoding="utf-8")
    assert "| checkout | prod-eu/shop/checkout/checkout |" in operations
    assert (
        "## Rollback plan" in operations
        and "new-checkout-flow on prod-eu/shop/shop-flags" in operations
    )
    internal = (repo / "status/notes/shop-2026-25.internal.md").read_text(encoding="utf-8")
    assert "SHOP-" in internal
    # The notes and the go/no-go documents, published to the Confluence emulator.
    pages = json.loads((keep / "confluence/index.json").read_text(encoding="utf-8"))
    titles = {p["title"]: p["id"] for p in pages}
    for title in ("shop-2026-25 2026.25: go/no-go 1", "shop-2026-25 2026.25: go/no-go 2",
                  "shop-2026-25 2026.25: release notes (operations)"):  # fmt: skip
        assert title in titles, sorted(titles)
    page = (keep / "confluence" / f"{titles['shop-2026-25 2026.25: go/no-go 2']}.html").read_text()
    assert "<td>product-owner</td>" in page
    record = (repo / "status/releases/shop-2026-25.yaml").read_text(encoding="utf-8")
    assert f"page: '{titles['shop-2026-25 2026.25: go/no-go 1']}'" in record
    notes = (repo / "status/notes/shop-2026-25.md").read_text(encoding="utf-8")
    assert "2026.25" in notes and "SHOP-102" in notes

    # The dashboard as a static site: the same why, and a page per release and commit.
    held = (keep / "dashboard/releases/catalog-2026-26/index.html").read_text(encoding="utf-8")
    assert "moved from 2026-12-22 09:00 Europe/Berlin by holiday-freeze" in held
    assert (keep / "dashboard/index.html").is_file() and (
        keep / "dashboard/.relctl-dashboard"
    ).is_file()
    assert len(list((keep / "dashboard/commits").iterdir())) >= 10

    calendar = icalendar.Calendar.from_ical((keep / "calendar.ics").read_bytes())
    summaries = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert any("catalog-2026-26" in s for s in summaries)
    entries = [json.loads(line) for line in (keep / "controller.log").read_text().splitlines()]
    assert any(e["msg"] == "became the leader" for e in entries)
    assert all("pass" in e for e in entries if e["msg"] == "pass finished")


def test_demo_help_explains_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "demo", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "built-in sandbox" in done.stdout and "--keep" in done.stdout
