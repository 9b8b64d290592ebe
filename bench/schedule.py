"""Benchmark: the schedule's time logic.

1. 1,000 windows x 1,000 components at one instant, with the next opening or closing for
   every target: a shared `Evaluator`, and one evaluation per target from scratch.
2. A window whose dtstart is ten years back against one from last week (10,000
   evaluations each), and the naive approach (dateutil expanding from dtstart).
3. A five-year calendar for 20 trains (departures and milestones), built and rendered
   as ICS.

Usage:

    .venv/bin/python bench/schedule.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dateutil.rrule import rrulestr

from controller.manifests import loading
from controller.manifests.models import BlackoutWindowSpec
from controller.schedule import calendar, calendar_formats, windows

AT = datetime(2026, 11, 23, 12, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"]
RULES = [
    "FREQ=WEEKLY;BYDAY=SA",
    "FREQ=DAILY",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
]


def median_time(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# (rule, durations): weekend freezes, nightly maintenance, fortnightly and monthly
# windows, yearly holidays.
RECURRING = [
    ("FREQ=WEEKLY;BYDAY=SA", ["48h"]),
    ("FREQ=DAILY", ["2h", "4h"]),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", ["8h", "24h"]),
    ("FREQ=MONTHLY;BYDAY=-1FR", ["12h", "72h"]),
    ("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", ["48h", "240h"]),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", ["8h", "10h"]),  # business hours (allow)
]


def make_windows(count: int, components: int, rng: random.Random) -> list[windows.Window]:
    """A mix like a large organisation's: 1% global freezes, the rest scoped to a few
    components or a cluster; 60% recurring with dtstarts spread over ten years; allow
    windows (business hours) always scoped."""
    found = []
    for index in range(count):
        zone = rng.choice(ZONES)
        rule, durations = rng.choice(RECURRING)
        allow = rule.endswith("FR") and "MO" in rule
        scope: dict[str, list[str]] = {}
        if allow or rng.random() > 0.01:
            scope["components"] = [f"c{rng.randrange(components)}" for _ in range(3)]
        if rng.random() < 0.3:
            scope["clusters"] = [rng.choice(["eu", "us"])]
        spec: dict[str, object] = {
            "kind": "allow" if allow else "deny",
            "reason": "bench",
            "timezone": zone,
            "scope": scope,
        }
        if allow or rng.random() < 0.6:
            start = datetime(2016, 1, 1) + timedelta(hours=rng.randrange(0, 10 * 365 * 24))
            spec |= {
                "rrule": rule,
                "dtstart": start.replace(minute=0).isoformat(),
                "duration": rng.choice(durations),
            }
        else:
            start = datetime(2026, 1, 1) + timedelta(hours=rng.randrange(0, 2 * 365 * 24))
            spec |= {
                "start": start.isoformat(),
                "end": (start + timedelta(days=rng.choice([1, 3, 14]))).isoformat(),
            }
        found.append(windows.Window(f"w{index}", BlackoutWindowSpec.model_validate(spec)))
    return found


def bench_windows(repeat: int) -> dict[str, float]:
    rng = random.Random(7)
    found = make_windows(1000, 1000, rng)
    targets = [windows.Target(f"c{i}", rng.choice(["eu", "us"]), "P") for i in range(1000)]

    def shared() -> None:
        evaluator = windows.Evaluator(found)
        for target in targets:
            evaluator.evaluate(target, AT)

    def fresh() -> None:
        for target in targets:
            windows.evaluate(found, target, AT)

    blocked = sum(not windows.Evaluator(found).evaluate(t, AT).allowed for t in targets)
    return {
        "shared_s": median_time(shared, repeat),
        "fresh_s": median_time(fresh, 1),
        "blocked_targets": blocked,
    }


def bench_old_dtstart(repeat: int) -> dict[str, float]:
    def spec(dtstart: datetime) -> BlackoutWindowSpec:
        return BlackoutWindowSpec.model_validate(
            {
                "kind": "deny",
                "reason": "bench",
                "timezone": "Europe/Berlin",
                "rrule": "FREQ=DAILY;BYHOUR=22",
                "dtstart": dtstart.isoformat(),
                "duration": "4h",
            }
        )

    old, recent = spec(datetime(2016, 11, 1, 22)), spec(datetime(2026, 11, 16, 22))
    instants = [AT + timedelta(minutes=7 * i) for i in range(10_000)]

    def run(window: BlackoutWindowSpec) -> Callable[[], None]:
        return lambda: [windows.occurrence_at(window, at) for at in instants]

    def naive(dtstart: datetime) -> Callable[[], None]:
        def go() -> None:
            for at in instants[:200]:  # 200 only: this is the slow way
                rule = rrulestr("FREQ=DAILY;BYHOUR=22", dtstart=dtstart)
                rule.before(at.replace(tzinfo=None), inc=True)

        return go

    return {
        "old_s": median_time(run(old), repeat),
        "recent_s": median_time(run(recent), repeat),
        "naive_old_per_eval_ms": median_time(naive(datetime(2016, 11, 1, 22)), 1) / 200 * 1e3,
        "naive_recent_per_eval_ms": median_time(naive(datetime(2026, 11, 16, 22)), 1) / 200 * 1e3,
    }


TRAIN = """apiVersion: relctl.dev/v1alpha1
kind: ReleaseTrain
metadata: {{name: train-{i}}}
spec:
  timezone: {zone}
  schedule: {{rrule: "{rule}", dtstart: "2024-01-0{day}T09:00:00"}}
  milestones: {{codeFreeze: -8d, qaStart: -7d, uatStart: -4d, goNoGo: -1d, monitoringEnd: +2d}}
"""


def bench_calendar(repeat: int) -> dict[str, float]:
    rules = ["FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=WEEKLY;BYDAY=TH", "FREQ=MONTHLY;BYDAY=1WE"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "releases").mkdir()
        text = "---\n".join(
            TRAIN.format(i=i, zone=ZONES[i % len(ZONES)], rule=rules[i % 3], day=1 + i % 9)
            for i in range(20)
        )
        (root / "releases" / "trains.yaml").write_text(text)
        state = loading.load(root).states[0]
    start, end = datetime(2027, 1, 1, tzinfo=UTC), datetime(2032, 1, 1, tzinfo=UTC)
    events = calendar.build(state, start, end, AT)
    ics = calendar_formats.to_ics(events, "bench", "UTC", AT)
    return {
        "events": len(events),
        "ics_bytes": len(ics),
        "build_s": median_time(lambda: calendar.build(state, start, end, AT), repeat),
        "ics_s": median_time(lambda: calendar_formats.to_ics(events, "bench", "UTC", AT), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    w = bench_windows(args.repeat)
    print(
        f"1,000 windows x 1,000 components at one instant ({w['blocked_targets']} of 1,000 "
        "blocked), each with its next opening or closing:"
    )
    print(f"  shared Evaluator:        {w['shared_s']:.3f} s (median of {args.repeat})")
    print(f"  fresh per target:        {w['fresh_s']:.3f} s (one run)")
    d = bench_old_dtstart(args.repeat)
    print("10,000 evaluations of one daily window:")
    print(f"  dtstart ten years back:  {d['old_s']:.3f} s")
    print(
        f"  dtstart last week:       {d['recent_s']:.3f} s   ratio {d['old_s'] / d['recent_s']:.2f}"
    )
    print(
        f"  naive dateutil from dtstart: {d['naive_old_per_eval_ms']:.2f} ms/eval (ten years) "
        f"vs {d['naive_recent_per_eval_ms']:.3f} ms/eval (last week)"
    )
    c = bench_calendar(args.repeat)
    print(f"5-year calendar, 20 trains: {c['events']} events, ICS {c['ics_bytes'] / 1024:.0f} KiB")
    print(f"  build: {c['build_s']:.3f} s   render ICS: {c['ics_s']:.3f} s")


if __name__ == "__main__":
    main()
