"""Findings as notifications, on transitions only: a condition (image drift, flag drift,
a stale flag, a rollback trigger) is notified when it appears, and "recovered" when it
clears, never again while it lasts.

What is active, since when, and the outbox of its notifications live in one file,
`status/conditions.yaml` (`Conditions`), read back each pass as hostile as any status
file. A condition is identified by its kind and subject (the release, component or flag
it is about), not its wording, so a message that changes while it lasts is no new
condition. Its notifications are queued in the commit that records it, and sent on the
next pass like a decision's (`deliveries`).

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from controller.manifests import yamlsource
from controller.manifests.notify import Subscription
from controller.manifests.state import DesiredState
from controller.plan import deliveries
from controller.plan.actions import Notify
from controller.plan.notices import Notice
from controller.plan.outbox import (
    SAFE,
    Delivery,
    DeliveryState,
    delivery_document,
    delivery_from,
)
from controller.plan.plans import Finding, FindingKind
from controller.plan.records import RecordError, parse_record, parse_time
from controller.schedule.zones import wall

PATH = "conditions.yaml"
FORMAT = "relctl.dev/conditions/v1"
EVENTS = {
    FindingKind.DRIFT: "DRIFT",
    FindingKind.FLAG_DRIFT: "FLAG_DRIFT",
    FindingKind.STALE_FLAG: "STALE_FLAG",
    FindingKind.TRIGGER: "TRIGGER",
}
"""The findings a Subscription may name as events; RECOVERED asks for their clearing."""
RECOVERED = "RECOVERED"
MAX_ACTIVE = 500


@dataclass(frozen=True)
class Condition:
    event: str
    subject: str
    message: str
    since: datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.event, self.subject


@dataclass(frozen=True)
class Conditions:
    active: tuple[Condition, ...] = ()
    deliveries: tuple[Delivery, ...] = ()


def follows(subscription: Subscription, subject: str, desired: DesiredState) -> bool:
    """A condition's subject is a release (the selector applies), or a component or flag
    (followed by a selector that names no release, train or label, or names it)."""
    release = desired.releases.get(subject)
    if release is not None:
        return deliveries.follows(subscription, subject, release.model)
    selector = subscription.spec.releases
    if selector.components:
        return subject in selector.components
    return not (selector.names or selector.trains or selector.match_labels)


def plan(
    desired: DesiredState,
    findings: Sequence[Finding],
    recorded: Conditions,
    now: datetime,
) -> tuple[Conditions, list[Notify]]:
    """The conditions now (new ones queued for their subscriptions, cleared ones queued
    as recovered), and the queued notifications of an earlier pass to send now."""
    current: dict[tuple[str, str], str] = {}
    for finding in findings:
        event = EVENTS.get(finding.kind)
        if event is not None and SAFE.match(finding.subject):
            current.setdefault((event, finding.subject), finding.message[:500])
    before = {c.key: c for c in recorded.active}
    active = tuple(
        replace(before[key], message=message) if key in before
        else Condition(key[0], key[1], message, now)
        for key, message in sorted(current.items())
    )[:MAX_ACTIVE]  # fmt: skip
    opened = [c for c in active if c.key not in before]
    closed = [c for key, c in sorted(before.items()) if key not in current]
    subscriptions = [desired.subscriptions[n] for n in sorted(desired.subscriptions)]
    known = {d.id for d in recorded.deliveries}
    queued: list[Delivery] = []
    for condition, recovered in [(c, False) for c in opened] + [(c, True) for c in closed]:
        for sub in subscriptions:
            events = sub.model.spec.events
            if condition.event not in events or (recovered and RECOVERED not in events):
                continue
            if not follows(sub.model, condition.subject, desired):
                continue
            stamp = condition.since.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            kind = f"{RECOVERED}/{condition.event}" if recovered else condition.event
            delivery = Delivery(
                f"{condition.subject}/{kind}/{stamp}/{sub.name}", sub.name,
                sub.model.spec.sink, kind, condition.since, message=condition.message,
            )  # fmt: skip
            if delivery.id not in known:
                known.add(delivery.id)
                queued.append(delivery)
    sinks = desired.config.spec.sinks
    actions: list[Notify] = []
    for delivery in recorded.deliveries:  # queued by an earlier pass: recorded
        if delivery.state is not DeliveryState.PENDING:
            continue
        if delivery.retry is not None and delivery.retry > now:
            continue
        following = desired.subscriptions.get(delivery.subscription)
        if following is None or delivery.sink not in sinks:
            continue
        actions.append(Notify("", f"notify {delivery.sink} of {delivery.event}", delivery.sink,
                              notice(delivery, following.model.spec.audience,
                                     desired.config.spec.timezone)))  # fmt: skip
    outbox = deliveries.bounded((*recorded.deliveries, *queued))
    return Conditions(active, outbox), actions


def notice(delivery: Delivery, audience: str, timezone: str) -> Notice:
    """What a condition's notification says."""
    subject = delivery.id.split("/", 1)[0]
    recovered = delivery.event.startswith(RECOVERED)
    event = delivery.event.rsplit("/", 1)[-1]
    what = event.replace("_", " ").lower()
    title = f"{subject}: {what} " + ("cleared" if recovered else "found")
    if audience == "customers":
        return Notice(delivery.id, subject, "", delivery.event, delivery.decided,
                      wall(delivery.decided, timezone), audience, title, title + ".")  # fmt: skip
    summary = f"Recovered: no longer {delivery.message}" if recovered else delivery.message
    facts = (("Since", wall(delivery.decided, timezone)),)
    return Notice(delivery.id, subject, "", delivery.event, delivery.decided,
                  wall(delivery.decided, timezone), audience, title, summary, facts)  # fmt: skip


def settle(
    conditions: Conditions, delivery_id: str, now: datetime, response: str, **kw: Any
) -> Conditions:
    """An attempt's outcome recorded (`deliveries.settle`'s rules)."""
    holder = deliveries.settle_all(conditions.deliveries, delivery_id, now, response, **kw)
    return replace(conditions, deliveries=holder)


def failures(conditions: Conditions, now: datetime) -> list[Finding]:
    found = []
    for d in conditions.deliveries:
        if d.state is DeliveryState.FAILED and d.at is not None and now - d.at < timedelta(days=1):
            why = f"failed after {d.attempts} attempt(s): {d.response}"
            found.append(Finding(FindingKind.NOTIFICATION, d.id.split("/", 1)[0],
                                 f"notification {d.id} to sink {d.sink} {why}"))  # fmt: skip
    return found


# --- file form ---------------------------------------------------------------------------


def to_yaml(conditions: Conditions) -> str:
    document = {
        "format": FORMAT,
        "active": [
            {"event": c.event, "subject": c.subject, "message": c.message,
             "since": c.since.isoformat()}
            for c in conditions.active
        ],
        "deliveries": [delivery_document(d) for d in conditions.deliveries],
    }  # fmt: skip
    header = "# Written by relctl: the conditions it notified, and their notifications.\n"
    return header + yaml.dump(document, Dumper=yamlsource.SafeCoreDumper, sort_keys=False,
                              allow_unicode=True, width=100)  # fmt: skip


def from_yaml(text: str, where: str) -> Conditions:
    raw = parse_record(text, where, FORMAT, "conditions file")
    try:
        active = []
        for n, c in enumerate(raw.get("active") or ()):
            since = parse_time(c["since"], f"{where}: active[{n}].since")
            if since is None:
                raise ValueError(f"active[{n}] has no since")
            active.append(Condition(str(c["event"]), str(c["subject"])[:253],
                                    str(c.get("message", ""))[:500], since))  # fmt: skip
        outbox = tuple(
            delivery_from(d, parse_time, f"{where}: deliveries[{n}]")
            for n, d in enumerate(raw.get("deliveries") or ())
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"{where}: malformed conditions file ({exc})") from None
    return Conditions(tuple(active[:MAX_ACTIVE]), outbox)
