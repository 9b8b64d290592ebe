"""The `ControllerConfig` model: how the controller reaches Jira, clusters and git.

Read from `relctl.yaml` at the repository root. Secrets are never values here, only
references to environment variables or files. Pure: nothing is read or resolved here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from controller.manifests.models import ApiVersion, Model, ObjectMeta
from controller.manifests.types import Duration, Name, RelativePath, TimeZoneName, parse_duration

ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SecretRef(Model):
    """A secret read from an environment variable or a mounted file, never inline."""

    env: str | None = Field(default=None, pattern=ENV_VAR)
    """Name of the environment variable holding the secret."""
    file: str | None = Field(default=None, min_length=1)
    """Path of a file holding the secret (e.g. a mounted Kubernetes Secret)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class JiraAuth(Model):
    """Jira credentials: Cloud uses email + API token, Data Center a personal access token."""

    email: SecretRef | None = None
    """Cloud only: the account email used with the API token."""
    token: SecretRef
    """Cloud API token, or Data Center personal access token (sent as Bearer)."""


class IssueCategories(Model):
    """How Jira issues are sorted into release-note sections and gate counts."""

    feature: tuple[str, ...] = ("Story", "Feature", "New Feature", "Epic")
    """Issue types counted as features."""
    bug: tuple[str, ...] = ("Bug",)
    """Issue types counted as bugs."""
    improvement: tuple[str, ...] = ("Improvement", "Task", "Sub-task")
    """Issue types counted as improvements."""
    breaking_labels: tuple[str, ...] = ("breaking-change",)
    """Labels that mark a breaking change."""
    breaking_field: str | None = None
    """Custom field (e.g. customfield_10042) that marks a breaking change when set."""
    migration_field: str | None = None
    """Custom field holding a migration note for breaking changes."""
    internal_labels: tuple[str, ...] = ("internal",)
    """Labels hidden from customer-facing notes."""
    blocker_priorities: tuple[str, ...] = ("Blocker",)
    """Priorities that make an open issue a blocker."""
    blocker_labels: tuple[str, ...] = ("release-blocker",)
    """Labels that make an open issue a blocker."""
    critical_priorities: tuple[str, ...] = ("Highest", "Critical")
    """Priorities that make an open bug critical."""


class JiraConfig(Model):
    """Connection to Jira."""

    url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """Base URL, e.g. https://example.atlassian.net; overridden by RELCTL_JIRA_URL."""
    flavor: Literal["cloud", "datacenter"] = "cloud"
    """cloud: REST v3 with enhanced search. datacenter: REST v2."""
    auth: JiraAuth
    """Credentials."""
    page_size: int = Field(default=100, ge=1, le=5000)
    """Issues per search page."""
    timeout: Duration = Field(default_factory=lambda: parse_duration("30s"))
    """Timeout of every request."""
    categories: IssueCategories = Field(default_factory=IssueCategories)
    """Issue classification."""


class ClusterConfig(Model):
    """How to reach one cluster: a kubeconfig context, or the pod's in-cluster config."""

    context: str | None = None
    """kubeconfig context name."""
    kubeconfig: str | None = None
    """kubeconfig file; default $KUBECONFIG or ~/.kube/config."""
    in_cluster: bool = False
    """Use the service account of the pod relctl runs in."""

    @model_validator(mode="after")
    def _one_way(self) -> ClusterConfig:
        if self.in_cluster == (self.context is not None):
            raise ValueError("give exactly one of 'context' or 'inCluster: true'")
        return self


class GitAuthor(Model):
    """Author of the controller's commits."""

    name: str = "relctl"
    """Author name."""
    email: str = Field(default="relctl@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    """Author email."""


class GitConfig(Model):
    """Where decisions are recorded."""

    remote: str = "origin"
    """Remote to fetch from and push to."""
    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]+$")
    """Branch holding the manifests."""
    status_path: RelativePath = "status"
    """Directory the controller writes; never read as desired state."""
    status_branch: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._/-]+$")
    """Separate branch for status commits, when the manifests branch is protected."""
    author: GitAuthor = Field(default_factory=GitAuthor)
    """Author of status commits."""
    push: bool = True
    """Push status commits."""
    credentials: SecretRef | None = None
    """Token for HTTPS remotes."""


class FlagPolicy(Model):
    """Feature-flag housekeeping."""

    stale_after_days: int = Field(default=30, ge=1)
    """A flag at 100% for this many days after its release shipped is stale."""


class Webhook(Model):
    """Git webhook that triggers a pass."""

    secret: SecretRef
    """HMAC secret (GitHub X-Hub-Signature-256) or token (GitLab X-Gitlab-Token)."""


class ControllerConfigSpec(Model):
    """Controller settings."""

    jira: JiraConfig | None = None
    """Jira connection; without it Jira is not observed."""
    clusters: dict[Name, ClusterConfig] = Field(default_factory=dict)
    """Clusters by name, as referenced by workloads and flag targets."""
    git: GitConfig = Field(default_factory=GitConfig)
    """Decision recording."""
    mode: Literal["observe", "enforce"] = "observe"
    """observe: compute and record, change nothing in Jira or clusters. enforce: act."""
    interval: Duration = Field(default_factory=lambda: parse_duration("1m"))
    """Time between passes."""
    timezone: TimeZoneName = "UTC"
    """Default time zone for dates without one."""
    manifests_path: RelativePath = "releases"
    """Directory of manifests."""
    signals_path: RelativePath = "signals"
    """Directory of CI signals read by signal gates."""
    flags: FlagPolicy = Field(default_factory=FlagPolicy)
    """Feature-flag housekeeping."""
    webhook: Webhook | None = None
    """Webhook verification."""


class ControllerConfig(Model):
    """Controller settings (kind ControllerConfig, in relctl.yaml)."""

    api_version: ApiVersion
    kind: Literal["ControllerConfig"]
    metadata: ObjectMeta
    spec: ControllerConfigSpec = Field(default_factory=ControllerConfigSpec)
