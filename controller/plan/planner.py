"""`plan(desired, observed, recorded, now) -> Plan`: a release's whole life as a pure
function (DESIGN.md §4), as ordered data.

1. Every release is scheduled (`phases.scheduling`): its effective departure and
   milestones.
2. The fleet's cross-release facts are taken once (`fleet`): departures, what is in
   flight, which release supersedes which. No release reads what another produced in
   the same pass, so the plan does not depend on the order releases are visited in.
3. Each release goes through `LIFE` in order until a step stops it (it waits), then
   through `ALWAYS`.
4. Across releases: image drift (repairs recorded as decisions) and flag stages.
5. A go/no-go document for each verdict taken (`verdicts`); notifications: the
   decisions taken are queued for their subscriptions, the queued ones of recorded
   decisions sent (`deliveries`); documents published to Confluence (`publications`).

Purely computational: no clock, no I/O. A converged world plans nothing, so running the
plan on the world it produces is a fixed point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from controller.manifests.state import DesiredState
from controller.plan import (
    audiences,
    conditions,
    deliveries,
    drift,
    flag_rollout,
    publications,
    readiness,
    verdicts,
)
from controller.plan.actions import Action, RestoreImage, RollbackImage, SetImage
from controller.plan.conditions import Conditions
from controller.plan.fleet import Fleet
from controller.plan.phases import (
    Context,
    PhaseStep,
    Step,
    control,
    deciding,
    gating,
    monitoring,
    releasing,
    rolling,
    scheduling,
    stepping,
    versions,
)
from controller.plan.plans import Finding, Observed, Plan
from controller.plan.records import DecisionKind, DecisionRecord, Evidence, ReleaseStatus

LIFE: tuple[PhaseStep, ...] = (
    control.before_rollout,  # `abort` before the rollout: it stops where it is
    deciding.step,  # readiness, the verdict; before departure, DELAY or HOLD: stop
    gating.step,  # clusters observed, Deployments found, no window: ROLLOUT
    stepping.record,  # the step Jobs' outcomes into the record
    monitoring.watch,  # rollback triggers: ROLLBACK, ROLLBACK_RECOMMENDED
    rolling.restore,  # a rolled-back release's images put back
    rolling.step,  # one component at a time; all available: DEPLOYED
    monitoring.monitor,  # until monitoringEnd
    releasing.step,  # RELEASED; Jira versions released, issues commented
)
"""A release's life after scheduling. Each step acts only in the phases it knows."""
ALWAYS: tuple[PhaseStep, ...] = (versions.step, stepping.tag)
"""Steps for every scheduled release, wherever its life stopped."""


def plan(
    desired: DesiredState,
    observed: Observed,
    recorded: Mapping[str, ReleaseStatus],
    now: datetime,
    conditions: Conditions | None = None,
) -> Plan:
    """What should happen now, and why. Pure: same inputs, same plan. `conditions`: the
    recorded conditions and their outbox (None: findings are not notified this pass)."""
    names = sorted(desired.releases)
    base = Fleet.of(desired, observed, recorded, now)
    begun = {
        name: _begin(
            Context.of(base, name),
            recorded.get(name) or ReleaseStatus(name, desired.releases[name].model.spec.version),
        )
        for name in names
    }
    fleet = replace(
        base,
        departures={
            **base.departures,
            **{n: s[-1].status.departure for n, s in begun.items() if s[-1].status.departure},
        },
    )
    contexts = {name: Context.of(fleet, name) for name in names}
    steps = {name: _life(contexts[name], begun[name]) for name in names}
    zones = {name: context.timezone for name, context in contexts.items()}
    return _assemble(fleet, steps, zones, conditions)


def _begin(context: Context, status: ReleaseStatus) -> list[Step]:
    """A new attempt if one is asked for, then scheduling; a suspended release is not
    scheduled (nothing about it changes) but its milestones are known for its triggers."""
    if context.spec.suspend:
        found = scheduling.step(context, status)
        return [Step(status, milestones=found.milestones)]
    first = control.attempt(context, status)
    if first.stop:
        return [first]
    return [first, scheduling.step(context, first.status)]


def _life(context: Context, begun: list[Step]) -> list[Step]:
    scheduled = begun[-1]
    if scheduled.milestones is None:
        return begun
    status = scheduled.status
    context = replace(context, milestones=scheduled.milestones, attempt=status.attempt)
    taken = list(begun)
    if context.spec.suspend:
        return [*taken, control.suspended(context, status)]
    if status.suspended:
        taken.append(control.resumed(context, status))
        status = taken[-1].status
    for step in LIFE:
        result = step(context, status)
        taken.append(result)
        status = result.status
        if result.judged is not None:
            context = replace(context, judged=result.judged)
        if result.milestones is not None:
            context = replace(context, milestones=result.milestones)
        if result.stop:
            break
    for step in ALWAYS:
        result = step(context, status)
        taken.append(result)
        status = result.status
    return taken


def _assemble(
    fleet: Fleet,
    steps: Mapping[str, list[Step]],
    zones: Mapping[str, str],
    recorded_conditions: Conditions | None = None,
) -> Plan:
    actions: dict[str, Action] = {}
    findings: list[Finding] = []
    decisions: list[tuple[str, DecisionRecord]] = []
    statuses = dict(fleet.recorded)
    notes: dict[str, str] = {}
    for name, taken in steps.items():
        for step in taken:
            for action in step.actions:
                actions.setdefault(action.key, action)
            findings.extend(step.findings)
            decisions.extend((name, d) for d in step.decisions)
            if step.notes is not None:
                notes[name] = step.notes
        statuses[name] = taken[-1].status
    busy = {a.change.workload for a in actions.values() if isinstance(a, SetImage | RollbackImage)}
    desired, observed, now = fleet.desired, fleet.observed, fleet.now
    for found, seen in (
        drift.images(desired, observed, statuses, busy, fleet.held),
        flag_rollout.plan(desired, observed, statuses, now),
    ):
        for action in found:
            if action.key in actions:
                continue
            actions[action.key] = action
            if isinstance(action, RestoreImage):
                _record_repair(action, statuses, decisions, now)
        findings.extend(seen)
    documents = _documents(fleet, decisions, statuses, zones)
    jira = fleet.observed.jira

    def issues(name: str) -> tuple[str, ...]:
        manifest = desired.releases.get(name)
        if jira is None or manifest is None:
            return ()
        projects = readiness.projects_of(desired, manifest.model)
        return tuple(i.key for i in jira.issues_of(projects, manifest.model.spec.version))

    sent, seen = deliveries.plan(desired, statuses, zones, now, issues)
    actions.update((action.key, action) for action in sent)
    findings.extend(seen)
    written = {
        name: {**({f"notes/{name}.md": notes[name]} if name in notes else {}),
               **documents.get(name, {})}
        for name in set(notes) | set(documents)
    }  # fmt: skip
    made, seen = publications.plan(desired, statuses, fleet.recorded, written, now)
    actions.update((action.key, action) for action in made)
    findings.extend(seen)
    kept = None
    if recorded_conditions is not None:
        kept, told = conditions.plan(desired, findings, recorded_conditions, now)
        actions.update((action.key, action) for action in told)
        findings.extend(conditions.failures(kept, now))
    return Plan(
        now,
        tuple(actions.values()),
        tuple(findings),
        tuple(decisions),
        dict(sorted(statuses.items())),
        dict(sorted(notes.items())),
        dict(fleet.recorded),
        dict(sorted(zones.items())),
        desired.config.spec.timezone,
        kept,
        recorded_conditions,
        documents,
    )


def _documents(
    fleet: Fleet,
    decisions: list[tuple[str, DecisionRecord]],
    statuses: Mapping[str, ReleaseStatus],
    zones: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """The go/no-go document of each verdict (and override) taken this pass, and the
    notes for each audience a release asks for when it is RELEASED."""
    desired, jira = fleet.desired, fleet.observed.jira
    found: dict[str, dict[str, str]] = {}
    for name, record in decisions:
        manifest = desired.releases.get(name)
        if manifest is None:
            continue
        release, status = manifest.model, statuses[name]
        if record.decision is DecisionKind.RELEASED and jira is not None:
            config = desired.config.spec.jira
            browse = (config.url or "") if config else ""
            found.setdefault(name, {}).update({
                audiences.path(name, audience): audiences.render(
                    audience, desired, release, status, jira, browse,
                    zones.get(name, desired.config.spec.timezone),
                )
                for audience in release.spec.notes.audiences
            })  # fmt: skip
        if record.decision not in verdicts.DOCUMENTED:
            continue
        owners = sorted({
            desired.components[c.name].model.spec.owner
            for c in release.spec.components
            if c.name in desired.components
        })  # fmt: skip
        text = verdicts.document(
            name, release, status, record, zones.get(name, desired.config.spec.timezone),
            owners, jira.issues if jira is not None else None,
            None if fleet.observed.approvals is None else fleet.observed.approvals.get(name, ()),
        )  # fmt: skip
        found.setdefault(name, {})[verdicts.path(name, verdicts.number_of(status, record))] = text
    return found


def _record_repair(
    action: RestoreImage,
    statuses: dict[str, ReleaseStatus],
    decisions: list[tuple[str, DecisionRecord]],
    now: datetime,
) -> None:
    """A drift repair is a decision too: recorded on the release whose image it puts
    back (once per repair: a failed one is retried, not recorded again)."""
    change = action.change
    status = statuses.get(action.release)
    if status is None:
        return
    evidence = Evidence(
        images={change.key: change.image}, triggers=(f"{change.key} ran {change.current}",)
    )
    last = status.last()
    if last is not None and (last.decision, last.evidence) == (DecisionKind.REPAIRED, evidence):
        return
    record = DecisionRecord(
        DecisionKind.REPAIRED,
        now,
        f"{change.key} ran {change.current or 'an unknown image'}, not the image "
        f"{action.release} put there; self-heal restored {change.image}",
        (),
        evidence,
        attempt=status.attempt,
    )
    statuses[action.release] = replace(status, decisions=(*status.decisions, record))
    decisions.append((action.release, record))
