"""Who hears about which decisions, of the manifest API: the Subscription kind, and the
sinks relctl.yaml declares.

A Subscription names events (decision kinds), the releases it follows (by name, train,
component or label; all when it names none), a sink, and the audience its messages are
written for. A sink is declared by name in relctl.yaml with its type and nothing secret:
its URL (a Slack or Teams webhook, an SMTP server) and any key or password come from the
deployment (`$RELCTL_SINK_<NAME>_URL`, `_SECRET`, `_USERNAME`, `_PASSWORD`, each also as
`_FILE`), never from the repository.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from controller.manifests.meta import ApiVersion, Model, ObjectMeta
from controller.manifests.types import Name

Event = Literal[
    "GO",
    "GO_WITH_CONDITIONS",
    "NO_GO",
    "DELAY",
    "HOLD",
    "RESCHEDULED",
    "BLOCKED",
    "OVERRIDE",
    "ROLLOUT",
    "DEPLOYED",
    "ROLLBACK",
    "ROLLBACK_RECOMMENDED",
    "RELEASED",
    "REPAIRED",
    "SUSPENDED",
    "RESUMED",
    "ABORTED",
    "RETRY",
    "DRIFT",
    "FLAG_DRIFT",
    "STALE_FLAG",
    "TRIGGER",
    "RECOVERED",
]
EVENTS: tuple[str, ...] = get_args(Event)
"""The events a Subscription may name: the decision kinds relctl records, conditions
(found once, when they appear) and their clearing (RECOVERED)."""
EMAIL = r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"


class Sink(Model):
    """Where notifications go (relctl.yaml's `sinks`, by name). Nothing secret here:
    the URL and credentials are the deployment's ($RELCTL_SINK_<NAME>_URL, …)."""

    type: Literal["slack", "teams", "webhook", "email", "jira"]
    """slack: an incoming webhook (Block Kit). teams: a Workflows webhook (an Adaptive
    Card). webhook: JSON signed with HMAC-SHA256 in X-Signature, as Flux's generic-hmac.
    email: SMTP (STARTTLS when the server offers it), plain text and HTML. jira: a
    comment on each of the release's issues, through relctl's Jira connection (no URL
    of its own)."""
    to: list[Annotated[str, Field(pattern=EMAIL, max_length=254)]] = Field(
        default_factory=list, max_length=50
    )
    """email: the recipients."""
    sender: str | None = Field(default=None, alias="from", pattern=EMAIL)
    """email: the From address."""
    links: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=500)
    """The base URL messages link status files and notes under (e.g. the repository's
    page on the git host, ending in /blob/main); without it, messages carry no links."""

    @model_validator(mode="after")
    def _email(self) -> Sink:
        if self.type == "email" and (not self.to or self.sender is None):
            raise ValueError("an email sink needs 'to' (its recipients) and 'from'")
        if self.type != "email" and (self.to or self.sender is not None):
            raise ValueError("'to' and 'from' are for an email sink")
        return self


class ReleaseSelector(Model):
    """Which releases a Subscription follows: a release matches when it matches every
    list given (names, trains, components) and every label; nothing given matches all."""

    names: list[Name] = Field(default_factory=list)
    """Releases by name."""
    trains: list[Name] = Field(default_factory=list)
    """Releases of these trains."""
    components: list[Name] = Field(default_factory=list)
    """Releases shipping any of these components."""
    match_labels: dict[str, str] = Field(default_factory=dict)
    """Releases whose metadata.labels include all of these."""


class SubscriptionSpec(Model):
    """Which events, of which releases, to which sink, for which audience."""

    sink: Name
    """A sink relctl.yaml declares."""
    events: list[Event] = Field(min_length=1)
    """Decision kinds to notify: GO, GO_WITH_CONDITIONS, NO_GO, DELAY, HOLD, RESCHEDULED,
    BLOCKED, OVERRIDE, ROLLOUT, DEPLOYED, ROLLBACK, ROLLBACK_RECOMMENDED, RELEASED,
    REPAIRED; conditions, notified when they appear: DRIFT, FLAG_DRIFT, STALE_FLAG,
    TRIGGER; and RECOVERED, when a condition it follows clears."""
    releases: ReleaseSelector = Field(default_factory=ReleaseSelector)
    """The releases followed (all by default)."""
    audience: Literal["internal", "operations", "customers"] = "internal"
    """internal: everything, Jira keys included. operations: components, images, steps
    and the rollback plan. customers: the release and its outcome, no internal detail."""


class Subscription(Model):
    """Notifications of decisions (kind Subscription)."""

    api_version: ApiVersion
    kind: Literal["Subscription"]
    metadata: ObjectMeta
    spec: SubscriptionSpec


Published = Literal["notes", "decisions"]
PUBLISHED: tuple[Published, ...] = ("notes", "decisions")


class ConfluenceConfig(Model):
    """Where release notes and go/no-go documents are published (Confluence Cloud or Data
    Center). The site relctl connects to and its credentials are the deployment's:
    $RELCTL_CONFLUENCE_URL, $RELCTL_CONFLUENCE_TOKEN, and on Cloud
    $RELCTL_CONFLUENCE_EMAIL."""

    flavor: Literal["cloud", "datacenter"] = "cloud"
    """cloud: REST API v2 (/wiki/api/v2), an email and API token. datacenter: the
    content API (/rest/api/content), a personal access token."""
    space: str = Field(pattern=r"^[A-Za-z0-9]{1,255}$")
    """The space key, e.g. SHOP."""
    parent_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    """The page the documents go under (default: the space's homepage)."""
    publish: list[Published] = Field(default_factory=lambda: list(PUBLISHED), min_length=1)
    """What is published: release notes (every audience), go/no-go documents."""
