"""The calendar of the shipped releases/: events, ICS parsed back with icalendar, the
text timeline, and `relctl calendar` / `relctl windows check` on the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner

from controller.cli import cli
from controller.manifests import loading
from controller.manifests.state import DesiredState
from controller.schedule import calendar, calendar_formats
from tests.conftest import REPO, SHOP

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
START, END = NOW, datetime(2027, 1, 15, tzinfo=UTC)
BERLIN = "Europe/Berlin"


@pytest.fixture(scope="module")
def state() -> DesiredState:
    return loading.load(REPO).states[0]


@pytest.fixture(scope="module")
def ics(state: DesiredState) -> icalendar.Calendar:
    events = calendar.build(state, START, END, NOW)
    return icalendar.Calendar.from_ical(calendar_formats.to_ics(events, "shop", BERLIN, NOW))


def _events(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_ics_is_rfc5545_with_timezones(ics: icalendar.Calendar) -> None:
    assert str(ics["VERSION"]) == "2.0"
    assert str(ics["PRODID"]).startswith("-//relctl//")
    zones = {str(tz["TZID"]) for tz in ics.walk("VTIMEZONE")}
    assert {"Europe/Berlin", "America/New_York"} <= zones
    events = list(ics.walk("VEVENT"))
    assert len({str(e["UID"]) for e in events}) == len(events)  # UIDs unique
    assert all("DTSTAMP" in e and "SUMMARY" in e and "DESCRIPTION" in e for e in events)


def test_recurring_window_is_one_rrule_event(ics: icalendar.Calendar) -> None:
    weekend = _events(ics)["window.weekend@shop.relctl"]
    assert weekend["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=SA"
    start = weekend.decoded("DTSTART")
    assert start == datetime(2026, 1, 3, tzinfo=start.tzinfo)
    assert str(start.tzinfo) == BERLIN
    assert weekend.decoded("DURATION") == timedelta(days=2)
    assert str(weekend["CATEGORIES"].cats[0]) == "window"
    windows = [e for e in ics.walk("VEVENT") if "window" in str(e["UID"])]
    assert len(windows) == 3  # weekend, holiday freeze, US business hours: not expanded


def test_absolute_window_and_releases(ics: icalendar.Calendar) -> None:
    events = _events(ics)
    freeze = events["window.holiday-freeze@shop.relctl"]
    assert freeze.decoded("DTSTART") == datetime(2026, 12, 18, 23, tzinfo=UTC)
    assert freeze.decoded("DTEND") == datetime(2027, 1, 3, 23, tzinfo=UTC)
    assert "RRULE" not in freeze
    shop = events["release.shop-2026-25@shop.relctl"]
    assert shop.decoded("DTSTART") == datetime(2026, 12, 8, 8, tzinfo=UTC)  # 09:00 CET
    assert "2026.25" in str(shop["SUMMARY"]) and "checkout 3.8.0" in str(shop["SUMMARY"])
    assert str(shop["STATUS"]) == "CONFIRMED"
    hotfix = events["release.payments-hotfix-2-4-1@shop.relctl"]
    assert "waits for allow window us-business-hours" in str(hotfix["DESCRIPTION"]).lower()


def test_departures_milestones_and_flags(ics: icalendar.Calendar) -> None:
    events = _events(ics)
    departure = events["departure.shop-fortnightly.2026.25@shop.relctl"]
    assert departure.decoded("DTSTART") == datetime(2026, 12, 8, 8, tzinfo=UTC)
    assert "shop-2026-25" in str(departure["DESCRIPTION"])
    freeze = events["milestone.shop-fortnightly.2026.25.codeFreeze@shop.relctl"]
    assert freeze.decoded("DTSTART") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    stage = events["flag.new-checkout-flow.stage-2@shop.relctl"]
    assert stage.decoded("DTSTART") == datetime(2026, 12, 11, 9, tzinfo=UTC)
    assert "50%" in str(stage["SUMMARY"])
    removal = events["flag.holiday-banner.remove@shop.relctl"]
    assert removal.decoded("DTSTART") == date(2027, 1, 10)  # all-day


def test_uids_are_stable_when_time_moves_on(state: DesiredState) -> None:
    first = {e.uid for e in calendar.build(state, START, END, NOW)}
    later = {e.uid for e in calendar.build(state, START, END, NOW + timedelta(days=2))}
    assert "release.shop-2026-25@shop.relctl" in first & later


def test_release_in_the_freeze_is_placed_after_it(state: DesiredState) -> None:
    """A train release without a departure rides the next one, inside the freeze: it is
    shown where the controller will take it, the first departure after the freeze. A
    departure recorded by the controller is shown as recorded."""
    now = datetime(2026, 12, 10, tzinfo=UTC)
    shop = state.releases["shop-2026-25"].model
    moved = shop.model_copy(update={"spec": shop.spec.model_copy(update={"departure": None})})
    releases = dict(state.releases)
    releases["shop-2026-25"] = type(state.releases["shop-2026-25"])(
        moved, "releases/x.yaml", state.releases["shop-2026-25"].document
    )
    changed = DesiredState(
        state.root,
        state.manifests,
        state.config,
        state.components,
        state.trains,
        releases,
        state.flags,
        state.windows,
        state.analyses,
    )
    [event] = [
        e
        for e in calendar.build(changed, now, END, now)
        if e.uid.startswith("release.shop-2026-25")
    ]
    assert event.start == datetime(2027, 1, 5, 8, tzinfo=UTC)
    assert event.blocked_by == ()
    departs = [e for e in calendar.build(changed, now, END, now) if e.uid.startswith("departure.")]
    riding = {e.extra["version"]: e.description for e in departs}
    assert "Releases: search-2027-1, shop-2026-25." in riding["2027.1"]
    assert "shop-2026-25" not in riding["2026.26"]
    recorded = {"shop-2026-25": datetime(2027, 1, 12, 8, tzinfo=UTC)}
    [event] = [
        e
        for e in calendar.build(changed, now, END, now, recorded)
        if e.uid.startswith("release.shop-2026-25")
    ]
    assert event.start == recorded["shop-2026-25"]


def test_text_timeline_groups_by_iso_week(state: DesiredState) -> None:
    text = calendar_formats.to_text(calendar.build(state, START, END, NOW), BERLIN, START, END)
    assert "Week 53 · Mon 28 Dec – Sun 03 Jan 2027" in text
    assert "Deploy window: us-business-hours: 5 times this week" in text
    assert (
        "Sat 19 Dec   00:00  window       Deploy freeze: holiday-freeze (until Mon 04 Jan" in text
    )


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_calendar_command_formats(tmp_path: Path) -> None:
    out = tmp_path / "relctl.ics"
    code, _ = invoke(
        "calendar",
        "--root",
        str(SHOP),
        "--now",
        NOW.isoformat(),
        "--to",
        "2027-01-15",
        "-o",
        "ics",
        "--output-file",
        str(out),
    )
    assert code == 0
    assert icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    code, output = invoke("calendar", "--root", str(SHOP), "--now", NOW.isoformat(), "-o", "json")
    assert code == 0
    assert any(e["uid"] == "release.shop-2026-25@shop.relctl" for e in json.loads(output))
    assert (
        invoke("calendar", "--root", str(SHOP), "--from", "2027-01-01", "--to", "2026-01-01")[0]
        == 2
    )


@pytest.mark.parametrize(
    ("component", "at", "code", "fragment"),
    [
        ("checkout", "2026-12-20T10:00:00Z", 1, "next opens 2027-01-04 00:00 Europe/Berlin"),
        ("checkout", "2026-12-18T22:59:59Z", 0, "next closes 2026-12-19 00:00 Europe/Berlin"),
        ("checkout", "2027-01-04T08:00:00Z", 0, "ALLOWED"),
        ("search", "2027-01-04T08:00:00Z", 1, "outside every allow window (us-business-hours)"),
        ("search", "2026-12-20T10:00:00Z", 1, "next opens 2027-01-04 14:00 Europe/Berlin"),
    ],
)
def test_windows_check_across_the_holiday_freeze(
    component: str, at: str, code: int, fragment: str
) -> None:
    exit_code, output = invoke("windows", "check", component, "--root", str(SHOP), "--at", at)
    assert exit_code == code, output
    assert fragment in output


def test_windows_check_hotfix_release_and_json() -> None:
    code, output = invoke(
        "windows",
        "check",
        "payments",
        "--cluster",
        "prod-eu",
        "--root",
        str(SHOP),
        "--at",
        "2026-12-20T10:00:00Z",
        "--release",
        "payments-hotfix-2-4-1",
        "-o",
        "json",
    )
    assert code == 0
    [verdict] = json.loads(output)
    assert verdict["allowed"] is True
    assert set(verdict["passed"]) == {"holiday-freeze", "weekend"}
    assert invoke("windows", "check", "nope", "--root", str(SHOP))[0] == 2
    assert invoke("windows", "check", "search", "--cluster", "prod-eu", "--root", str(SHOP))[0] == 2
