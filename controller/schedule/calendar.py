"""The release calendar as data: train departures and milestones, releases, blackout
windows, flag rollout stages and flag removal dates in a time range.

Each event has a stable UID (kind, name and, for departures, the version), so a calendar
client subscribed to the feed updates an event when a release moves instead of adding a
second one. Recurring windows stay one recurring event (their RRULE), with their
occurrences in range listed for terminal and JSON views. Releases and departures carry
the deny windows that block them and when they next open.

Pure: `now` and the range are arguments; rendering lives in `calendar_formats`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from controller.manifests.state import DesiredState
from controller.schedule import departures, trains, windows
from controller.schedule.zones import day_bounds, to_instant, to_local

MILESTONE_LENGTH = timedelta(minutes=30)
DEPARTURE_LENGTH = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Event:
    """One calendar entry."""

    uid: str
    category: str
    """departure, milestone, release, window, flag-stage or flag-removal."""
    summary: str
    start: datetime | date
    """An aware instant, or a date for all-day events."""
    end: datetime | date
    timezone: str
    """Zone the event is shown in (and its TZID in ICS)."""
    description: str = ""
    rrule: str | None = None
    """For recurring windows: the rule; `start` is then the first occurrence (local)."""
    occurrences: tuple[tuple[datetime, datetime], ...] = ()
    """For recurring windows: the occurrences in range, as UTC instants."""
    blocked_by: tuple[str, ...] = ()
    """Deny windows blocking it."""
    waits_for: tuple[str, ...] = ()
    """Allow windows some of its targets wait for (deploys there only while one is open)."""
    opens: datetime | None = None
    """When blocked or waiting: when every target is open."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (_instant(self.start, self.timezone), self.uid)


def _instant(value: datetime | date, timezone: str) -> datetime:
    if isinstance(value, datetime):
        return value
    return day_bounds(value, timezone)[0]


def build(
    state: DesiredState,
    start: datetime,
    end: datetime,
    now: datetime,
    recorded: Mapping[str, datetime] | None = None,
) -> list[Event]:
    """Every event overlapping [start, end), ordered by start. Releases are placed at
    their effective departure: the one `recorded` (release → departure, the
    controller's records) holds, else the one their manifest asks for, moved past
    the windows as the controller would move it."""
    domain = f"{state.config.metadata.name}.relctl"
    evaluator = departures.evaluator_of(state)
    events: list[Event] = []
    placed = _effective(state, evaluator, now, recorded or {})
    riding = _riding(state, placed)
    for name, train in sorted(state.trains.items()):
        spec = train.model.spec
        # Milestones before departure (code freeze) belong to departures after the range.
        reach = max(-o for o in trains.milestone_offsets(spec).values()) + timedelta(days=1)
        for departure in trains.departures(spec, start, end + reach):
            events.extend(
                _departure_events(
                    domain,
                    name,
                    spec.timezone,
                    departure,
                    riding.get((name, departure.at), []),
                    start,
                    end,
                )
            )
    events.extend(_release_events(state, domain, evaluator, placed, start, end))
    events.extend(_window_events(state, domain, start, end))
    events.extend(_flag_events(state, domain, start, end))
    return sorted(events, key=lambda e: e.sort_key)


def _effective(
    state: DesiredState,
    evaluator: windows.Evaluator,
    now: datetime,
    recorded: Mapping[str, datetime],
) -> dict[str, datetime]:
    """Release → the instant it departs (releases on a train with no departure left)."""
    found: dict[str, datetime] = {}
    for name, release in sorted(state.releases.items()):
        spec = release.model.spec
        if name in recorded:
            found[name] = recorded[name]
            continue
        train = state.trains.get(spec.train) if spec.train else None
        if spec.train is not None:
            if train is None:
                continue
            departure = trains.release_departure(train.model.spec, spec.departure, now)
            if departure is None:
                continue
            asked = departure.at
        elif isinstance(spec.date, datetime):
            asked = spec.date
        else:
            assert spec.date is not None
            found[name] = day_bounds(spec.date, state.config.spec.timezone)[0]
            continue  # a whole day: its hours are the deployer's to pick
        moved = departures.effective(
            asked,
            train=train.model.spec if train is not None else None,
            evaluator=evaluator,
            where=departures.targets(state, release.model),
            exceptions=departures.exceptions_of(release.model),
        )
        found[name] = moved.at or asked
    return found


def _riding(
    state: DesiredState, placed: Mapping[str, datetime]
) -> dict[tuple[str, datetime], list[str]]:
    """(train, departure instant) → names of the releases riding it."""
    found: dict[tuple[str, datetime], list[str]] = {}
    for name, release in sorted(state.releases.items()):
        train = release.model.spec.train
        if train is not None and train in state.trains and name in placed:
            found.setdefault((train, placed[name]), []).append(name)
    return found


def _departure_events(
    domain: str,
    train: str,
    timezone: str,
    departure: trains.Departure,
    releases: list[str],
    start: datetime,
    end: datetime,
) -> list[Event]:
    events = []
    local = {k: to_local(v, timezone) for k, v in departure.milestones.items()}
    lines = [f"{k}: {v:%a %Y-%m-%d %H:%M}" for k, v in local.items()]
    riders = ", ".join(releases) if releases else "no releases yet"
    for milestone, instant in departure.milestones.items():
        if not start <= instant < end:
            continue
        if milestone == "departure":
            events.append(
                Event(
                    uid=f"departure.{train}.{departure.version}@{domain}",
                    category="departure",
                    summary=f"Train {train} {departure.version} departs",
                    start=instant,
                    end=instant + DEPARTURE_LENGTH,
                    timezone=timezone,
                    description=(
                        f"Departure {departure.seq} of {departure.at.year} of train "
                        f"{train}, version {departure.version}. Releases: {riders}.\n"
                        "Milestones:\n" + "\n".join(lines)
                    ),
                    extra={"train": train, "version": departure.version},
                )
            )
        else:
            events.append(
                Event(
                    uid=f"milestone.{train}.{departure.version}.{milestone}@{domain}",
                    category="milestone",
                    summary=f"{train} {departure.version}: {milestone}",
                    start=instant,
                    end=instant + MILESTONE_LENGTH,
                    timezone=timezone,
                    description=(
                        f"Milestone {milestone} of train {train} {departure.version} "
                        f"(departs {local['departure']:%a %Y-%m-%d %H:%M} {timezone})."
                    ),
                    extra={"train": train, "version": departure.version, "milestone": milestone},
                )
            )
    return events


def _release_events(
    state: DesiredState,
    domain: str,
    evaluator: windows.Evaluator,
    placed: Mapping[str, datetime],
    start: datetime,
    end: datetime,
) -> list[Event]:
    events = []
    timezone = state.config.spec.timezone
    for name, release in sorted(state.releases.items()):
        spec = release.model.spec
        if name not in placed:
            continue
        when: datetime | date = placed[name]
        probe = placed[name]
        zone = timezone
        finish: datetime | date = probe + DEPARTURE_LENGTH
        train = state.trains.get(spec.train) if spec.train else None
        if train is not None:
            zone = train.model.spec.timezone
        elif (
            spec.date is not None
            and not isinstance(spec.date, datetime)
            and probe == day_bounds(spec.date, timezone)[0]
        ):  # a whole day, as declared: an all-day event
            when, finish = spec.date, date.fromordinal(spec.date.toordinal() + 1)
        if not start <= _instant(when, zone) < end:
            continue
        blocked, waits, opens = _blocked(state, evaluator, name, probe)
        parts = ", ".join(f"{c.name} {c.version}" for c in spec.components)
        lines = [f"Release {name}, version {spec.version} ({spec.type}).", f"Components: {parts}."]
        if spec.train:
            lines.append(f"Train: {spec.train}.")
        if spec.flags:
            lines.append(f"Flags advanced: {', '.join(spec.flags)}.")
        if spec.approvals:
            lines.append(
                "Approvals: " + ", ".join(f"{a.role} by {a.by}" for a in spec.approvals) + "."
            )
        when_open = f"; opens {to_local(opens, zone):%Y-%m-%d %H:%M} {zone}." if opens else "."
        if blocked:
            lines.append(f"BLOCKED by {', '.join(blocked)}{when_open}")
        elif waits:
            lines.append(f"Waits for allow window {', '.join(waits)}{when_open}")
        if spec.description:
            lines.append(spec.description)
        events.append(
            Event(
                uid=f"release.{name}@{domain}",
                category="release",
                summary=f"Release {name} ({spec.version}): {parts}",
                start=when,
                end=finish,
                timezone=zone,
                description="\n".join(lines),
                blocked_by=blocked,
                waits_for=waits,
                opens=opens,
                extra={"release": name, "version": spec.version},
            )
        )
    return events


def _blocked(
    state: DesiredState, evaluator: windows.Evaluator, name: str, at: datetime
) -> tuple[tuple[str, ...], tuple[str, ...], datetime | None]:
    """Deny windows blocking the release at `at`, allow windows some target waits for, and
    when all of its targets are open."""
    release = state.releases[name].model
    exceptions = departures.exceptions_of(release)
    blocking: set[str] = set()
    waits: set[str] = set()
    opens: datetime | None = None
    for target in departures.targets(state, release):
        verdict = evaluator.evaluate(target, at, exceptions)
        if not verdict.allowed:
            blocking.update(verdict.blocking)
            if not verdict.blocking:
                waits.update(verdict.allow_windows)
            if verdict.next_open and (opens is None or verdict.next_open > opens):
                opens = verdict.next_open
    return tuple(sorted(blocking)), tuple(sorted(waits)), opens


def _window_events(state: DesiredState, domain: str, start: datetime, end: datetime) -> list[Event]:
    events = []
    for name, window in sorted(state.windows.items()):
        spec = window.model.spec
        found = windows.occurrences(spec, start, end)
        if not found:
            continue
        scope = [
            f"{k}: {', '.join(v)}"
            for k, v in (
                ("components", spec.scope.components),
                ("clusters", spec.scope.clusters),
                ("projects", spec.scope.projects),
            )
            if v
        ]
        description = (
            f"{spec.kind.capitalize()} window: {spec.reason}\n"
            f"Applies to {'; '.join(scope) if scope else 'everything'}."
            + ("\nHotfixes may pass." if spec.allow_hotfixes else "")
        )
        label = "Deploy freeze" if spec.kind == "deny" else "Deploy window"
        make = partial(
            Event,
            uid=f"window.{name}@{domain}",
            category="window",
            summary=f"{label}: {name}",
            timezone=spec.timezone,
            description=description,
            occurrences=tuple(found),
            extra={"window": name, "kind": spec.kind},
        )
        if spec.rrule is not None:
            assert spec.dtstart is not None and spec.duration is not None
            first = spec.dtstart if spec.dtstart.tzinfo else to_instant(spec.dtstart, spec.timezone)
            events.append(make(start=first, end=first + spec.duration, rrule=spec.rrule))
        else:
            begin, finish = windows.bounds(spec)
            events.append(make(start=begin, end=finish))
    return events


def _flag_events(state: DesiredState, domain: str, start: datetime, end: datetime) -> list[Event]:
    events = []
    timezone = state.config.spec.timezone
    for name, flag in sorted(state.flags.items()):
        spec = flag.model.spec
        if spec.rollout is not None:
            gate = (
                f" once release {spec.rollout.after_release} is released"
                if spec.rollout.after_release
                else ""
            )
            for index, stage in enumerate(spec.rollout.stages, start=1):
                if not start <= stage.at < end:
                    continue
                events.append(
                    Event(
                        uid=f"flag.{name}.stage-{index}@{domain}",
                        category="flag-stage",
                        summary=f"Flag {name}: {spec.rollout.variant} for {stage.percent:g}%",
                        start=stage.at,
                        end=stage.at + MILESTONE_LENGTH,
                        timezone=timezone,
                        description=(
                            f"Stage {index} of {len(spec.rollout.stages)} of flag {name}: "
                            f"{stage.percent:g}% of targeting keys get variant "
                            f"'{spec.rollout.variant}'{gate}. Owner: {spec.owner}."
                        ),
                        extra={"flag": name, "percent": f"{stage.percent:g}"},
                    )
                )
        if spec.remove_by is not None:
            day_start, _ = day_bounds(spec.remove_by, timezone)
            if start <= day_start < end:
                events.append(
                    Event(
                        uid=f"flag.{name}.remove@{domain}",
                        category="flag-removal",
                        summary=f"Remove flag {name}",
                        start=spec.remove_by,
                        end=date.fromordinal(spec.remove_by.toordinal() + 1),
                        timezone=timezone,
                        description=(
                            f"Flag {name} is due for removal from code"
                            + (f" ({spec.jira_issue})" if spec.jira_issue else "")
                            + f". Owner: {spec.owner}."
                        ),
                        extra={"flag": name},
                    )
                )
    return events
