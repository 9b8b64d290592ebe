"""Steps around a rollout as the planner sees them: which Jobs a release runs (one per
step and site — a cluster and namespace its component runs in), their deterministic
names, how a Job's conditions are judged, what is recorded of each, and whether a
component's steps of one kind are done, under way, failed or still to start.

A Job's identity is (release, component, step, attempt): its name and labels say so,
so a restarted controller finds the Job it created instead of creating another, and a
new release never reuses an old one's. Outcomes are recorded in the release's status
(a Job deleted by its TTL is not run again), with the failed Pod's exit code and the
tail of its log, bounded and with credentials redacted.

Purely computational: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.manifests.models import Component, Release, ReleaseComponent
from controller.manifests.steps import JobStep, Steps

MANAGED_BY = ("app.kubernetes.io/managed-by", "relctl")
RELEASE_LABEL = "relctl.dev/release"
LOG_LINES = 20
"""Lines of a failed Pod's log kept in the record."""
LOG_CHARS = 2000
"""Characters of it kept, at most."""
REDACTED = "[redacted]"


class When(StrEnum):
    PRE = "preRollout"
    POST = "postRollout"
    ROLLBACK = "onRollback"

    @property
    def short(self) -> str:
        return {When.PRE: "pre", When.POST: "post", When.ROLLBACK: "undo"}[self]


class JobState(StrEnum):
    PENDING = "Pending"
    """Not started (a checklist item)."""
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""


def judge(conditions: Sequence[Condition]) -> tuple[JobState, str]:
    """A Job's state and its reason, from its conditions *with their status*: `Failed`
    or `FailureTarget` True is a failure (the latter is set first, while the Pods are
    still terminating), `Complete` or `SuccessCriteriaMet` True a success; a condition
    that is False or Unknown says nothing."""
    true = [c for c in conditions if c.status == "True"]
    for kinds, state in (
        (("Failed", "FailureTarget"), JobState.FAILED),
        (("Complete", "SuccessCriteriaMet"), JobState.SUCCEEDED),
    ):
        found = [c for c in true if c.type in kinds]
        if found:
            reason = next((c.reason for c in found if c.reason), "")
            return state, reason
    return JobState.RUNNING, ""


@dataclass(frozen=True)
class ObservedJob:
    cluster: str
    namespace: str
    name: str
    release: str
    """Its `relctl.dev/release` label."""
    state: JobState
    reason: str = ""
    """DeadlineExceeded, BackoffLimitExceeded, …"""
    exit_code: int | None = None
    """The failed Pod's container's, when it failed."""
    log: str = ""
    """The tail of the failed Pod's log, as read (bounded, not yet redacted)."""

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str | None = None
    secret: tuple[str, str] | None = None
    """(Secret name, key)."""


@dataclass(frozen=True)
class JobSpec:
    """What the adapter creates: a Job's whole identity and pod template."""

    cluster: str
    namespace: str
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvEntry, ...]
    env_from: tuple[str, ...]
    deadline: int
    """activeDeadlineSeconds."""
    backoff_limit: int
    ttl: int | None
    labels: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Item:
    """One step of a release at one site."""

    component: str
    when: When
    step: JobStep
    job: JobSpec

    @property
    def key(self) -> str:
        return self.job.key

    @property
    def started(self) -> str:
        """What the release's status records once the Job is created (`done`)."""
        return f"job:{self.key}"

    def describe(self) -> str:
        return (
            f"{self.component} {self.when} {self.step.name} on "
            f"{self.job.cluster}/{self.job.namespace}"
        )


@dataclass(frozen=True)
class StepRecord:
    """A step's outcome at one site, as the status file keeps it (a checklist item:
    item, status, evidence)."""

    component: str
    when: When
    step: str
    cluster: str
    namespace: str
    job: str
    state: JobState
    at: datetime | None = None
    reason: str = ""
    exit_code: int | None = None
    log: str = ""

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.job}"

    @property
    def item(self) -> str:
        return f"{self.component} {self.when} {self.step} on {self.cluster}/{self.namespace}"

    def describe(self) -> str:
        """ "payments preRollout migrate on prod/shop: Failed (BackoffLimitExceeded, exit 3)"."""
        code = "" if self.exit_code is None else f"exit {self.exit_code}"
        why = ", ".join(p for p in (self.reason, code) if p)
        return f"{self.item}: {self.state}" + (f" ({why})" if why else "")


def job_name(release: str, component: str, step: str, when: When, attempt: int) -> str:
    """`<release>-<component>-<step>-<pre|post|undo><attempt>`, a DNS-1123 label: one
    longer than 63 characters keeps its start and ends with a digest of the whole."""
    name = f"{release}-{component}-{step}-{when.short}{attempt}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52].rstrip('-')}-{digest}"


def steps_of(item: ReleaseComponent, component: Component) -> Steps:
    base = component.spec.steps or Steps()
    return base.over(item.steps)


def items(
    name: str,
    release: Release,
    components: Mapping[str, Component],
    when: When,
    attempt: int = 1,
) -> dict[str, list[Item]]:
    """Component → its `when` steps at each site, in step order then site order."""
    found: dict[str, list[Item]] = {}
    for entry in release.spec.components:
        component = components.get(entry.name)
        if component is None:
            continue
        spec = component.spec
        group = dict(zip(When, steps_of(entry, component).groups(), strict=True))[when]
        sites = sorted({(w.cluster, w.namespace) for w in spec.workloads})
        image = f"{spec.image}:{entry.tag or entry.version}"
        found[entry.name] = [
            Item(entry.name, when, step, _job(name, entry.name, step, when, attempt, site, image))
            for step in group
            for site in sites
        ]
    return found


def _job(
    release: str,
    component: str,
    step: JobStep,
    when: When,
    attempt: int,
    site: tuple[str, str],
    image: str,
) -> JobSpec:
    labels = (
        MANAGED_BY,
        (RELEASE_LABEL, release),
        ("relctl.dev/component", component),
        ("relctl.dev/step", step.name),
        ("relctl.dev/when", when.short),
        ("relctl.dev/attempt", str(attempt)),
    )
    return JobSpec(
        site[0],
        site[1],
        job_name(release, component, step.name, when, attempt),
        step.image or image,
        step.command,
        step.args,
        tuple(
            EnvEntry(e.name, e.value, (e.secret.name, e.secret.key) if e.secret else None)
            for e in step.env
        ),
        step.env_from,
        int(step.timeout.total_seconds()),
        step.backoff_limit,
        step.ttl_seconds_after_finished,
        labels,
    )


def record_of(item: Item, state: JobState, at: datetime | None = None) -> StepRecord:
    job = item.job
    return StepRecord(
        item.component, item.when, item.step.name, job.cluster, job.namespace, job.name, state, at
    )


# --- settling: what the cluster says, into the record -------------------------------------


def settle(
    records: tuple[StepRecord, ...],
    done: Iterable[str],
    wanted: Iterable[Item],
    jobs: Mapping[str, ObservedJob] | None,
    unobserved: Iterable[str],
    now: datetime,
) -> tuple[StepRecord, ...]:
    """The records with every finished Job of `wanted` recorded once: its state, reason,
    exit code and redacted log. A Job relctl created (`done`) that is gone before its
    outcome was seen is recorded Failed ("Vanished"): it is never run twice."""
    if jobs is None:
        return records
    known = {r.key: r for r in records}
    started = set(done)
    dark = set(unobserved)
    added: list[StepRecord] = []
    for item in wanted:
        finished = known.get(item.key)
        if finished is not None and finished.state in (JobState.SUCCEEDED, JobState.FAILED):
            continue
        seen = jobs.get(item.key)
        if seen is not None and seen.state in (JobState.SUCCEEDED, JobState.FAILED):
            failed = seen.state is JobState.FAILED
            log = redact(seen.log, _secret_names(item.step)) if failed else ""
            added.append(
                replace(
                    record_of(item, seen.state, now),
                    reason=seen.reason,
                    exit_code=seen.exit_code,
                    log=log,
                )
            )
        elif seen is None and item.started in started and item.job.cluster not in dark:
            added.append(replace(record_of(item, JobState.FAILED, now), reason="Vanished"))
    if not added:
        return records
    replaced = {r.key for r in added}
    return (*(r for r in records if r.key not in replaced), *added)


class Gate(StrEnum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


def gate(
    group: Sequence[Item],
    records: Sequence[StepRecord],
    done: Iterable[str],
    jobs: Mapping[str, ObservedJob],
) -> tuple[Gate, list[Item], str]:
    """Whether a component's steps of one kind are done: each step runs at every site at
    once, the next step once it succeeded everywhere. Returns the gate, the Jobs to
    create now, and what it waits for or why it failed."""
    known = {r.key: r for r in records}
    started = set(done)
    for name in dict.fromkeys(i.step.name for i in group):
        sites = [i for i in group if i.step.name == name]
        failed = [known[i.key] for i in sites if _state(known, i) is JobState.FAILED]
        if failed:
            return Gate.FAILED, [], "; ".join(r.describe() for r in failed)
        pending = [i for i in sites if _state(known, i) is not JobState.SUCCEEDED]
        if not pending:
            continue
        start = [i for i in pending if i.started not in started and i.key not in jobs]
        running = [i for i in pending if i not in start]
        what = ", ".join(i.describe() for i in pending)
        return Gate.WAITING, start, ("running " if running and not start else "starting ") + what
    return Gate.DONE, [], ""


def _state(known: Mapping[str, StepRecord], item: Item) -> JobState:
    found = known.get(item.key)
    return found.state if found is not None else JobState.PENDING


def failures(records: Sequence[StepRecord], component: str, *whens: When) -> list[StepRecord]:
    return [
        r
        for r in records
        if r.component == component and r.when in whens and r.state is JobState.FAILED
    ]


def succeeded(records: Sequence[StepRecord], component: str, when: When) -> list[StepRecord]:
    return [
        r
        for r in records
        if r.component == component and r.when is when and r.state is JobState.SUCCEEDED
    ]


def undoing(
    name: str,
    release: Release,
    components: Mapping[str, Component],
    records: Sequence[StepRecord],
    component: str,
) -> bool:
    """A rolled-back component whose onRollback steps are due and not all done: its
    previous image waits for them (it is in flux, not drifted)."""
    if not succeeded(records, component, When.PRE):
        return False
    done = {r.key for r in records if r.state is JobState.SUCCEEDED}
    group = items(name, release, components, When.ROLLBACK).get(component, [])
    return any(i.key not in done for i in group)


# --- redaction ----------------------------------------------------------------------------

_CREDENTIAL = re.compile(
    r"(?i)\b(\w*?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
    r"\w*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _secret_names(step: JobStep) -> tuple[str, ...]:
    return tuple(e.name for e in step.env if e.secret is not None)


def redact(text: str, names: Sequence[str] = ()) -> str:
    """The last `LOG_LINES` lines (at most `LOG_CHARS` characters) of a log, with control
    characters dropped and credentials masked: the values of the step's variables read
    from Secrets (`NAME=value`), anything that looks like a password, token or key
    assignment, an Authorization value, and a URL's user:password. relctl never reads
    the Secrets themselves, so a value printed bare cannot be recognised."""
    lines = _CONTROL.sub("", text.replace("\r\n", "\n")).rstrip("\n").split("\n")
    kept = "\n".join(lines[-LOG_LINES:])
    for name in names:
        kept = re.sub(
            rf"(\b{re.escape(name)}\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)", rf"\g<1>{REDACTED}", kept
        )
    kept = _CREDENTIAL.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", kept)
    kept = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", kept)
    kept = _USERINFO.sub(rf"\g<1>{REDACTED}@", kept)
    return kept[-LOG_CHARS:]


# --- file form ----------------------------------------------------------------------------


def step_document(r: StepRecord) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "item": r.item,
        "status": r.state.value,
        "job": r.job,
        "component": r.component,
        "when": r.when.value,
        "step": r.step,
        "cluster": r.cluster,
        "namespace": r.namespace,
        "at": None if r.at is None else r.at.isoformat(),
        "reason": r.reason,
        "exitCode": r.exit_code,
        "log": r.log,
    }
    return {k: v for k, v in raw.items() if v not in (None, "")}


def step_from(raw: Mapping[str, Any], parse_time: Any, where: str) -> StepRecord:
    code = raw.get("exitCode")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise ValueError(f"{where}.exitCode: {code!r} is not an integer")
    return StepRecord(
        str(raw["component"]),
        When(raw["when"]),
        str(raw["step"]),
        str(raw["cluster"]),
        str(raw["namespace"]),
        str(raw["job"]),
        JobState(raw["status"]),
        parse_time(raw.get("at"), f"{where}.at"),
        str(raw.get("reason", "")),
        code,
        str(raw.get("log", ""))[:LOG_CHARS],
    )
