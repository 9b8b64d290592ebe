"""What the controller has decided and done: one `ReleaseStatus` per release, kept as a
YAML file under the status path, with its phase and an append-only decision log.

The decision log is what makes restarts safe: a pass reads what was already decided
(and which one-shot actions, such as Jira comments, were done) and repeats nothing.
This module holds the values and their file form; it reads and writes no files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import yaml

from controller.errors import Disposition, RelctlError
from controller.manifests import yamlsource
from controller.plan.measurements import (
    BaselineRecord,
    Measurement,
    baseline_document,
    baseline_from,
    measurement_document,
    measurement_from,
)
from controller.plan.outbox import (
    Delivery,
    Publication,
    delivery_document,
    delivery_from,
    publication_document,
    publication_from,
)
from controller.plan.readiness import Criterion
from controller.plan.steps import StepRecord, step_document, step_from

FORMAT = "relctl.dev/v1alpha1/ReleaseStatus"
MAX_BYTES = 1024 * 1024
"""A status file larger than this is refused unread (the decision log stays far below)."""
EARLIEST, LATEST = 1970, 9000
"""Years a recorded time may fall in: later ones would overflow the date arithmetic."""


class RecordError(RelctlError):
    """A status file cannot be read: someone edited it by hand."""

    disposition = Disposition.STALLED


class Phase(StrEnum):
    SCHEDULED = "Scheduled"
    """Before code freeze."""
    READINESS = "Readiness"
    """Code freeze to go/no-go: readiness is reported."""
    DECIDING = "Deciding"
    """Go/no-go to departure: the verdict is re-evaluated."""
    HELD = "Held"
    """Departure passed without GO; waits in place for GO."""
    WAITING = "Waiting"
    """GO, but a window blocks the deploy."""
    ROLLING_OUT = "RollingOut"
    MONITORING = "Monitoring"
    """Deployed; rollback triggers are evaluated until monitoringEnd."""
    ROLLED_BACK = "RolledBack"
    ROLLBACK_RECOMMENDED = "RollbackRecommended"
    RELEASED = "Released"

    # The phase groups, defined here only.

    @property
    def deployed(self) -> bool:
        """The rollout started and the release is watched (not final)."""
        return self in (Phase.ROLLING_OUT, Phase.MONITORING, Phase.ROLLBACK_RECOMMENDED)

    @property
    def final(self) -> bool:
        """Nothing more happens to the release."""
        return self in (Phase.RELEASED, Phase.ROLLED_BACK)

    @property
    def waiting(self) -> bool:
        """Departed without going: held for a GO, or blocked by a window."""
        return self in (Phase.HELD, Phase.WAITING)

    @property
    def in_flux(self) -> bool:
        """Its images are changing (or about to): drift leaves them to the rollout."""
        return self in (Phase.ROLLING_OUT, Phase.WAITING)

    @property
    def settled(self) -> bool:
        """Its images are what it left them: drift from them is reported (and healed)."""
        return self in (
            Phase.MONITORING,
            Phase.RELEASED,
            Phase.ROLLED_BACK,
            Phase.ROLLBACK_RECOMMENDED,
        )


class DecisionKind(StrEnum):
    GO = "GO"
    GO_WITH_CONDITIONS = "GO_WITH_CONDITIONS"
    NO_GO = "NO_GO"
    DELAY = "DELAY"
    HOLD = "HOLD"
    RESCHEDULED = "RESCHEDULED"
    BLOCKED = "BLOCKED"
    OVERRIDE = "OVERRIDE"
    ROLLOUT = "ROLLOUT"
    DEPLOYED = "DEPLOYED"
    ROLLBACK = "ROLLBACK"
    ROLLBACK_RECOMMENDED = "ROLLBACK_RECOMMENDED"
    RELEASED = "RELEASED"
    REPAIRED = "REPAIRED"
    """Drift repaired: an image changed by hand put back (a component's selfHeal)."""
    SUSPENDED = "SUSPENDED"
    """`suspend: true`: relctl takes no action for the release until it is removed."""
    RESUMED = "RESUMED"
    ABORTED = "ABORTED"
    """`abort: true` during a rollout: nothing more rolls out."""
    RETRY = "RETRY"
    """A new attempt (`attempt: N`): a fresh go/no-go, its decisions kept apart."""


VERDICTS = (DecisionKind.GO, DecisionKind.GO_WITH_CONDITIONS, DecisionKind.NO_GO)


@dataclass(frozen=True)
class Evidence:
    """What a decision was taken on. Empty fields are left out of the file."""

    jql: str = ""
    issues: int | None = None
    done: int | None = None
    blockers: tuple[str, ...] = ()
    critical_bugs: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()
    """`role by who`."""
    signals: tuple[str, ...] = ()
    """`name=value`."""
    windows: tuple[str, ...] = ()
    departure: datetime | None = None
    until: datetime | None = None
    """When a blocking window next opens, or when a delayed release now departs."""
    components: tuple[str, ...] = ()
    images: Mapping[str, str] = field(default_factory=dict)
    """Workload → image, e.g. the images in use before a rollout."""
    triggers: tuple[str, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    """The measurements of the analyses that decided it (query, value, baseline)."""
    steps: tuple[StepRecord, ...] = ()
    """The release's steps around its rollout: item, status, evidence (a checklist)."""
    by: str = ""
    """Who made the change a control decision records, as git says (author, commit,
    signature)."""


@dataclass(frozen=True)
class DecisionRecord:
    decision: DecisionKind
    at: datetime
    rationale: str
    criteria: tuple[Criterion, ...] = ()
    evidence: Evidence = field(default_factory=Evidence)
    revision: str = ""
    """The manifests commit the pass read (filled in when the record is written)."""
    attempt: int = 1
    """The release's attempt it belongs to."""


MAX_ATTEMPT = 1000


@dataclass(frozen=True)
class ReleaseStatus:
    release: str
    version: str
    phase: Phase = Phase.SCHEDULED
    planned: datetime | None = None
    """The departure the manifest asked for when last seen: a change means it was moved."""
    departure: datetime | None = None
    """The departure in force, after any DELAY and after the windows had their say."""
    delayed: datetime | None = None
    """The departure the last DELAY chose (since the manifest last moved the release):
    what the windows judge instead of `planned`."""
    images: Mapping[str, str] = field(default_factory=dict)
    """Workload → image it ran before the rollout: what a rollback restores."""
    rolled_back: tuple[str, ...] = ()
    """Components rolled back."""
    unhealthy_since: Mapping[str, datetime] = field(default_factory=dict)
    """Workload → when its unavailable replicas first crossed the trigger's threshold."""
    verdict_digest: str = ""
    """Digest of the last recorded go/no-go verdict and its evidence."""
    done: tuple[str, ...] = ()
    """Idempotency keys of one-shot actions completed (Jira comments)."""
    measurements: tuple[Measurement, ...] = ()
    """The latest measurements of the release's analyses (`measurements.KEEP` a metric
    and workload), oldest first."""
    baselines: Mapping[str, BaselineRecord] = field(default_factory=dict)
    """Metric and workload → its baseline, captured once."""
    steps: tuple[StepRecord, ...] = ()
    """The outcome of every step Job that finished (`plan.steps`)."""
    maintenance: tuple[str, ...] = ()
    """Components whose maintenance flag is on for this release now."""
    deliveries: tuple[Delivery, ...] = ()
    """Notifications of its decisions: the outbox (`plan.deliveries`)."""
    publications: tuple[Publication, ...] = ()
    """Its documents published as Confluence pages (`plan.publications`)."""
    attempt: int = 1
    """The attempt under way: decisions of earlier attempts are history, not state."""
    decisions: tuple[DecisionRecord, ...] = ()

    def last(self, *kinds: DecisionKind) -> DecisionRecord | None:
        """The latest decision of these kinds (any, without kinds) in this attempt."""
        for decision in reversed(self.decisions):
            if decision.attempt != self.attempt:
                return None
            if not kinds or decision.decision in kinds:
                return decision
        return None

    def last_ever(self, *kinds: DecisionKind) -> DecisionRecord | None:
        """The latest decision of these kinds, whatever its attempt."""
        return next((d for d in reversed(self.decisions) if d.decision in kinds), None)

    @property
    def suspended(self) -> bool:
        last = self.last_ever(DecisionKind.SUSPENDED, DecisionKind.RESUMED)
        return last is not None and last.decision is DecisionKind.SUSPENDED

    def with_done(self, keys: tuple[str, ...]) -> ReleaseStatus:
        return replace(self, done=tuple(sorted(set(self.done) | set(keys))))


def workload_key(cluster: str, namespace: str, deployment: str, container: str) -> str:
    return f"{cluster}/{namespace}/{deployment}/{container}"


# --- file form ---------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _evidence_document(evidence: Evidence) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "jql": evidence.jql,
        "issues": evidence.issues,
        "done": evidence.done,
        "blockers": list(evidence.blockers),
        "criticalBugs": list(evidence.critical_bugs),
        "approvals": list(evidence.approvals),
        "signals": list(evidence.signals),
        "windows": list(evidence.windows),
        "departure": _time(evidence.departure),
        "until": _time(evidence.until),
        "components": list(evidence.components),
        "images": dict(sorted(evidence.images.items())),
        "triggers": list(evidence.triggers),
        "measurements": [measurement_document(m) for m in evidence.measurements],
        "steps": [step_document(s) for s in evidence.steps],
        "by": evidence.by,
    }
    return {k: v for k, v in raw.items() if v not in (None, "", [], {})}


def decision_document(record: DecisionRecord) -> dict[str, Any]:
    """A decision record as plain data (the status file's form)."""
    document: dict[str, Any] = {
        "decision": record.decision.value,
        "at": record.at.isoformat(),
        "rationale": record.rationale,
    }
    if record.criteria:
        document["criteria"] = [
            {
                "name": c.name,
                "required": c.required,
                "actual": c.actual,
                "met": c.met,
                "veto": c.veto,
            }
            for c in record.criteria
        ]
    evidence = _evidence_document(record.evidence)
    if evidence:
        document["evidence"] = evidence
    if record.revision:
        document["sourceRevision"] = record.revision
    if record.attempt != 1:
        document["attempt"] = record.attempt
    return document


def to_document(status: ReleaseStatus) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "format": FORMAT,
        "release": status.release,
        "version": status.version,
        "phase": status.phase.value,
        "attempt": status.attempt if status.attempt != 1 else None,
        "planned": _time(status.planned),
        "departure": _time(status.departure),
        "delayed": _time(status.delayed),
        "images": dict(sorted(status.images.items())),
        "rolledBack": list(status.rolled_back),
        "unhealthySince": {k: v.isoformat() for k, v in sorted(status.unhealthy_since.items())},
        "verdictDigest": status.verdict_digest,
        "done": list(status.done),
        "measurements": [measurement_document(m) for m in status.measurements],
        "baselines": {k: baseline_document(b) for k, b in sorted(status.baselines.items())},
        "steps": [step_document(s) for s in status.steps],
        "maintenance": list(status.maintenance),
        "deliveries": [delivery_document(d) for d in status.deliveries],
        "publications": [publication_document(p) for p in status.publications],
        "decisions": [decision_document(d) for d in status.decisions],
    }
    return {k: v for k, v in raw.items() if v not in (None, "", [], {}) or k == "decisions"}


# libyaml's dumper when PyYAML was built with it, quoting what the core schema would
# misread. Files are read with the manifests' bounded parser (yamlsource): a status file
# is as hostile as any file in the repository.
_DUMPER = yamlsource.SafeCoreDumper


def to_yaml(status: ReleaseStatus) -> str:
    header = "# Written by relctl: the release's phase and decision log. Do not edit.\n"
    return header + yaml.dump(
        to_document(status), Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100
    )


def parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise RecordError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{where}: {value!r} has no UTC offset")
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:
        year = LATEST + 1
    if not EARLIEST <= year <= LATEST:
        raise RecordError(f"{where}: {value!r} is outside the years {EARLIEST}–{LATEST}")
    return parsed


def _evidence_from(raw: Mapping[str, Any], where: str) -> Evidence:
    def strings(name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in raw.get(name) or ())

    return Evidence(
        jql=str(raw.get("jql", "")),
        issues=raw.get("issues"),
        done=raw.get("done"),
        blockers=strings("blockers"),
        critical_bugs=strings("criticalBugs"),
        approvals=strings("approvals"),
        signals=strings("signals"),
        windows=strings("windows"),
        departure=parse_time(raw.get("departure"), f"{where}.departure"),
        until=parse_time(raw.get("until"), f"{where}.until"),
        components=strings("components"),
        images={str(k): str(v) for k, v in (raw.get("images") or {}).items()},
        triggers=strings("triggers"),
        measurements=tuple(
            measurement_from(m, parse_time, f"{where}.measurements[{n}]")
            for n, m in enumerate(raw.get("measurements") or ())
        ),
        steps=tuple(
            step_from(s, parse_time, f"{where}.steps[{n}]")
            for n, s in enumerate(raw.get("steps") or ())
        ),
        by=str(raw.get("by", ""))[:500],
    )


def _decision_from(raw: Any, where: str) -> DecisionRecord:
    if not isinstance(raw, Mapping):
        raise RecordError(f"{where}: a decision must be a mapping")
    try:
        kind = DecisionKind(raw["decision"])
    except (KeyError, ValueError):
        raise RecordError(f"{where}.decision: unknown decision {raw.get('decision')!r}") from None
    at = parse_time(raw.get("at"), f"{where}.at")
    if at is None:
        raise RecordError(f"{where}.at: missing")
    criteria = tuple(
        Criterion(
            str(c["name"]), str(c["required"]), str(c["actual"]), bool(c["met"]), bool(c["veto"])
        )
        for c in raw.get("criteria") or ()
    )
    return DecisionRecord(
        kind,
        at,
        str(raw.get("rationale", "")),
        criteria,
        _evidence_from(raw.get("evidence") or {}, f"{where}.evidence"),
        str(raw.get("sourceRevision", "")),
        _attempt(raw.get("attempt", 1), f"{where}.attempt"),
    )


def _attempt(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPT:
        raise RecordError(f"{where}: {value!r} is not an attempt (1 to {MAX_ATTEMPT})")
    return value


def parse_record(text: str, where: str, form: str, what: str) -> Mapping[str, Any]:
    """A record file's one document, of format `form`; `where` names it in errors. Parsed
    with the manifests' limits: aliases, nesting and size bounded, duplicate keys refused."""
    if len(text) > MAX_BYTES:
        raise RecordError(f"{where}: larger than {MAX_BYTES // 1024} KiB; not a relctl record")
    try:
        documents = yamlsource.parse(text)
    except yamlsource.YamlProblem as problem:
        raise RecordError(
            f"{where}:{problem.line}:{problem.column}: {problem.code} {problem.message}"
        ) from None
    if len(documents) != 1:
        raise RecordError(f"{where}: a {what} holds exactly one document")
    raw = documents[0].data
    if not isinstance(raw, Mapping) or raw.get("format") != form:
        raise RecordError(f"{where}: not a relctl {what} (format {form})")
    return raw


def from_yaml(text: str, where: str) -> ReleaseStatus:
    """Parse a status file; `where` names it in errors (`parse_record`)."""
    raw = parse_record(text, where, FORMAT, "status file")
    try:
        phase = Phase(raw.get("phase", Phase.SCHEDULED.value))
        attempt = _attempt(raw.get("attempt", 1), f"{where}: attempt")
        decisions = tuple(
            _decision_from(d, f"{where}: decisions[{n}]")
            for n, d in enumerate(raw.get("decisions") or ())
        )
        if any(d.attempt > attempt for d in decisions):
            raise RecordError(f"{where}: a decision of an attempt after {attempt}, the current")
        return ReleaseStatus(
            release=str(raw["release"]),
            version=str(raw.get("version", "")),
            phase=phase,
            planned=parse_time(raw.get("planned"), f"{where}: planned"),
            departure=parse_time(raw.get("departure"), f"{where}: departure"),
            delayed=parse_time(raw.get("delayed"), f"{where}: delayed"),
            images={str(k): str(v) for k, v in (raw.get("images") or {}).items()},
            rolled_back=tuple(str(c) for c in raw.get("rolledBack") or ()),
            unhealthy_since={
                str(k): t
                for k, v in (raw.get("unhealthySince") or {}).items()
                if (t := parse_time(v, f"{where}: unhealthySince")) is not None
            },
            verdict_digest=str(raw.get("verdictDigest", "")),
            done=tuple(str(k) for k in raw.get("done") or ()),
            measurements=tuple(
                measurement_from(m, parse_time, f"{where}: measurements[{n}]")
                for n, m in enumerate(raw.get("measurements") or ())
            ),
            baselines={
                str(k): baseline_from(b, parse_time, f"{where}: baselines.{k}")
                for k, b in (raw.get("baselines") or {}).items()
            },
            steps=tuple(
                step_from(s, parse_time, f"{where}: steps[{n}]")
                for n, s in enumerate(raw.get("steps") or ())
            ),
            maintenance=tuple(str(c) for c in raw.get("maintenance") or ()),
            deliveries=tuple(
                delivery_from(d, parse_time, f"{where}: deliveries[{n}]")
                for n, d in enumerate(raw.get("deliveries") or ())
            ),
            publications=tuple(
                publication_from(p, parse_time, f"{where}: publications[{n}]")
                for n, p in enumerate(raw.get("publications") or ())
            ),
            attempt=attempt,
            decisions=decisions,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"{where}: malformed status file ({exc})") from None
