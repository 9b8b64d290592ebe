"""Delivery metrics from the decision log: how often, how fast, how safely releases ship.

Per train, component and month (in the ControllerConfig's zone):

- deployments: DEPLOYED decisions; per month over the span the log covers;
- lead time: from the departure's code freeze (its train's milestone) to DEPLOYED;
- change failure rate: rollouts followed by a ROLLBACK or ROLLBACK_RECOMMENDED, over
  rollouts;
- time to restore: how long a failed change was live, from its ROLLOUT to its ROLLBACK;
- on time: deployed releases that rolled out within an hour of the departure their
  manifest asked for and were never delayed;
- DELAYs: DELAY decisions.

Medians, not means: one release held for a month would swamp a mean.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.plan.records import DecisionKind, ReleaseStatus
from controller.schedule import trains
from controller.schedule.zones import to_local
from controller.web.model import Snapshot, span

ON_TIME = timedelta(hours=1)
FAILED = (DecisionKind.ROLLBACK, DecisionKind.ROLLBACK_RECOMMENDED)


@dataclass
class Tally:
    deployments: int = 0
    rollouts: int = 0
    failures: int = 0
    delays: int = 0
    on_time: int = 0
    lead: list[float] = field(default_factory=list)
    restore: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.deployments += other.deployments
        self.rollouts += other.rollouts
        self.failures += other.failures
        self.delays += other.delays
        self.on_time += other.on_time
        self.lead += other.lead
        self.restore += other.restore


@dataclass(frozen=True)
class Row:
    group: str
    deployments: int
    per_month: str
    lead_time: str
    failure_rate: str
    restore: str
    on_time: str
    delays: int


def _code_freeze(snapshot: Snapshot, status: ReleaseStatus) -> datetime | None:
    release = snapshot.release(status.release)
    if release is None or not release.spec.train or snapshot.state is None:
        return None
    train = snapshot.state.trains.get(release.spec.train)
    when = status.planned or status.departure
    if train is None or when is None:
        return None
    departure = trains.departure_on(train.model.spec, when)
    return departure.milestones.get("codeFreeze") if departure else None


def tally(snapshot: Snapshot, status: ReleaseStatus) -> tuple[Tally, datetime | None]:
    """One release's figures, and when it deployed (first DEPLOYED)."""
    found = Tally()
    rollout: datetime | None = None
    deployed: datetime | None = None
    for record in status.decisions:
        kind = record.decision
        if kind is DecisionKind.ROLLOUT:
            found.rollouts += 1
            rollout = record.at
        elif kind is DecisionKind.DEPLOYED:
            found.deployments += 1
            deployed = deployed or record.at
        elif kind in FAILED and rollout is not None:
            found.failures += 1
            if kind is DecisionKind.ROLLBACK:
                found.restore.append((record.at - rollout).total_seconds())
            rollout = None
        elif kind is DecisionKind.DELAY:
            found.delays += 1
    if deployed is not None:
        freeze = _code_freeze(snapshot, status)
        if freeze is not None:
            found.lead.append((deployed - freeze).total_seconds())
        rolled = next((d.at for d in status.decisions if d.decision is DecisionKind.ROLLOUT), None)
        asked = status.planned or status.departure
        if rolled and asked and not found.delays and rolled - asked <= ON_TIME:
            found.on_time = 1
    return found, deployed


def _median(values: list[float]) -> str:
    return span(statistics.median(values)) if values else "—"


def _row(group: str, t: Tally, months: int) -> Row:
    return Row(
        group=group,
        deployments=t.deployments,
        per_month=f"{t.deployments / max(months, 1):.1f}",
        lead_time=_median(t.lead),
        failure_rate=f"{100 * t.failures / t.rollouts:.0f}%" if t.rollouts else "—",
        restore=_median(t.restore),
        on_time=f"{100 * t.on_time / t.deployments:.0f}%" if t.deployments else "—",
        delays=t.delays,
    )


@dataclass(frozen=True)
class Metrics:
    total: Row
    trains: tuple[Row, ...]
    components: tuple[Row, ...]
    months: tuple[Row, ...]


def _months(stamps: Iterable[datetime]) -> int:
    found = sorted(stamps)
    if not found:
        return 1
    first, last = found[0], found[-1]
    return (last.year - first.year) * 12 + last.month - first.month + 1


def metrics(snapshot: Snapshot) -> Metrics:
    zone = snapshot.timezone
    total = Tally()
    by_train: dict[str, Tally] = {}
    by_component: dict[str, Tally] = {}
    by_month: dict[str, Tally] = {}
    stamps: list[datetime] = []
    for name, status in sorted(snapshot.statuses.items()):
        found, deployed = tally(snapshot, status)
        total.add(found)
        by_train.setdefault(snapshot.train_of(name) or "(no train)", Tally()).add(found)
        release = snapshot.release(name)
        for component in release.spec.components if release else ():
            by_component.setdefault(component.name, Tally()).add(found)
        moment = deployed or (status.decisions[-1].at if status.decisions else None)
        if moment is not None:
            local = to_local(moment, zone)
            stamps.append(local)
            by_month.setdefault(f"{local:%Y-%m}", Tally()).add(found)
    months = _months(stamps)
    return Metrics(
        total=_row("all releases", total, months),
        trains=tuple(_row(k, v, months) for k, v in sorted(by_train.items())),
        components=tuple(_row(k, v, months) for k, v in sorted(by_component.items())),
        months=tuple(_row(k, v, 1) for k, v in sorted(by_month.items(), reverse=True)),
    )
