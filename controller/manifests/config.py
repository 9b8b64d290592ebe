"""The `ControllerConfig` model: how the controller reaches Jira, clusters and git.

Read from `relctl.yaml` at the repository root. What decides where credentials go — the
Jira URL they are sent to, where secrets are read from, the webhook secret — is not the
repository's to say: anyone who can push to it could send the credentials elsewhere. It
comes from how the controller is deployed (environment variables, flags, chart values),
and a relctl.yaml that tries to set it is rejected with an error saying so. Pure:
nothing is read or resolved here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from controller.manifests.approvers import Approvers
from controller.manifests.models import ApiVersion, Model, ObjectMeta
from controller.manifests.notify import ConfluenceConfig, Sink
from controller.manifests.types import Duration, Name, RelativePath, TimeZoneName, parse_duration

DEPLOYMENT_ONLY = "deployment_only"
"""The pydantic error type of a field only the deployment may set."""

_WHERE = {
    "auth": "RELCTL_JIRA_EMAIL and RELCTL_JIRA_TOKEN (or RELCTL_JIRA_EMAIL_FILE and "
    "RELCTL_JIRA_TOKEN_FILE)",
    "webhook": "RELCTL_WEBHOOK_SECRET (or RELCTL_WEBHOOK_SECRET_FILE)",
    "credentials": "git's own credential helper (the chart's secrets.git)",
    "token": "RELCTL_PROMETHEUS_TOKEN (or RELCTL_PROMETHEUS_TOKEN_FILE)",
    "url": "RELCTL_ENVIRONMENT_<NAME>_URL (the environment's name upper-cased, '-' as '_')",
}

DeploymentOnly = Annotated[
    Any,
    WithJsonSchema(
        {
            "not": {},
            "description": "Not allowed: set where the controller is deployed, never in the "
            "repository.",
        }
    ),
]


def refuse(field: str, value: Any) -> None:
    """A value for a field only the deployment may set: an error saying where it goes."""
    if value is not None:
        raise PydanticCustomError(
            DEPLOYMENT_ONLY,
            "{field} cannot be set in the repository: whoever can push here could send "
            "the credentials elsewhere. Remove it, and set {where} where the controller "
            "runs (see README: credentials)",
            {"field": field, "where": _WHERE[field]},
        )


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
    """Connection to Jira. The URL relctl connects to, and the credentials, come from the
    deployment: RELCTL_JIRA_URL, RELCTL_JIRA_EMAIL, RELCTL_JIRA_TOKEN (or ..._FILE)."""

    url: str | None = Field(default=None, pattern=r"^https?://[^\s/@]+(/[^\s]*)?$")
    """The Jira this repository is written for, e.g. https://example.atlassian.net. For
    people; relctl connects only to the deployment's RELCTL_JIRA_URL."""
    flavor: Literal["cloud", "datacenter"] = "cloud"
    """cloud: REST v3 with enhanced search. datacenter: REST v2."""
    auth: DeploymentOnly = None
    """Not allowed: credentials are the deployment's (RELCTL_JIRA_EMAIL, RELCTL_JIRA_TOKEN)."""
    page_size: int = Field(default=100, ge=1, le=5000)
    """Issues per search page."""
    timeout: Duration = Field(default_factory=lambda: parse_duration("30s"))
    """Timeout of every request (1 s to 5 min)."""
    categories: IssueCategories = Field(default_factory=IssueCategories)
    """Issue classification."""

    @field_validator("auth", mode="before")
    @classmethod
    def _no_auth(cls, value: Any) -> None:
        refuse("auth", value)

    @field_validator("timeout")
    @classmethod
    def _timeout_bounds(cls, value: Any) -> Any:
        return _bounded(value, 1, 300)


class PrometheusConfig(Model):
    """Prometheus, which analyses query. Where relctl connects, and with which bearer
    token, the deployment says: RELCTL_PROMETHEUS_URL, RELCTL_PROMETHEUS_TOKEN (or
    ..._FILE)."""

    url: str | None = Field(default=None, pattern=r"^https?://[^\s/@]+(/[^\s]*)?$")
    """The Prometheus this repository is written for. For people; relctl connects only
    to the deployment's RELCTL_PROMETHEUS_URL."""
    timeout: Duration = Field(default_factory=lambda: parse_duration("10s"))
    """Deadline of every query (1 s to 2 min)."""
    token: DeploymentOnly = None
    """Not allowed: the token is the deployment's (RELCTL_PROMETHEUS_TOKEN)."""

    @field_validator("token", mode="before")
    @classmethod
    def _no_token(cls, value: Any) -> None:
        refuse("token", value)

    @field_validator("timeout")
    @classmethod
    def _timeout_bounds(cls, value: Any) -> Any:
        return _bounded(value, 1, 120)


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
    release_tag: str | None = Field(
        default="{release}", pattern=r"^[A-Za-z0-9._/{}-]+$", max_length=200
    )
    """Annotated tag created when a release rolls out, at the revision its GO was decided
    on: `{release}` and `{version}` are filled in. Never moved or forced; null: none."""
    credentials: DeploymentOnly = None
    """Not allowed: git's credentials are the deployment's (a credential helper)."""

    @field_validator("credentials", mode="before")
    @classmethod
    def _no_credentials(cls, value: Any) -> None:
        refuse("credentials", value)


class EnvironmentConfig(Model):
    """An environment repository that a GitOps agent (Argo CD, Flux) applies to a
    cluster; components with the git method commit their images to it. Its URL is the
    deployment's: $RELCTL_ENVIRONMENT_<NAME>_URL (the name upper-cased, '-' as '_'),
    with git's own credential helper; never written here."""

    branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]+$")
    """Branch the agent applies."""
    url: DeploymentOnly = None
    """Not allowed: where relctl pushes is the deployment's ($RELCTL_ENVIRONMENT_<NAME>_URL)."""

    @field_validator("url", mode="before")
    @classmethod
    def _no_url(cls, value: Any) -> None:
        refuse("url", value)


class FlagPolicy(Model):
    """Feature-flag housekeeping."""

    stale_after_days: int = Field(default=30, ge=1)
    """A flag at 100% for this many days after its release shipped is stale."""


class ControllerConfigSpec(Model):
    """Controller settings."""

    jira: JiraConfig | None = None
    """Jira connection; without it Jira is not observed."""
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    """Prometheus, which analyses query."""
    clusters: dict[Name, ClusterConfig] = Field(default_factory=dict)
    """Clusters by name, as referenced by workloads and flag targets."""
    git: GitConfig = Field(default_factory=GitConfig)
    """Decision recording."""
    environments: dict[Name, EnvironmentConfig] = Field(default_factory=dict)
    """Environment repositories, by name, for components deployed with the git method."""
    sinks: dict[Name, Sink] = Field(default_factory=dict)
    """Where Subscriptions send notifications, by name."""
    confluence: ConfluenceConfig | None = None
    """Publish release notes and go/no-go documents as Confluence pages."""
    mode: Literal["observe", "enforce"] = "observe"
    """observe: compute and record, change nothing in Jira or clusters. enforce: act."""
    interval: Duration = Field(default_factory=lambda: parse_duration("1m"))
    """Time between passes (10 s to 1 day)."""
    timezone: TimeZoneName = "UTC"
    """Default time zone for dates without one."""
    manifests_path: RelativePath = "releases"
    """Directory of manifests."""
    signals_path: RelativePath = "signals"
    """Directory of CI signals read by signal gates."""
    flags: FlagPolicy = Field(default_factory=FlagPolicy)
    """Feature-flag housekeeping."""
    approvers: Approvers = Field(default_factory=Approvers)
    """Who may approve for which role, and the keys their approvals are signed with."""
    webhook: DeploymentOnly = None
    """Not allowed: the webhook secret is the deployment's (RELCTL_WEBHOOK_SECRET)."""

    @field_validator("webhook", mode="before")
    @classmethod
    def _no_webhook(cls, value: Any) -> None:
        refuse("webhook", value)

    @field_validator("interval")
    @classmethod
    def _interval_bounds(cls, value: Any) -> Any:
        return _bounded(value, 10, 86_400)


class ControllerConfig(Model):
    """Controller settings (kind ControllerConfig, in relctl.yaml)."""

    api_version: ApiVersion
    kind: Literal["ControllerConfig"]
    metadata: ObjectMeta
    spec: ControllerConfigSpec = Field(default_factory=ControllerConfigSpec)


def _bounded(value: Any, least: float, most: float) -> Any:
    seconds = value.total_seconds()
    if not least <= seconds <= most:
        raise ValueError(f"must be between {_span(least)} and {_span(most)}")
    return value


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g}{unit}"
    return f"{seconds:g}s"
