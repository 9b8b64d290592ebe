"""Runs a plan's actions through the adapters, in order.

- Not enforcing (`mode: observe`, or a dry run): nothing runs; every action is skipped.
- A failure stops the rest of its chain (one release, or the flags, or drift repair)
  for this pass; other chains go on. The failure is returned, classified.
- `proceed()` is asked before each action: when it says no (SIGTERM, or the replica lost
  its lease), the action under way has finished and the rest are skipped. A skipped
  action is what a crash leaves behind: the next pass, here or elsewhere, plans it again.
- Every action is idempotent, so the next pass completes what this one left: versions
  are matched by name, images compared before they are set (a patch, or with the git
  method a commit the environment repository may already hold), a step's Job found by
  its name, a release's tag by its name and commit, and a Jira comment looked for (by its
  marker) before it is posted, so a pass killed between posting and recording never
  comments twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.adapters.errors import AdapterError
from controller.adapters.jira import JiraClient, JiraError
from controller.adapters.kube import apply_flags
from controller.adapters.kube_jobs import run_job
from controller.errors import Disposition, RelctlError
from controller.plan.actions import (
    Action,
    ActionKind,
    ApplyFlags,
    Comment,
    EnsureVersion,
    Notify,
    Publish,
    ReleaseVersion,
    RestoreImage,
    RollbackImage,
    RunJob,
    SetImage,
    TagRelease,
)
from controller.plan.notices import email
from controller.plan.plans import Observed, Plan
from controller.reconcile.connect import Adapters


class Result(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: Result
    detail: str = ""
    disposition: Disposition | None = None
    """A failure's: what the loop does next (see `controller.errors`)."""
    requeue_after: float | None = None
    """Seconds the system asked us to wait (a 429's or 503's Retry-After)."""
    value: Any = None
    """What a done action returned for the record (a published page)."""
    refused: bool = False
    """The receiver refused for good: the same request again would be refused too."""

    @property
    def failed(self) -> bool:
        return self.result is Result.FAILED


EVENT_REASONS = {
    ActionKind.SET_IMAGE: "RelctlRollout",
    ActionKind.ROLLBACK_IMAGE: "RelctlRollback",
    ActionKind.RESTORE_IMAGE: "RelctlSelfHeal",
}


def execute(
    plan: Plan,
    adapters: Adapters,
    observed: Observed,
    *,
    enforce: bool,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    proceed: Callable[[], bool] = lambda: True,
    frozen: frozenset[str] = frozenset(),
    tagger: Callable[[TagRelease], str] | None = None,
    reader: Callable[[str], str] | None = None,
) -> list[Outcome]:
    """`frozen`: releases whose record could not be read; their actions are skipped.
    `tagger` makes a release's git tag, `reader` reads a document under the status
    folder (the pass's repository)."""
    outcomes: list[Outcome] = []
    failed: set[str] = set()
    for action in plan.actions:
        if action.release and action.release in frozen:
            outcome = Outcome(action, Result.SKIPPED, "its status file is not a relctl record")
        elif not enforce:
            outcome = Outcome(action, Result.SKIPPED, "not enforcing (observe mode or dry run)")
        elif not proceed():
            outcome = Outcome(action, Result.SKIPPED, "stopping: shut down or lost the lease")
        elif action.chain in failed:
            outcome = Outcome(action, Result.SKIPPED, "an earlier action of its chain failed")
        else:
            try:
                done = _run(action, adapters, observed, tagger, reader)
                detail, value = (
                    (done.detail, done.value) if isinstance(done, Done) else (done, None)
                )
                outcome = Outcome(action, Result.DONE, detail, value=value)
            except RelctlError as exc:
                failed.add(action.chain)
                outcome = Outcome(
                    action,
                    Result.FAILED,
                    str(exc),
                    exc.disposition,
                    exc.requeue_after,
                    refused=getattr(exc, "refused", False),
                )
        outcomes.append(outcome)
        on_outcome(outcome)
    return outcomes


DECISIONS = {
    ActionKind.SET_IMAGE: "ROLLOUT",
    ActionKind.ROLLBACK_IMAGE: "ROLLBACK",
    ActionKind.RESTORE_IMAGE: "REPAIRED",
}


def _commit(action: SetImage | RollbackImage | RestoreImage, adapters: Adapters) -> str:
    """The git method: the image committed to the environment repository (the GitOps
    agent applies it; the rollout is judged in the cluster as for a patch)."""
    change = action.change
    source = change.source
    assert source is not None
    repository = adapters.environment(source.environment)
    trailers = [
        ("Relctl-Release", action.release),
        ("Relctl-Component", source.component),
        ("Relctl-Decision", DECISIONS[action.kind]),
        ("Relctl-Previous-Image", change.current or "unknown"),
        ("Relctl-Workload", f"{change.cluster}/{change.namespace}/{change.deployment}"),
    ]
    subject = f"relctl: {action.release} {DECISIONS[action.kind]} {source.component} {change.image}"
    if source.several:
        subject += f" in {source.locator.file}"
    sha = repository.set_image(source.locator, source.repository, change.image, trailers, subject)
    where = f"{source.environment}:{source.locator.file}"
    return f"committed {change.image} to {where} ({sha[:12]})" if sha else f"{where} holds it"


def _commit_flags(action: ApplyFlags, adapters: Adapters) -> str:
    """The git method for flags: the document committed to the target's file in the
    environment repository, each flag's share in the subject and body."""
    target = action.target
    document = json.loads(action.document)
    shares = [
        f"{name} {(flag.get('metadata') or {}).get('rolloutPercent', 0):g}%"
        for name, flag in sorted(document.get("flags", {}).items())
    ]
    subject = f"relctl: FLAGS {target.namespace}/{target.name}: {', '.join(shares)}"
    if len(subject) > 100:
        subject = f"relctl: FLAGS {target.namespace}/{target.name}: {len(shares)} flags"
    sha = adapters.environment(target.environment).set_flags(
        target, document, [("Relctl-Decision", "FLAGS")], subject, "\n".join(shares)
    )
    where = f"{target.environment}:{target.file}"
    return f"committed the flags to {where} ({sha[:12]})" if sha else f"{where} holds them"


def _comment_notice(action: Notify, adapters: Adapters) -> str:
    """A jira sink: the notice as a comment on each of the release's issues, each looked
    for by its marker first (a retry after a lost answer never comments twice)."""
    jira = _jira(adapters)
    marker = f"relctl event {action.notice.id}"
    _, text, _ = email(action.notice)
    posted = 0
    for issue in action.issues:
        if any(marker in comment for comment in jira.comments(issue)):
            continue
        jira.comment(issue, f"{text}\nRecorded by {marker}.", marker=marker)
        posted += 1
    return f"commented on {posted} of {len(action.issues)} issue(s)"


def _jira(adapters: Adapters) -> JiraClient:
    if adapters.jira is None:
        raise JiraError("relctl.yaml declares no jira; cannot act on Jira")
    return adapters.jira


@dataclass(frozen=True)
class Done:
    detail: str
    value: Any


def _run(
    action: Action,
    adapters: Adapters,
    observed: Observed,
    tagger: Callable[[TagRelease], str] | None,
    reader: Callable[[str], str] | None = None,
) -> str | Done:
    match action:
        case EnsureVersion():
            # The versions are listed afresh: an incremental observation may predate them.
            version = _jira(adapters).ensure_version(
                action.project,
                action.version,
                release_date=action.day,
                description=action.description,
            )
            return f"{action.project} {version.name} (id {version.id}) due {version.release_date}"
        case ReleaseVersion():
            jira = _jira(adapters)
            versions = jira.versions(action.project)
            found = next((v for v in versions if v.name == action.version), None)
            if found is None:
                raise JiraError(f"{action.project} has no version {action.version!r} to release")
            jira.release_version(found, action.day)
            return f"{action.project} {action.version} released"
        case Comment():
            jira = _jira(adapters)
            if any(action.marker in text for text in jira.comments(action.issue)):
                return f"{action.issue} already has the comment"
            jira.comment(action.issue, action.text, marker=action.marker)
            return f"commented on {action.issue}"
        case SetImage() | RollbackImage() | RestoreImage() if action.change.source is not None:
            return _commit(action, adapters)
        case SetImage() | RollbackImage() | RestoreImage():
            change = action.change
            cluster = adapters.cluster(change.cluster)
            seen = (observed.workloads or {}).get(change.workload)
            if seen is None:
                seen = cluster.get(change.namespace, change.deployment)
            patched = cluster.set_image(
                seen, change.container, change.image, action.release, action.attempt
            )
            with contextlib.suppress(RelctlError):  # the change is made; an Event is a courtesy
                cluster.event(
                    patched,
                    EVENT_REASONS[action.kind],
                    f"{action.reason}: {change.container}={change.image}",
                )
            return f"{change.deployment} {change.container}={change.image}"
        case ApplyFlags() if action.target.environment:
            return _commit_flags(action, adapters)
        case ApplyFlags():
            cluster = adapters.cluster(action.target.cluster)
            changed = apply_flags(cluster, action.target, json.loads(action.document))
            return "applied" if changed else "already applied"
        case RunJob():
            made = run_job(adapters.cluster(action.job.cluster), action.job)
            return f"created Job {action.job.key}" if made else f"Job {action.job.key} exists"
        case Notify() if adapters.sink_type(action.sink) == "jira":
            return _comment_notice(action, adapters)
        case Notify():
            return adapters.notifier(action.sink).send(action.notice)  # what the receiver said
        case Publish():
            if reader is None:
                raise AdapterError(
                    "no repository to read documents from", disposition=Disposition.STALLED
                )
            text = reader(action.path)
            page = adapters.publisher().publish(action.title, text, action.page, action.version)
            over = f"; over {page.replaced}" if page.replaced else ""
            return Done(f"page {page.page} version {page.version}{over}", page)
        case TagRelease():
            if tagger is None:
                raise AdapterError("no repository to tag", disposition=Disposition.STALLED)
            return tagger(action)
