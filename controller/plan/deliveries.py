"""Notifications of decisions, as an outbox kept in the release's status file.

A decision taken this pass (not yet recorded: it has no source revision) that a
Subscription follows gets one `Delivery` per subscription, Pending, recorded with the
decision in the same commit: a pass killed before recording loses neither, since it
made neither. A Pending delivery of a recorded decision is sent (a `Notify` action), and
the pass records what the receiver said: Delivered, or the attempt and when to try again
(back-off, or the receiver's Retry-After). A receiver that refuses for good (a 4xx), or
keeps failing for `MAX_ATTEMPTS`, leaves the delivery Failed, which is a finding; it never
stops a release's chain. So each notification is sent at least once and, killed between
sending and recording, at most twice, with the same event id.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from controller.manifests.documents import Manifest
from controller.manifests.models import Release
from controller.manifests.notify import Subscription
from controller.manifests.state import DesiredState
from controller.plan.actions import Notify
from controller.plan.notices import notice
from controller.plan.outbox import Delivery, DeliveryState, Publication
from controller.plan.plans import Finding, FindingKind
from controller.plan.records import DecisionRecord, ReleaseStatus

MAX_ATTEMPTS = 8
KEEP = 60
"""Deliveries kept in a status file (the oldest settled ones go first)."""
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)


def event_id(release: str, decision: DecisionRecord, subscription: str) -> str:
    stamp = decision.at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    attempt = f"/attempt-{decision.attempt}" if decision.attempt != 1 else ""
    return f"{release}{attempt}/{decision.decision.value}/{stamp}/{subscription}"


def follows(subscription: Subscription, name: str, release: Release) -> bool:
    selector = subscription.spec.releases
    if selector.names and name not in selector.names:
        return False
    if selector.trains and release.spec.train not in selector.trains:
        return False
    shipped = {c.name for c in release.spec.components}
    if selector.components and not shipped & set(selector.components):
        return False
    labels = release.metadata.labels
    return all(labels.get(k) == v for k, v in selector.match_labels.items())


def queue(desired: DesiredState, name: str, status: ReleaseStatus) -> ReleaseStatus:
    """`status` with a Pending delivery for each decision taken this pass (no revision
    yet) and each Subscription that follows it and its kind."""
    manifest = desired.releases.get(name)
    if manifest is None:
        return status
    known = {d.id for d in status.deliveries}
    added: list[Delivery] = []
    for decision in status.decisions:
        if decision.revision:
            continue  # recorded by an earlier pass: its deliveries were queued then
        for sub in _subscriptions(desired):
            spec = sub.model.spec
            if decision.decision.value not in spec.events:
                continue
            if not follows(sub.model, name, manifest.model):
                continue
            delivery = Delivery(
                event_id(name, decision, sub.name), sub.name, spec.sink, decision.decision.value,
                decision.at,
            )  # fmt: skip
            if delivery.id not in known:
                known.add(delivery.id)
                added.append(delivery)
    if not added:
        return status
    return replace(status, deliveries=bounded((*status.deliveries, *added)))


def _subscriptions(desired: DesiredState) -> list[Manifest[Subscription]]:
    return [desired.subscriptions[n] for n in sorted(desired.subscriptions)]


def due(status: ReleaseStatus, now: datetime) -> list[tuple[Delivery, DecisionRecord]]:
    """The Pending deliveries to send now, each with the recorded decision it tells of
    (one whose decision is not recorded yet waits for its record)."""
    recorded = {d.at: d for d in status.decisions if d.revision}
    found = []
    for delivery in status.deliveries:
        if delivery.state is not DeliveryState.PENDING:
            continue
        if delivery.retry is not None and delivery.retry > now:
            continue
        decision = recorded.get(delivery.decided)
        if decision is not None and decision.decision.value == delivery.event:
            found.append((delivery, decision))
    return found


def settle(
    status: ReleaseStatus,
    delivery_id: str,
    now: datetime,
    response: str,
    *,
    delivered: bool,
    permanent: bool = False,
    retry_after: float | None = None,
) -> ReleaseStatus:
    """The outcome of one attempt recorded: Delivered, or its attempt counted and the
    next one scheduled (Failed once permanent or out of attempts)."""
    held = settle_all(status.deliveries, delivery_id, now, response, delivered=delivered,
                      permanent=permanent, retry_after=retry_after)  # fmt: skip
    return replace(status, deliveries=held)


def settle_all(
    held: tuple[Delivery, ...],
    delivery_id: str,
    now: datetime,
    response: str,
    *,
    delivered: bool,
    permanent: bool = False,
    retry_after: float | None = None,
) -> tuple[Delivery, ...]:
    """`settle` over an outbox."""
    return tuple(
        attempted(d, now, response, done=delivered, permanent=permanent, retry_after=retry_after)
        if d.id == delivery_id
        else d
        for d in held
    )


Outboxed = TypeVar("Outboxed", Delivery, Publication)


def attempted(
    item: Outboxed,
    now: datetime,
    response: str,
    *,
    done: bool,
    permanent: bool = False,
    retry_after: float | None = None,
    **on_done: Any,
) -> Outboxed:
    """One attempt's outcome on a Pending outbox entry (a delivery, a publication):
    Delivered (with `on_done`'s fields), or counted and the next attempt scheduled after
    the back-off or the receiver's Retry-After; Failed once permanent or out of
    attempts. An entry settled already ignores a late answer."""
    if item.state is not DeliveryState.PENDING:
        return item
    attempts = item.attempts + 1
    if done:
        return replace(item, state=DeliveryState.DELIVERED, attempts=attempts, at=now,
                       retry=None, response=response[:200], **on_done)  # fmt: skip
    failed = permanent or attempts >= MAX_ATTEMPTS
    wait = min(FIRST_RETRY * 2 ** (attempts - 1), LAST_RETRY)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=min(retry_after, LAST_RETRY.total_seconds())))
    return replace(item, state=DeliveryState.FAILED if failed else DeliveryState.PENDING,
                   attempts=attempts, at=now, retry=None if failed else now + wait,
                   response=response[:200])  # fmt: skip


def bounded(deliveries: tuple[Delivery, ...]) -> tuple[Delivery, ...]:
    """At most KEEP: the oldest settled ones leave first; Pending ones always stay."""
    extra = len(deliveries) - KEEP
    if extra <= 0:
        return deliveries
    settled = [d.id for d in deliveries if d.state is not DeliveryState.PENDING][:extra]
    gone = set(settled)
    return tuple(d for d in deliveries if d.id not in gone)


def plan(
    desired: DesiredState,
    statuses: dict[str, ReleaseStatus],
    zones: Mapping[str, str],
    now: datetime,
    issues: Callable[[str], tuple[str, ...]] = lambda _: (),
) -> tuple[list[Notify], list[Finding]]:
    """Into `statuses`: each release's new deliveries. Returned: the notifications to
    send now, and a finding for each delivery that failed in the last day."""
    actions: list[Notify] = []
    findings: list[Finding] = []
    sinks = desired.config.spec.sinks
    for name in sorted(statuses):
        status = queue(desired, name, statuses[name])
        for delivery, decision in due(status, now):
            subscription = desired.subscriptions.get(delivery.subscription)
            sink = sinks.get(delivery.sink)
            if subscription is None or sink is None:
                gone = "its subscription" if subscription is None else "its sink"
                status = settle(status, delivery.id, now, f"{gone} was removed",
                                delivered=False, permanent=True)  # fmt: skip
                continue
            zone = zones.get(name, desired.config.spec.timezone)
            told = notice(delivery, status, decision, subscription.model.spec.audience, zone,
                          sink.links)  # fmt: skip
            keys = issues(name) if sink.type == "jira" else ()
            actions.append(Notify(name, f"notify {delivery.sink} of {told.title}",
                                  delivery.sink, told, keys))  # fmt: skip
        for delivery in status.deliveries:
            if (
                delivery.state is DeliveryState.FAILED
                and delivery.at is not None
                and now - delivery.at < timedelta(days=1)
            ):
                findings.append(Finding(
                    FindingKind.NOTIFICATION, name,
                    f"notification {delivery.id} to sink {delivery.sink} failed after "
                    f"{delivery.attempts} attempt(s): {delivery.response}",
                ))  # fmt: skip
        statuses[name] = status
    return actions, findings
