"""Why a release is where it is, in one sentence a release manager can act on:
"waiting for holiday-freeze to end at 2027-01-04 09:00 Europe/Berlin",
"NO_GO: 1 blocker (SHOP-107), product-owner approval missing". Read from its record
alone, so the live pages and the static site say the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from controller.plan.readiness import Criterion
from controller.plan.records import DecisionKind, DecisionRecord, Phase, ReleaseStatus
from controller.web.model import Snapshot, wall

_SHOWN = 3
"""Issue keys named before "and N more"."""


def _keys(keys: tuple[str, ...]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _unmet(criterion: Criterion, record: DecisionRecord) -> str:
    evidence = record.evidence
    name = criterion.name
    if name == "blockers" and evidence.blockers:
        return f"{_count(len(evidence.blockers), 'blocker')} ({_keys(evidence.blockers)})"
    if name == "criticalBugs" and evidence.critical_bugs:
        bugs = evidence.critical_bugs
        return f"{_count(len(bugs), 'critical bug')} ({_keys(bugs)})"
    if name == "approvals":
        counted = criterion.actual.split(" (", 1)[0]
        doubted = criterion.actual.partition(" (unverified: ")[2].split(")", 1)[0]
        have = {r.strip() for r in counted.split(",")}
        missing = [r.strip() for r in criterion.required.split(",") if r.strip() not in have]
        if missing:
            said = f"{', '.join(missing)} approval{'s' if len(missing) > 1 else ''} missing"
            return said + (f" (unverified: {doubted})" if doubted else "")
    if name.startswith("signal:"):
        signal = name.removeprefix("signal:")
        if criterion.actual == "missing":
            return f"signal {signal} missing (needs {criterion.required})"
        return f"signal {signal} is {criterion.actual} (needs {criterion.required})"
    return f"{name} {criterion.actual} (needs {criterion.required})"


def verdict(record: DecisionRecord) -> str:
    """A go/no-go verdict and what stands in its way, vetoes first."""
    unmet = sorted((c for c in record.criteria if not c.met), key=lambda c: not c.veto)
    if not unmet:
        return f"{record.decision.value}: every criterion met"
    return f"{record.decision.value}: " + ", ".join(_unmet(c, record) for c in unmet)


def _moved(status: ReleaseStatus, at: Callable[[datetime | None], str]) -> str:
    """Where its departure was moved from, and by what: a window (RESCHEDULED) or a
    verdict (DELAY); empty when it never moved."""
    record = status.last(DecisionKind.RESCHEDULED, DecisionKind.DELAY)
    if record is None or record.evidence.departure is None:
        return ""
    cause = ", ".join(record.evidence.windows)
    if not cause and record.decision is DecisionKind.DELAY:
        cause = "a NO_GO"
    return f", moved from {at(record.evidence.departure)}" + (f" by {cause}" if cause else "")


def why(snapshot: Snapshot, name: str) -> str:
    status = snapshot.statuses.get(name)
    zone = snapshot.zone_of(name)
    release = snapshot.release(name)
    if status is None:
        if release is None:
            return "Not declared and never recorded."
        return "Not seen by the controller yet: it records the release on its next pass."

    def at(moment: datetime | None) -> str:
        return wall(moment, zone)

    if status.suspended:
        record = status.last_ever(DecisionKind.SUSPENDED)
        by = f" by {record.evidence.by}" if record is not None and record.evidence.by else ""
        since = f" since {at(record.at)}" if record is not None else ""
        return (
            f"Suspended{since}{by}: nothing is done for it ({status.phase.value}) until "
            "`suspend` is removed (relctl resume)."
        )
    text = _phase_why(snapshot, status, at)
    return f"Attempt {status.attempt}: {text}" if status.attempt > 1 else text


def _phase_why(
    snapshot: Snapshot, status: ReleaseStatus, at: Callable[[datetime | None], str]
) -> str:
    name = status.release
    release = snapshot.release(name)
    last_verdict = status.last(DecisionKind.GO, DecisionKind.GO_WITH_CONDITIONS, DecisionKind.NO_GO)
    phase = status.phase
    if release is None and not phase.final:
        return "Its manifest was removed: the controller no longer acts on it."
    moved = _moved(status, at)
    if phase is Phase.SCHEDULED:
        return f"Scheduled to depart at {at(status.departure)}{moved}."
    if phase is Phase.READINESS:
        return (
            f"Readiness is reported until the go/no-go; departs at {at(status.departure)}{moved}."
        )
    if phase is Phase.DECIDING:
        if last_verdict is None:
            return f"Awaiting its go/no-go; departs at {at(status.departure)}."
        return f"{verdict(last_verdict)}. Departs at {at(status.departure)}."
    if phase is Phase.HELD:
        reason = verdict(last_verdict) if last_verdict is not None else "no go/no-go yet"
        return f"Held since its departure at {at(status.departure)}: {reason}."
    if phase is Phase.WAITING:
        blocked = status.last(DecisionKind.BLOCKED)
        if blocked is None or not blocked.evidence.windows:
            return "GO, waiting for a window to open."
        state = snapshot.state
        kinds = {
            n: state.windows[n].model.spec.kind if state and n in state.windows else "deny"
            for n in blocked.evidence.windows
        }
        deny = [n for n, k in kinds.items() if k == "deny"]
        allow = [n for n, k in kinds.items() if k == "allow"]
        until = blocked.evidence.until
        when = at(until) if until else "no opening within five years"
        if deny:
            waits = f"{', '.join(deny)} to end"
            if allow:
                waits += f" and {', '.join(allow)} to open"
        else:
            waits = f"{', '.join(allow)} to open"
        return f"GO, waiting for {waits}: it goes at {when}."
    if phase is Phase.ROLLING_OUT:
        rollout = status.last(DecisionKind.ROLLOUT)
        parts = ", ".join(rollout.evidence.components) if rollout else ""
        since = f" since {at(rollout.at)}" if rollout else ""
        return f"Rolling out {parts or 'its components'}{since}."
    if phase is Phase.MONITORING:
        deployed = status.last(DecisionKind.DEPLOYED)
        since = f" at {at(deployed.at)}" if deployed else ""
        return f"Deployed{since}; watched for rollback triggers until its monitoring ends."
    if phase is Phase.ROLLBACK_RECOMMENDED:
        record = status.last(DecisionKind.ROLLBACK_RECOMMENDED)
        cause = "; ".join(record.evidence.triggers) if record and record.evidence.triggers else ""
        return (
            f"Rollback recommended{f' at {at(record.at)}' if record else ''}"
            f"{f': {cause}' if cause else ''}. rollback.auto is off: a person decides."
        )
    aborted = status.last(DecisionKind.ABORTED)
    if aborted is not None and phase in (Phase.ROLLED_BACK, Phase.ROLLBACK_RECOMMENDED):
        by = f" by {aborted.evidence.by}" if aborted.evidence.by else ""
        after = "rolled back" if phase is Phase.ROLLED_BACK else "a rollback is recommended"
        return f"Aborted at {at(aborted.at)}{by}: {aborted.rationale}; {after}."
    if phase is Phase.ROLLED_BACK:
        record = status.last(DecisionKind.ROLLBACK)
        cause = "; ".join(record.evidence.triggers) if record and record.evidence.triggers else ""
        parts = ", ".join(status.rolled_back)
        return (
            f"Rolled back{f' at {at(record.at)}' if record else ''}"
            f"{f' ({parts})' if parts else ''}{f': {cause}' if cause else ''}."
        )
    released = status.last(DecisionKind.RELEASED)
    return f"Released{f' at {at(released.at)}' if released else ''}."
