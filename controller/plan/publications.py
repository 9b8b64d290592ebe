"""Release notes and go/no-go documents published to Confluence, as an outbox in the
release's status file (like `deliveries`).

A document written this pass (the notes of a RELEASED release, for every audience; a
go/no-go document) is queued Pending with the digest of its text, in the same commit as
the text. A Pending publication already recorded (its text is in git) is published (a
`Publish` action reads it from the status folder), and the pass records the page id and
the version relctl wrote, or the attempt and when to try again. The page id recorded is
how an update finds its page; a document whose text changes is queued again. A version
written over a person's edit is a finding naming theirs.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from controller.manifests.state import DesiredState
from controller.plan.actions import Publish
from controller.plan.deliveries import attempted
from controller.plan.outbox import DeliveryState, Publication
from controller.plan.plans import Finding, FindingKind
from controller.plan.records import ReleaseStatus


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def title(status: ReleaseStatus, path: str) -> str:
    """A page title, unique in the space: the release, its version and the document."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".md")
    head = f"{status.release} {status.version}"
    if path.startswith("decisions/"):
        return f"{head}: go/no-go {stem.rsplit('-', 1)[-1]}"
    audience = stem.removeprefix(status.release).lstrip(".")
    return f"{head}: release notes" + (f" ({audience})" if audience else "")


def queue(
    status: ReleaseStatus, written: Mapping[str, str], kinds: tuple[str, ...]
) -> ReleaseStatus:
    """`status` with each document of `written` (path → text) of a published kind
    (notes, decisions) Pending, unless its recorded publication holds that text."""
    known = {p.path: p for p in status.publications}
    changed = dict(known)
    for path, text in sorted(written.items()):
        if path.split("/", 1)[0] not in kinds:
            continue
        sha = digest(text)
        old = known.get(path)
        if old is not None and old.digest == sha:
            continue
        base = old or Publication(path, title(status, path), sha)
        changed[path] = replace(base, digest=sha, state=DeliveryState.PENDING, attempts=0,
                                retry=None, response="")  # fmt: skip
    if changed == known:
        return status
    return replace(status, publications=tuple(changed[p] for p in sorted(changed)))


def plan(
    desired: DesiredState,
    statuses: dict[str, ReleaseStatus],
    recorded: Mapping[str, ReleaseStatus],
    written: Mapping[str, Mapping[str, str]],
    now: datetime,
) -> tuple[list[Publish], list[Finding]]:
    """Into `statuses`: the documents written this pass, queued. Returned: the
    publications to make now (those whose text was recorded by an earlier pass), and a
    finding for each failed one and each written over a person's edit in the last day."""
    settings = desired.config.spec.confluence
    if settings is None:
        return [], []
    kinds = tuple(settings.publish)
    actions: list[Publish] = []
    findings: list[Finding] = []
    for name in sorted(statuses):
        status = queue(statuses[name], written.get(name, {}), kinds)
        known = recorded.get(name)  # a release recorded for the first time has none yet
        before = {p.path: p for p in known.publications} if known is not None else {}
        for p in status.publications:
            seen = before.get(p.path)
            recent = p.at is not None and now - p.at < timedelta(days=1)
            if p.state is DeliveryState.PENDING:
                if seen is None or seen.digest != p.digest or (p.retry and p.retry > now):
                    continue  # its text is committed with this pass: published next pass
                actions.append(Publish(name, f"publish {p.title}", p.path, p.title, p.page,
                                       p.version))  # fmt: skip
            elif p.state is DeliveryState.FAILED and recent:
                why = f"after {p.attempts} attempt(s): {p.response}"
                findings.append(Finding(FindingKind.NOTIFICATION, name,
                                        f"{p.title} could not be published to Confluence "
                                        + why))  # fmt: skip
            elif "over version" in p.response and recent:
                findings.append(Finding(FindingKind.NOTIFICATION, name,
                                        f"{p.title} (page {p.page}): relctl's version {p.version}"
                                        f" was written {p.response}; theirs is in the page "
                                        "history"))  # fmt: skip
        statuses[name] = status
    return actions, findings


def settle(
    status: ReleaseStatus,
    path: str,
    now: datetime,
    *,
    page: str = "",
    version: int = 0,
    response: str,
    published: bool,
    retry_after: float | None = None,
) -> ReleaseStatus:
    def one(p: Publication) -> Publication:
        if p.path != path:
            return p
        return attempted(p, now, response, done=published, retry_after=retry_after,
                         page=page, version=version)  # fmt: skip

    return replace(status, publications=tuple(one(p) for p in status.publications))
