"""The changes a plan asks for: one frozen type per kind, each with what it needs and
nothing else, its idempotency key (the same change planned twice has the same key), the
chain it belongs to (the executor stops a chain at its first failure and goes on with
the others) and a description. Adding a kind is one type here and one executor case.

Pure data: nothing here acts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import ClassVar

from controller.manifests.deploy import Locator
from controller.plan.flags import FlagTarget
from controller.plan.notices import Notice
from controller.plan.records import workload_key
from controller.plan.steps import JobSpec

WorkloadId = tuple[str, str, str]
"""(cluster, namespace, deployment)."""


class ActionKind(StrEnum):
    ENSURE_VERSION = "ensure-version"
    SET_IMAGE = "set-image"
    ROLLBACK_IMAGE = "rollback-image"
    RESTORE_IMAGE = "restore-image"
    RELEASE_VERSION = "release-version"
    COMMENT = "comment"
    APPLY_FLAGS = "apply-flags"
    RUN_JOB = "run-job"
    TAG_RELEASE = "tag-release"
    NOTIFY = "notify"
    PUBLISH = "publish"

    @property
    def system(self) -> str:
        if self in (ActionKind.ENSURE_VERSION, ActionKind.RELEASE_VERSION, ActionKind.COMMENT):
            return "jira"
        if self is ActionKind.TAG_RELEASE:
            return "git"
        if self is ActionKind.NOTIFY:
            return "notify"
        if self is ActionKind.PUBLISH:
            return "confluence"
        return "kubernetes"


@dataclass(frozen=True)
class Source:
    """Where a git-method workload's image lives: the environment repository and the
    locator in it. None on an ImageChange: the Deployment is patched."""

    environment: str
    locator: Locator
    repository: str
    """The component's image repository."""
    component: str
    several: bool = False
    """The component keeps its image in more than one file (a workload per cluster):
    its commits name the file."""


@dataclass(frozen=True)
class ImageChange:
    cluster: str
    namespace: str
    deployment: str
    container: str
    image: str
    """The image to set."""
    current: str
    """The image seen when planning."""
    source: Source | None = None
    """With the git method: the commit to make instead of a patch."""

    @property
    def workload(self) -> WorkloadId:
        return self.cluster, self.namespace, self.deployment

    @property
    def key(self) -> str:
        return workload_key(self.cluster, self.namespace, self.deployment, self.container)


@dataclass(frozen=True)
class _ReleaseAction:
    """An action of one release: it belongs to the release's chain."""

    release: str
    reason: str

    @property
    def chain(self) -> str:
        return self.release


@dataclass(frozen=True)
class _VersionAction(_ReleaseAction):
    project: str
    version: str
    day: date

    kind: ClassVar[ActionKind]

    def describe(self) -> str:
        return f"{self.kind} {self.project} {self.version}"


@dataclass(frozen=True)
class EnsureVersion(_VersionAction):
    """Create the Jira version, or move its release date to the departure's day."""

    kind: ClassVar[ActionKind] = ActionKind.ENSURE_VERSION
    description: str

    @property
    def key(self) -> str:
        return f"version:{self.project}:{self.version}:{self.day.isoformat()}"


@dataclass(frozen=True)
class ReleaseVersion(_VersionAction):
    """Mark the Jira version released on `day`."""

    kind: ClassVar[ActionKind] = ActionKind.RELEASE_VERSION

    @property
    def key(self) -> str:
        return f"release-version:{self.project}:{self.version}"


@dataclass(frozen=True)
class Comment(_ReleaseAction):
    """Comment on an issue once: `marker` in an existing comment means it was made."""

    kind: ClassVar[ActionKind] = ActionKind.COMMENT
    issue: str
    text: str
    marker: str

    @property
    def key(self) -> str:
        return f"comment:{self.release}:{self.issue}"

    @property
    def done(self) -> str:
        """What the release's status records once the comment is made (`done`)."""
        return f"comment:{self.issue}"

    def describe(self) -> str:
        return f"{self.kind} {self.issue}"


@dataclass(frozen=True)
class _ImageAction(_ReleaseAction):
    change: ImageChange
    attempt: int = 1
    """The release's attempt making the change (annotated on the Deployment)."""

    kind: ClassVar[ActionKind]
    prefix: ClassVar[str]

    @property
    def key(self) -> str:
        return f"{self.prefix}:{self.release}:{self.change.key}:{self.change.image}"

    def describe(self) -> str:
        c = self.change
        return (
            f"{self.kind} {c.cluster}/{c.namespace}/{c.deployment} {c.container}: "
            f"{c.current} -> {c.image}"
        )


@dataclass(frozen=True)
class SetImage(_ImageAction):
    """A release's rollout of one container."""

    kind: ClassVar[ActionKind] = ActionKind.SET_IMAGE
    prefix: ClassVar[str] = "image"


@dataclass(frozen=True)
class RollbackImage(_ImageAction):
    """A release's rollback of one container to the image it replaced."""

    kind: ClassVar[ActionKind] = ActionKind.ROLLBACK_IMAGE
    prefix: ClassVar[str] = "rollback"


@dataclass(frozen=True)
class RestoreImage(_ImageAction):
    """Self-heal: the image `release` put on a workload, put back after a hand edit (one
    repair per workload and image, whichever release it is recorded on)."""

    kind: ClassVar[ActionKind] = ActionKind.RESTORE_IMAGE

    @property
    def key(self) -> str:
        return f"restore:{self.change.key}:{self.change.image}"

    @property
    def chain(self) -> str:
        return "drift"


@dataclass(frozen=True)
class ApplyFlags:
    """The flagd document due now, applied to one target."""

    kind: ClassVar[ActionKind] = ActionKind.APPLY_FLAGS
    reason: str
    target: FlagTarget
    document: str
    """Flagd JSON to apply (deterministic text)."""
    release: ClassVar[str] = ""

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.document.encode()).hexdigest()[:12]
        return f"flags:{self.target.describe()}:{digest}"

    @property
    def chain(self) -> str:
        return "flags"

    def describe(self) -> str:
        return f"{self.kind} {self.target.describe()}"


@dataclass(frozen=True)
class RunJob(_ReleaseAction):
    """Create a step's Job (found by its name if it exists: never a second one)."""

    kind: ClassVar[ActionKind] = ActionKind.RUN_JOB
    job: JobSpec

    @property
    def key(self) -> str:
        return f"job:{self.job.key}"

    @property
    def done(self) -> str:
        """What the release's status records once the Job exists."""
        return self.key

    def describe(self) -> str:
        return f"{self.kind} {self.job.key} ({self.job.image})"


@dataclass(frozen=True)
class TagRelease(_ReleaseAction):
    """An annotated tag on the manifests repository at the revision the GO was decided
    on; pushed, never moved or forced."""

    kind: ClassVar[ActionKind] = ActionKind.TAG_RELEASE
    tag: str
    revision: str
    message: str

    @property
    def key(self) -> str:
        return f"tag:{self.tag}"

    @property
    def done(self) -> str:
        return self.key

    @property
    def chain(self) -> str:
        return f"tag:{self.release}"  # a tag that cannot be made holds back nothing else

    def describe(self) -> str:
        return f"{self.kind} {self.tag} at {self.revision[:12]}"


@dataclass(frozen=True)
class Notify(_ReleaseAction):
    """Send one notification (a Pending delivery of a recorded decision) to its sink."""

    kind: ClassVar[ActionKind] = ActionKind.NOTIFY
    sink: str
    notice: Notice
    issues: tuple[str, ...] = ()
    """For a jira sink: the issues to comment on (the release's)."""

    @property
    def key(self) -> str:
        return f"notify:{self.notice.id}"

    @property
    def chain(self) -> str:
        return f"notify:{self.sink}"  # a failing receiver holds up nothing else

    def describe(self) -> str:
        return f"{self.kind} {self.sink}: {self.notice.title}"


@dataclass(frozen=True)
class Publish(_ReleaseAction):
    """Publish one of the release's documents (its recorded text) as a Confluence page."""

    kind: ClassVar[ActionKind] = ActionKind.PUBLISH
    path: str
    """Under the status folder."""
    title: str
    page: str
    """The page relctl made before ("" when none is recorded)."""
    version: int

    @property
    def key(self) -> str:
        return f"publish:{self.path}"

    @property
    def chain(self) -> str:
        return "confluence"  # a Confluence that fails holds up no release

    def describe(self) -> str:
        return f"{self.kind} {self.title}"


Action = (
    EnsureVersion
    | ReleaseVersion
    | Comment
    | SetImage
    | RollbackImage
    | RestoreImage
    | ApplyFlags
    | RunJob
    | TagRelease
    | Notify
    | Publish
)
ImageAction = SetImage | RollbackImage | RestoreImage
