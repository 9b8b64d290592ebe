"""The pages' contents as plain values (templates only lay them out): the overview, a
release's page, the flags and a commit. Pure: `now` comes with the snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from markdown_it import MarkdownIt

from controller.plan import flags as flagd
from controller.plan.audiences import path as audience_path
from controller.plan.records import DecisionKind, Phase, ReleaseStatus, decision_document
from controller.schedule import trains, windows
from controller.schedule.zones import to_local
from controller.web.history import CommitInfo
from controller.web.model import Snapshot, relative, wall
from controller.web.why import why

ORDER = (
    Phase.HELD,
    Phase.WAITING,
    Phase.ROLLBACK_RECOMMENDED,
    Phase.ROLLING_OUT,
    Phase.MONITORING,
    Phase.DECIDING,
    Phase.READINESS,
    Phase.SCHEDULED,
    Phase.ROLLED_BACK,
    Phase.RELEASED,
)
"""Phases on the overview: what needs a person first, what is over last."""
NOT_SEEN = "Not yet recorded"
LATEST = 15
DEPARTURES = 3
WINDOWS_AHEAD = timedelta(days=60)
CONDITION_EVENTS = ("DRIFT", "FLAG_DRIFT", "STALE_FLAG", "TRIGGER")
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
"""Notes are Markdown; raw HTML in them is shown as text, and links that are not http(s),
mailto or relative are refused by markdown-it's own link check."""


def markdown(text: str) -> str:
    return str(_MARKDOWN.render(text))


@dataclass(frozen=True)
class ReleaseRow:
    name: str
    version: str
    train: str
    phase: str
    departure: str
    last: str
    last_at: str
    why: str


def _row(snapshot: Snapshot, name: str) -> ReleaseRow:
    status = snapshot.statuses.get(name)
    release = snapshot.release(name)
    zone = snapshot.zone_of(name)
    last = status.decisions[-1] if status and status.decisions else None
    return ReleaseRow(
        name=name,
        version=status.version if status else release.spec.version if release else "",
        train=snapshot.train_of(name),
        phase=status.phase.value if status else NOT_SEEN,
        departure=wall(status.departure, zone) if status and status.departure else "—",
        last=last.decision.value if last else "",
        last_at=wall(last.at, zone) if last else "",
        why=why(snapshot, name),
    )


def _trains(snapshot: Snapshot) -> list[dict[str, Any]]:
    state = snapshot.state
    if state is None:
        return []
    riding: dict[tuple[str, datetime], list[str]] = {}
    for name, status in snapshot.statuses.items():
        train = snapshot.train_of(name)
        if train and status.departure is not None and not status.phase.final:
            riding.setdefault((train, status.departure), []).append(name)
    found = []
    for name, manifest in sorted(state.trains.items()):
        spec = manifest.model.spec
        upcoming = trains.departures(spec, snapshot.now, snapshot.now + timedelta(days=400))
        rows = []
        for departure in upcoming[:DEPARTURES]:
            riders = sorted(riding.get((name, departure.at), []))
            used = f"{len(riders)}/{spec.capacity}" if spec.capacity else str(len(riders))
            rows.append(
                {
                    "version": departure.version,
                    "at": wall(departure.at, spec.timezone),
                    "in": relative(departure.at, snapshot.now),
                    "releases": riders,
                    "used": used,
                    "full": bool(spec.capacity and len(riders) >= spec.capacity),
                }
            )
        found.append({"name": name, "timezone": spec.timezone, "departures": rows})
    return found


def _windows(snapshot: Snapshot) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(active now, opening within WINDOWS_AHEAD), each with its reason and bounds."""
    state = snapshot.state
    if state is None:
        return [], []
    names = sorted(state.windows)
    evaluator = windows.Evaluator([windows.Window(n, state.windows[n].model.spec) for n in names])
    now, active, upcoming = snapshot.now, [], []
    for index, name in enumerate(names):
        spec = state.windows[name].model.spec
        zone = spec.timezone
        item = {"name": name, "kind": spec.kind, "reason": spec.reason}
        if evaluator.active(index, now) is not None:
            until = evaluator.covered_until(index, now)
            active.append({**item, "until": wall(until, zone), "in": relative(until, now)})
            continue
        start = evaluator.next_start(index, now)
        if start is not None and start - now <= WINDOWS_AHEAD:
            upcoming.append({**item, "from": wall(start, zone), "in": relative(start, now)})
    return active, upcoming


def _latest(snapshot: Snapshot) -> list[dict[str, Any]]:
    found = []
    for name, status in snapshot.statuses.items():
        for record in status.decisions[-LATEST:]:
            found.append((record.at, name, record))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    rows = []
    for at, name, record in found[:LATEST]:
        commit = snapshot.history.commit_of(name, record.decision.value, at)
        rows.append(
            {
                "release": name,
                "decision": record.decision.value,
                "at": wall(at, snapshot.zone_of(name)),
                "rationale": record.rationale,
                "commit": commit,
            }
        )
    return rows


def _event(kind: str) -> str:
    """A finding's kind as a condition's event: "flag-drift" → "FLAG_DRIFT"."""
    return kind.upper().replace("-", "_")


def _conditions(snapshot: Snapshot, subject: str | None = None) -> list[dict[str, str]]:
    """Active conditions (recorded) and, live, what the last pass found; for the overview
    (no subject) only conditions and errors, for a release everything about it."""
    rows = [
        {
            "kind": c.event,
            "subject": c.subject,
            "message": c.message,
            "since": wall(c.since, snapshot.timezone),
        }
        for c in snapshot.conditions
        if subject is None or c.subject == subject
    ]
    seen = {(r["kind"], r["subject"]) for r in rows}
    for problem in snapshot.findings:
        kind = _event(problem.kind)
        if subject is None and kind not in (*CONDITION_EVENTS, "ERROR"):
            continue
        if subject is not None and problem.subject != subject:
            continue
        if (kind, problem.subject) not in seen:
            rows.append(
                {"kind": kind, "subject": problem.subject, "message": problem.message, "since": ""}
            )
            seen.add((kind, problem.subject))
    return rows


def overview(snapshot: Snapshot) -> dict[str, Any]:
    rows = [_row(snapshot, name) for name in snapshot.names()]
    groups = []
    for phase in (*[p.value for p in ORDER], NOT_SEEN):
        members = [r for r in rows if r.phase == phase]
        if members:
            groups.append({"phase": phase, "releases": members})
    active, upcoming = _windows(snapshot)
    conditions = _conditions(snapshot)
    return {
        "groups": groups,
        "trains": _trains(snapshot),
        "active_windows": active,
        "upcoming_windows": upcoming,
        "latest": _latest(snapshot),
        "stale": [c for c in conditions if c["kind"] == "STALE_FLAG"],
        "drift": [c for c in conditions if c["kind"] != "STALE_FLAG"],
        "counts": {
            "releases": len(rows),
            "decisions": sum(len(s.decisions) for s in snapshot.statuses.values()),
        },
    }


@dataclass
class Entry:
    """One line of a release's timeline."""

    at: datetime
    when: str
    kind: str
    title: str
    text: str = ""
    state: str = ""
    commit: CommitInfo | None = None
    criteria: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    attempt: int = 1


def _evidence(evidence: dict[str, Any], zone: str) -> dict[str, Any]:
    """A decision's evidence as shown: times in the release's zone; measurements and steps
    have timeline entries of their own."""
    shown = {k: v for k, v in evidence.items() if k not in ("measurements", "steps")}
    for key in ("departure", "until"):
        if isinstance(shown.get(key), str):
            shown[key] = wall(datetime.fromisoformat(shown[key]), zone)
    return shown


def _timeline(snapshot: Snapshot, status: ReleaseStatus) -> list[Entry]:
    zone = snapshot.zone_of(status.release)
    entries = []
    for record in status.decisions:
        document = decision_document(record)
        evidence = document.get("evidence", {})
        entries.append(
            Entry(
                record.at,
                wall(record.at, zone),
                "decision",
                record.decision.value,
                record.rationale,
                state=record.decision.value,
                commit=snapshot.history.commit_of(status.release, record.decision.value, record.at),
                criteria=document.get("criteria", []),
                evidence=_evidence(evidence, zone),
                attempt=record.attempt,
            )
        )
    for step in status.steps:
        if step.at is None:
            continue
        detail = [f"{step.cluster}/{step.namespace} Job {step.job}"]
        if step.reason:
            detail.append(step.reason)
        if step.exit_code is not None:
            detail.append(f"exit code {step.exit_code}")
        entries.append(
            Entry(
                step.at,
                wall(step.at, zone),
                "step",
                f"{step.component}: {step.when.value} step {step.step}",
                "; ".join(detail),
                state=step.state.value,
                log=step.log,
            )
        )
    for measurement in status.measurements:
        value = "no data" if measurement.value is None else f"{measurement.value:.6g}"
        baseline = "" if measurement.baseline is None else f"; baseline {measurement.baseline:.6g}"
        entries.append(
            Entry(
                measurement.at,
                wall(measurement.at, zone),
                "measurement",
                measurement.key,
                f"{value}: {measurement.reason}{baseline}",
                state=measurement.outcome.value,
            )
        )
    for delivery in status.deliveries:
        moment = delivery.at or delivery.decided
        entries.append(
            Entry(
                moment,
                wall(moment, zone),
                "notification",
                f"{delivery.event} to {delivery.sink}",
                delivery.message or delivery.response,
                state=delivery.state.value,
            )
        )
    for publication in status.publications:
        if publication.at is None:
            continue
        entries.append(
            Entry(
                publication.at,
                wall(publication.at, zone),
                "publication",
                publication.title,
                f"{publication.path} {publication.response}".strip(),
                state=publication.state.value,
            )
        )
    order = {"decision": 0, "step": 1, "measurement": 2, "notification": 3, "publication": 4}
    return sorted(entries, key=lambda e: (e.at, order[e.kind]))


def release(snapshot: Snapshot, name: str) -> dict[str, Any] | None:
    status = snapshot.statuses.get(name)
    manifest = snapshot.release(name)
    if status is None and manifest is None:
        return None
    zone = snapshot.zone_of(name)
    components = []
    state = snapshot.state
    released = status is not None and status.last(DecisionKind.RELEASED) is not None
    projects: dict[str, str] = {}
    for item in manifest.spec.components if manifest else ():
        component = state.components.get(item.name) if state else None
        spec = component.model.spec if component else None
        if spec is not None:
            projects.setdefault(spec.jira_project, manifest.spec.version if manifest else "")
        components.append(
            {
                "name": item.name,
                "version": item.version,
                "tag": item.tag or item.version,
                "owner": spec.owner if spec else "",
                "project": spec.jira_project if spec else "",
                "workloads": [
                    f"{w.cluster}/{w.namespace}/{w.deployment}"
                    for w in (spec.workloads if spec else ())
                ],
                "rolled_back": bool(status and item.name in status.rolled_back),
            }
        )
    notes = {}
    for audience in ("", "customers", "internal", "operations"):
        path = f"notes/{name}.md" if not audience else audience_path(name, audience)
        if path in snapshot.documents:
            notes[audience or "notes"] = markdown(snapshot.documents[path])
    return {
        "name": name,
        "version": status.version if status else manifest.spec.version if manifest else "",
        "train": snapshot.train_of(name),
        "type": manifest.spec.type if manifest else "",
        "description": manifest.spec.description if manifest else "",
        "phase": status.phase.value if status else NOT_SEEN,
        "attempt": status.attempt if status else 1,
        "suspended": bool(status and status.suspended),
        "why": why(snapshot, name),
        "zone": zone,
        "planned": wall(status.planned, zone) if status and status.planned else "—",
        "departure": wall(status.departure, zone) if status and status.departure else "—",
        "components": components,
        "images": sorted(status.images.items()) if status else [],
        "jira": [
            {"project": p, "version": v, "released": released} for p, v in sorted(projects.items())
        ],
        "timeline": _timeline(snapshot, status) if status else [],
        "notes": notes,
        "conditions": _conditions(snapshot, name),
    }


def flags(snapshot: Snapshot) -> list[dict[str, Any]]:
    state = snapshot.state
    if state is None:
        return []
    specs = {name: m.model.spec for name, m in state.flags.items()}

    def released(name: str) -> bool:
        status = snapshot.statuses.get(name)
        return status is not None and status.phase is Phase.RELEASED

    zone = snapshot.timezone
    stages = flagd.stages(specs, snapshot.now, released, zone)
    drift = {c["subject"]: c["message"] for c in _conditions(snapshot) if c["kind"] == "FLAG_DRIFT"}
    stale_after = state.config.spec.flags.stale_after_days
    rows = []
    for name, spec in sorted(specs.items()):
        stage = stages[name]
        following = None
        if spec.rollout is not None and stage.stage < len(spec.rollout.stages):
            nxt = spec.rollout.stages[stage.stage]
            following = {
                "percent": f"{nxt.percent:g}%",
                "at": wall(nxt.at, zone),
                "in": relative(nxt.at, snapshot.now),
            }
        target = flagd.target_of(spec)
        where = f"{target.kind} {target.cluster}/{target.namespace}/{target.name}"
        if target.environment:
            where = f"{target.environment}:{target.file} ({where})"
        rows.append(
            {
                "name": name,
                "owner": spec.owner,
                "description": spec.description,
                "state": spec.state,
                "percent": f"{stage.percent:g}%",
                "reason": stage.reason,
                "next": following,
                "target": where,
                "drift": drift.get(name, ""),
                "remove_by": spec.remove_by.isoformat() if spec.remove_by else "",
                "stale": flagd.stale_reason(spec, stage, snapshot.now, stale_after) or "",
            }
        )
    return rows


def local_date(snapshot: Snapshot) -> date:
    """Today, in the ControllerConfig's zone."""
    return to_local(snapshot.now, snapshot.timezone).date()
