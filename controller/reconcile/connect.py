"""The adapters a pass uses, built from the ControllerConfig and the environment (where
secrets come from). Nothing connects until a pass needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller.adapters.confluence import ConfluenceClient, ConfluenceError
from controller.adapters.envrepo import EnvironmentRepository
from controller.adapters.errors import AdapterError
from controller.adapters.git import GitError
from controller.adapters.jira import JiraClient, settings_from
from controller.adapters.kube import KubeCluster, KubeError
from controller.adapters.notify import Notifier, NotifyError
from controller.adapters.prometheus import Prometheus
from controller.errors import Disposition
from controller.manifests.config import ControllerConfig, EnvironmentConfig, GitAuthor
from controller.manifests.notify import ConfluenceConfig, Sink


@dataclass
class Adapters:
    jira: JiraClient | None
    clusters: dict[str, KubeCluster] = field(default_factory=dict)
    prometheus: Prometheus | None = None
    """The deployment's Prometheus ($RELCTL_PROMETHEUS_URL), which analyses query."""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The process environment, where named providers are looked up (never shown)."""
    timeout: float = 10.0
    named: dict[str, Prometheus | None] = field(default_factory=dict, repr=False)
    """Providers an Analysis names, connected when first asked for."""
    environments: Mapping[str, EnvironmentConfig] = field(default_factory=dict)
    author: GitAuthor = field(default_factory=GitAuthor)
    clones: Path | None = None
    """Where environment repositories are cloned (the pass sets it: the manifests
    clone's git folder); None: nowhere, the git method cannot act."""
    opened: dict[str, EnvironmentRepository] = field(default_factory=dict, repr=False)
    sinks: Mapping[str, Sink] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict, repr=False)

    confluence: ConfluenceConfig | None = None
    published: ConfluenceClient | None = field(default=None, repr=False)

    def publisher(self) -> ConfluenceClient:
        """Confluence, at the site and with the credentials the deployment gives."""
        if self.published is None:
            if self.confluence is None:
                raise ConfluenceError("relctl.yaml declares no confluence")
            self.published = ConfluenceClient(self.confluence, self.env)
        return self.published

    def sink_type(self, name: str) -> str:
        sink = self.sinks.get(name)
        return sink.type if sink is not None else ""

    def sink_problems(self, used: set[str]) -> list[str]:
        """Why a sink a Subscription uses cannot deliver where relctl runs (its URL or key
        is not given): said every pass, before anything is due to it."""
        problems = []
        for name in sorted(used):
            if self.sink_type(name) in ("", "jira") or name in self.notifiers:
                continue
            try:
                self.notifier(name)
            except AdapterError as exc:
                problems.append(f"{exc}; its notifications wait")
        return problems

    def notifier(self, name: str) -> Notifier:
        """The sink `name`, with the URL and secrets the deployment gives it."""
        if name not in self.notifiers:
            sink = self.sinks.get(name)
            if sink is None:
                raise NotifyError(f"sink {name!r} is not declared in relctl.yaml's sinks")
            self.notifiers[name] = Notifier(name, sink, self.env)
        return self.notifiers[name]

    def environment(self, name: str) -> EnvironmentRepository:
        """The environment repository `name`, at the URL the deployment gives it."""
        if name not in self.opened:
            settings = self.environments.get(name)
            if settings is None or self.clones is None:
                raise GitError(
                    f"environment {name!r} is not declared in relctl.yaml's environments"
                    if settings is None
                    else f"environment {name!r}: no folder to clone it into",
                    disposition=Disposition.STALLED,
                )
            self.opened[name] = EnvironmentRepository.of(
                name, settings, self.env, self.clones / name, self.author
            )
        return self.opened[name]

    def retry_prometheus(self) -> None:
        """A new pass asks every Prometheus again, even one found down before."""
        for prometheus in (self.prometheus, *self.named.values()):
            if prometheus is not None:
                prometheus.retry()

    def prometheus_for(self, provider: str) -> Prometheus | None:
        """The provider's Prometheus ("": the default), or None when the deployment does
        not name it."""
        if not provider:
            return self.prometheus
        if provider not in self.named:
            self.named[provider] = Prometheus.from_env(self.env, self.timeout, provider)
        return self.named[provider]

    def cluster(self, name: str) -> KubeCluster:
        if name not in self.clusters:
            raise KubeError(f"cluster {name!r} is not declared in relctl.yaml's clusters")
        return self.clusters[name]

    def requests(self) -> tuple[int, int]:
        """(Jira requests, Kubernetes requests) so far."""
        return (
            self.jira.requests if self.jira is not None else 0,
            sum(c.requests for c in self.clusters.values()),
        )

    def errors(self) -> tuple[int, int]:
        """(failed Jira requests, failed Kubernetes requests) so far."""
        return (
            self.jira.errors if self.jira is not None else 0,
            sum(c.errors for c in self.clusters.values()),
        )

    def close(self) -> None:
        if self.jira is not None:
            self.jira.close()
        for cluster in self.clusters.values():
            cluster.close()
        for prometheus in (self.prometheus, *self.named.values()):
            if prometheus is not None:
                prometheus.close()
        for notifier in self.notifiers.values():
            notifier.close()
        if self.published is not None:
            self.published.close()


def connect(config: ControllerConfig, env: Mapping[str, str]) -> Adapters:
    spec = config.spec
    jira = JiraClient(settings_from(spec.jira, env)) if spec.jira is not None else None
    clusters = {
        name: KubeCluster.connect(name, c, env) for name, c in sorted(spec.clusters.items())
    }
    timeout = spec.prometheus.timeout.total_seconds()
    return Adapters(
        jira,
        clusters,
        Prometheus.from_env(env, timeout),
        dict(env),
        timeout,
        environments=dict(spec.environments),
        author=spec.git.author,
        sinks=dict(spec.sinks),
        confluence=spec.confluence,
    )
