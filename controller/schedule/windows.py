"""Blackout windows: which apply to a deployment target, whether it may deploy now, and
when that next changes.

Rules (as Argo CD sync windows): no matching window → allowed; if any matching `allow`
window exists, deploys happen only while one of them is active; an active `deny` window
always wins, except for a hotfix through a window with `allowHotfixes`, or a valid
override. Each occurrence is active on [start, end). Recurring occurrences start at
wall-clock times in the window's timezone and last `duration` of wall-clock time, so a
48h weekend window starting Saturday 00:00 ends Monday 00:00 local even across a DST
change. Occurrences are computed near the query (see `recurrence`), so a window whose
`dtstart` is ten years back costs the same as one from last week.

Pure: the instant is always an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise

from controller.manifests.models import BlackoutWindowSpec
from controller.schedule.recurrence import Recurrence
from controller.schedule.zones import to_instant, to_local

HORIZON = timedelta(days=5 * 366)
CHUNK = timedelta(days=28)
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
_MAX_STEPS = 10_000


@dataclass(frozen=True, slots=True)
class Target:
    """What is being deployed: a component on a cluster, tracked in a Jira project."""

    component: str
    cluster: str = ""
    project: str = ""


@dataclass(frozen=True, slots=True)
class Window:
    """A named window, as the evaluation sees it."""

    name: str
    spec: BlackoutWindowSpec


@dataclass(frozen=True, slots=True)
class Exceptions:
    """What lets a deploy pass deny windows."""

    hotfix: bool = False
    override_expires: datetime | None = None
    """A release's override: passes every deny window until it expires."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a target may deploy at an instant, why, and until when."""

    allowed: bool
    at: datetime
    blocking: tuple[str, ...]
    """Active deny windows that block (empty when allowed, or when no allow window is
    active while allow windows apply)."""
    passed: tuple[str, ...]
    """Active deny windows passed by a hotfix allowance or an override."""
    allow_windows: tuple[str, ...]
    """Allow windows that apply to the target (deploys only while one is active)."""
    active_allow: tuple[str, ...]
    """Allow windows active now."""
    next_open: datetime | None
    """When blocked: the first instant it is allowed (None if not within the horizon)."""
    next_close: datetime | None
    """When allowed: the first instant it is blocked (None if not within the horizon)."""
    override_used: bool = False
    """An override is what lets it through."""


def applies(spec: BlackoutWindowSpec, target: Target) -> bool:
    """Every non-empty scope list must contain the target's value."""
    scope = spec.scope
    return (
        (not scope.components or target.component in scope.components)
        and (not scope.clusters or target.cluster in scope.clusters)
        and (not scope.projects or target.project in scope.projects)
    )


def bounds(spec: BlackoutWindowSpec) -> tuple[datetime, datetime]:
    """The UTC instants of an absolute window."""
    assert spec.start is not None and spec.end is not None
    return to_instant(spec.start, spec.timezone), to_instant(spec.end, spec.timezone)


def recurrence(spec: BlackoutWindowSpec) -> Recurrence:
    assert spec.rrule is not None and spec.dtstart is not None
    start = spec.dtstart
    if start.tzinfo is not None:
        start = to_local(start, spec.timezone)
    return _recurrence(spec.rrule, start)


@lru_cache(maxsize=4096)
def _recurrence(rule: str, start: datetime) -> Recurrence:
    return Recurrence(rule, start)


def occurrences(
    spec: BlackoutWindowSpec, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) instants of the window's occurrences that overlap [start, end)."""
    if spec.start is not None and spec.end is not None:
        begin, finish = bounds(spec)
        return [(begin, finish)] if begin < end and start < finish else []
    assert spec.duration is not None
    rule = recurrence(spec)
    # An occurrence overlapping the interval began at most `duration` (plus a DST hour)
    # before it.
    low = to_local(start, spec.timezone) - spec.duration - timedelta(hours=1)
    high = to_local(end, spec.timezone) + timedelta(hours=1)
    found = []
    for local in rule.between(low, high):
        begin = to_instant(local, spec.timezone)
        finish = to_instant(local + spec.duration, spec.timezone)
        if begin < end and start < finish:
            found.append((begin, finish))
    return found


def occurrence_at(spec: BlackoutWindowSpec, at: datetime) -> tuple[datetime, datetime] | None:
    """The (start, end) of an occurrence active at `at` (the latest ending, if several)."""
    found = occurrences(spec, at, at + timedelta(microseconds=1))
    return max(found, key=lambda o: o[1]) if found else None


@lru_cache(maxsize=4096)
def always_active_from(spec: BlackoutWindowSpec) -> datetime | None:
    """For a recurring window whose occurrences overlap or touch forever (a daily 24h
    window, say): the instant from which it never closes. None otherwise, or when that
    cannot be told cheaply (then callers follow occurrences one by one)."""
    if spec.rrule is None or spec.duration is None:
        return None
    upper = spec.rrule.upper()
    if "COUNT=" in upper or "UNTIL=" in upper:
        return None
    rule = recurrence(spec)
    first = rule.after(rule.dtstart, inclusive=True)
    if first is None:
        return None
    # Two years of starts show every gap a weekly, monthly or daily pattern has.
    sample = rule.between(first, first + timedelta(days=2 * 366 + 1))
    if len(sample) < 2:
        return None
    gap = max(later - earlier for earlier, later in pairwise(sample))
    return to_instant(first, spec.timezone) if gap <= spec.duration else None


class Evaluator:
    """Evaluates many targets against one set of windows, computing each window's
    occurrence at an instant once however many targets share it (1,000 windows x
    1,000 components cost 1,000 occurrence look-ups, plus cheap scope checks)."""

    def __init__(self, windows: Sequence[Window]) -> None:
        self.windows = tuple(windows)
        self._chunks: dict[tuple[int, int], list[tuple[datetime, datetime]]] = {}
        self._covered: dict[tuple[int, datetime], datetime] = {}

    def _chunk(self, index: int, number: int) -> list[tuple[datetime, datetime]]:
        """Occurrences of a window overlapping chunk `number` (CHUNK-long slices of time
        counted from the epoch), sorted by start; computed once per window and chunk."""
        key = (index, number)
        found = self._chunks.get(key)
        if found is None:
            start = _EPOCH + number * CHUNK
            found = sorted(occurrences(self.windows[index].spec, start, start + CHUNK))
            self._chunks[key] = found
        return found

    def active(self, index: int, at: datetime) -> tuple[datetime, datetime] | None:
        """The latest-ending occurrence active at `at`, if any."""
        best = None
        for begin, end in self._chunk(index, (at - _EPOCH) // CHUNK):
            if begin > at:
                break
            if at < end and (best is None or end > best[1]):
                best = (begin, end)
        return best

    def next_start(self, index: int, after: datetime) -> datetime | None:
        """The first occurrence start strictly after `after`, within the horizon."""
        spec = self.windows[index].spec
        if spec.start is not None:  # absolute: one occurrence
            begin, _ = bounds(spec)
            return begin if begin > after else None
        first = (after - _EPOCH) // CHUNK
        for number in range(first, first + HORIZON // CHUNK + 2):
            for begin, _ in self._chunk(index, number):
                if begin > after:
                    return begin
        return None

    def covered_until(self, index: int, at: datetime) -> datetime:
        """The end of the window's continuous coverage from `at` (it must be active then):
        overlapping and back-to-back occurrences are followed, never past the horizon."""
        key = (index, at)
        if key in self._covered:
            return self._covered[key]
        spec = self.windows[index].spec
        limit = at + HORIZON
        always = always_active_from(spec)
        if always is not None and at >= always:
            end = limit + timedelta(days=1)
        else:
            hit = self.active(index, at)
            assert hit is not None
            end = hit[1]
            while end <= limit and (more := self.active(index, end)) is not None:
                end = more[1]
        self._covered[key] = end
        return end

    def evaluate(
        self, target: Target, at: datetime, exceptions: Exceptions = Exceptions()
    ) -> Verdict:
        """The verdict for `target` at the instant `at`, with the next change of state."""
        matching = [i for i, w in enumerate(self.windows) if applies(w.spec, target)]
        deny = [i for i in matching if self.windows[i].spec.kind == "deny"]
        allow = [i for i in matching if self.windows[i].spec.kind == "allow"]
        state = self._state(deny, allow, at, exceptions)
        if state.allowed:
            next_open, next_close = None, self._next_close(deny, allow, at, exceptions)
        else:
            next_open, next_close = self._next_open(deny, allow, at, exceptions), None
        return Verdict(
            allowed=state.allowed,
            at=at,
            blocking=state.blocking,
            passed=state.passed,
            allow_windows=tuple(self.windows[i].name for i in allow),
            active_allow=state.active_allow,
            next_open=next_open,
            next_close=next_close,
            override_used=state.override_used,
        )

    def _state(
        self, deny: Sequence[int], allow: Sequence[int], at: datetime, exceptions: Exceptions
    ) -> _State:
        blocking, passed, ends = [], [], []
        override_used = False
        for index in deny:
            hit = self.active(index, at)
            if hit is None:
                continue
            window = self.windows[index]
            ok, by_override = passes(window.spec, at, exceptions)
            if ok:
                passed.append(window.name)
                override_used = override_used or by_override
            else:
                blocking.append(window.name)
                ends.append(self.covered_until(index, at))
        active_allow = tuple(self.windows[i].name for i in allow if self.active(i, at) is not None)
        allowed = not blocking and (not allow or bool(active_allow))
        return _State(
            allowed,
            tuple(blocking),
            tuple(passed),
            active_allow,
            override_used and allowed,
            max(ends) if ends else None,
        )

    def _next_open(
        self, deny: Sequence[int], allow: Sequence[int], at: datetime, exceptions: Exceptions
    ) -> datetime | None:
        """Walk forward from `at` over change points until the target is allowed."""
        moment, limit = at, at + HORIZON
        for _ in range(_MAX_STEPS):
            state = self._state(deny, allow, moment, exceptions)
            if state.allowed:
                return moment
            if state.blocked_until is not None:
                moment = state.blocked_until
            else:  # not denied, but no allow window active: wait for the next one to start
                starts = [s for i in allow if (s := self.next_start(i, moment)) is not None]
                if not starts:
                    return None
                moment = min(starts)
            if moment > limit:
                return None
        return None  # pragma: no cover

    def _next_close(
        self, deny: Sequence[int], allow: Sequence[int], at: datetime, exceptions: Exceptions
    ) -> datetime | None:
        """The first instant after `at` at which the target becomes blocked."""
        moment, limit = at, at + HORIZON
        for _ in range(_MAX_STEPS):
            candidates = []
            for index in deny:
                start = self.next_start(index, moment)
                if start is not None:
                    candidates.append(start)
                hit = self.active(index, moment)
                if hit is not None:  # passed now, but the pass may end (an override expires)
                    candidates.append(hit[1])
            for index in allow:
                hit = self.active(index, moment)
                if hit is not None:
                    candidates.append(hit[1])
            expires = exceptions.override_expires
            if expires is not None and expires > moment:
                candidates.append(expires)
            candidates = [c for c in candidates if c > moment]
            if not candidates:
                return None
            moment = min(candidates)
            if moment > limit:
                return None
            if not self._state(deny, allow, moment, exceptions).allowed:
                return moment
        return None  # pragma: no cover


def evaluate(
    windows: Sequence[Window],
    target: Target,
    at: datetime,
    exceptions: Exceptions = Exceptions(),
) -> Verdict:
    """The verdict for one target; use an `Evaluator` for many targets."""
    return Evaluator(windows).evaluate(target, at, exceptions)


@dataclass(frozen=True, slots=True)
class _State:
    allowed: bool
    blocking: tuple[str, ...]
    passed: tuple[str, ...]
    active_allow: tuple[str, ...]
    override_used: bool
    blocked_until: datetime | None
    """The latest end of continuous coverage among blocking deny windows."""


def passes(spec: BlackoutWindowSpec, at: datetime, exceptions: Exceptions) -> tuple[bool, bool]:
    """(passes, by override) for an active deny window: a hotfix through a window that
    allows hotfixes, or an override that has not expired at `at`."""
    if exceptions.hotfix and spec.allow_hotfixes:
        return True, False
    if exceptions.override_expires is not None and at < exceptions.override_expires:
        return True, True
    return False, False
