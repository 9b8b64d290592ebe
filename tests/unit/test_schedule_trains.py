"""Train departures, names, milestones and moving to the next departure."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from controller.manifests.models import ReleaseTrainSpec
from controller.schedule import trains
from tests.conftest import DATA

CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "schedule" / "trains.yaml").read_text())


def train(
    rrule: str, dtstart: str, timezone: str = "Europe/Berlin", **extra: Any
) -> ReleaseTrainSpec:
    return ReleaseTrainSpec.model_validate(
        {"timezone": timezone, "schedule": {"rrule": rrule, "dtstart": dtstart}, **extra}
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_departure_case(case: dict[str, Any]) -> None:
    spec = dict(case["train"])
    extra = {"versionFormat": spec.pop("versionFormat")} if "versionFormat" in spec else {}
    found = trains.departures(
        train(spec["rrule"], spec["dtstart"], spec["timezone"], **extra),
        datetime.fromisoformat(case["from"]),
        datetime.fromisoformat(case["to"]),
    )
    got = [[d.local.isoformat(), d.at.isoformat().replace("+00:00", "Z"), d.version] for d in found]
    assert got == case["expect"]


@pytest.mark.parametrize(
    ("rrule", "dtstart", "count"),
    [
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T09:00:00", 26),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "2026-01-01T09:00:00", 27),
    ],
)
def test_fortnightly_train_over_a_year(rrule: str, dtstart: str, count: int) -> None:
    found = trains.departures(
        train(rrule, dtstart), datetime(2025, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    found = [d for d in found if d.local.year == 2026]
    assert len(found) == count
    assert [d.version for d in found] == [f"2026.{n}" for n in range(1, count + 1)]
    assert all(d.local.hour == 9 for d in found)  # wall clock across both DST changes
    assert all(b.local - a.local == timedelta(days=14) for a, b in itertools.pairwise(found))


MILESTONES = {"codeFreeze": "-17d", "goNoGo": "-1d", "monitoringEnd": "+36h", "docsFreeze": "-3d"}


def test_milestones_are_wall_clock_across_dst() -> None:
    spec = train("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T09:00:00", milestones=MILESTONES)
    [departure] = trains.departures(
        spec, datetime(2026, 4, 14, tzinfo=UTC), datetime(2026, 4, 15, tzinfo=UTC)
    )
    assert departure.at == datetime(2026, 4, 14, 7, tzinfo=UTC)  # 09:00 CEST
    milestones = departure.milestones
    assert list(milestones) == ["codeFreeze", "docsFreeze", "goNoGo", "departure", "monitoringEnd"]
    assert milestones["codeFreeze"] == datetime(2026, 3, 28, 8, tzinfo=UTC)  # 09:00 CET
    assert milestones["docsFreeze"] == datetime(2026, 4, 11, 7, tzinfo=UTC)  # 09:00 CEST
    assert milestones["monitoringEnd"] == datetime(2026, 4, 15, 19, tzinfo=UTC)  # 21:00 CEST


def test_release_that_misses_its_departure_moves_to_the_next() -> None:
    spec = train("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T09:00:00")
    declared = trains.departure_on(spec, datetime(2026, 12, 8).date())
    assert declared is not None and declared.version == "2026.25"
    moved = trains.following(spec, declared)
    assert moved is not None and (moved.version, moved.local) == (
        "2026.26",
        datetime(2026, 12, 22, 9),
    )
    moved_twice = trains.following(spec, moved)
    assert moved_twice is not None and moved_twice.version == "2027.1"


@pytest.mark.parametrize(
    ("now", "version"),
    [
        ("2026-12-08T07:59:59+00:00", "2026.25"),  # one second before departure
        ("2026-12-08T08:00:00+00:00", "2026.25"),  # exactly at departure
        ("2026-12-08T08:00:01+00:00", "2026.26"),
    ],
)
def test_next_departure_boundaries(now: str, version: str) -> None:
    spec = train("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T09:00:00")
    found = trains.next_departure(spec, datetime.fromisoformat(now))
    assert found is not None and found.version == version


def test_departure_on_a_day_without_one() -> None:
    spec = train("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "2026-01-06T09:00:00")
    assert trains.departure_on(spec, datetime(2026, 12, 9).date()) is None
    assert trains.departure_on(spec, datetime(2026, 12, 15).date()) is None  # off week
