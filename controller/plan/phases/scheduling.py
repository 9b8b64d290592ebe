"""Scheduling: where the release departs and when its milestones fall.

The manifest asks for a departure; a departed release keeps the one it took; before
departure the effective departure is judged afresh each pass against the windows (see
`schedule.departures`): moved past a window that would hold it longer than the go/no-go
lead time (RESCHEDULED, naming the windows), back when an override or a window removed
allows, never into the past. Runs for every release before the fleet's facts are taken.
"""

from __future__ import annotations

from datetime import datetime

from controller.plan.phases import Context, Draft, Step
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus
from controller.schedule import departures


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    old = context.fleet.recorded.get(context.name)
    planned = departures.asked(
        context.spec,
        context.train,
        context.timezone,
        context.now,
        old.planned if old is not None else None,
    )
    if planned is None:
        draft.find(
            FindingKind.SCHEDULE,
            f"train '{context.spec.train}' has no departure on "
            f"{context.spec.departure}; run relctl validate",
        )
        return draft.stop()
    effective = _keep_or_move(draft, old, planned)
    if not draft.status.phase.deployed and not draft.status.phase.final:
        effective = _clear_of_windows(draft, effective)
    draft.milestones = departures.milestones(effective, context.train, context.timezone)
    return draft.done()


def _keep_or_move(draft: Draft, old: ReleaseStatus | None, planned: datetime) -> datetime:
    """The departure as recorded, unless the manifest moved it before departure."""
    context = draft.context
    effective = planned
    if old is not None and old.planned == planned and old.departure is not None:
        effective = old.departure
    elif old is not None and old.departure is not None and (old.phase.deployed or old.phase.final):
        effective = old.departure  # it departed: a move now changes nothing
        if old.planned != planned:
            draft.find(
                FindingKind.SCHEDULE,
                f"the manifest asks for {context.local(planned)}, but the release "
                f"departed {context.local(old.departure)}; the move changes nothing",
            )
    elif (
        old is not None
        and old.planned is not None
        and not old.phase.deployed
        and not old.phase.final
    ):
        draft.update(verdict_digest="")
        draft.record(
            DecisionKind.RESCHEDULED,
            f"the manifest moved the release from {context.local(old.planned)} "
            f"to {context.local(planned)}",
            Evidence(departure=old.departure, until=planned),
        )
    moved = old is not None and old.planned is not None and old.planned != planned
    draft.update(
        version=context.spec.version,
        planned=planned,
        departure=effective,
        delayed=None if moved else draft.status.delayed,
    )
    return effective


def _clear_of_windows(draft: Draft, departure: datetime) -> datetime:
    """The effective departure: what was asked (the manifest's, or the last DELAY's),
    moved past windows that would hold it for longer than the go/no-go lead time, to the
    first departure after they open; recorded when it changes. At or past the departure
    it only moves later."""
    context = draft.context
    asked = draft.status.delayed or draft.status.planned or departure
    start = asked if asked > context.now else departure
    found = departures.effective(
        start,
        train=context.train,
        evaluator=context.fleet.evaluator,
        where=departures.targets(context.fleet.desired, context.release),
        exceptions=context.exceptions,
        now=context.now,
    )
    if found.at is None:
        draft.find(
            FindingKind.BLOCKED,
            f"departure {context.local(start)} is {context.describe(found.passed[0])} "
            "and no later departure opens within five years",
        )
        return departure
    if found.at == departure or (found.at < departure and found.at <= context.now):
        return departure
    if found.passed:
        why = (
            f"{context.passed_over(found.passed)}; it departs {context.local(found.at)} "
            f"instead, the first departure after "
            f"{'they open' if len(found.passed) > 1 else 'it opens'}"
        )
    else:
        why = (
            f"no window holds {context.local(found.at)} any longer; it departs then, "
            f"not {context.local(departure)}"
        )
    draft.record(
        DecisionKind.RESCHEDULED,
        f"{why}, and go/no-go moves with it",
        Evidence(
            windows=tuple(sorted({n for h in found.passed for n in h.windows})),
            departure=departure,
            until=found.at,
        ),
    )
    draft.update(departure=found.at, verdict_digest="", phase=Phase.SCHEDULED)
    return found.at
