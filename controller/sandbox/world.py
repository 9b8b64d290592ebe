"""A whole sandbox world on 127.0.0.1: the Jira emulator seeded from a Jira seed file,
one Kubernetes emulator per cluster of the ControllerConfig with every component's
Deployments, a bare git repository as the remote, a clone for the controller and a
clone for people (who push approvals and manifest changes), a kubeconfig with one
context per cluster and the environment the controller reads its secrets from.

`relctl demo` and the end-to-end tests use it; the controller talks to it over real
HTTP and real git, exactly as it would to the real systems.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from controller.adapters import rbac
from controller.manifests.loading import load
from controller.manifests.state import DesiredState
from controller.sandbox.jira import JiraSandbox
from controller.sandbox.kube import MINIMAL_FEATUREFLAG_CRD, KubeSandbox
from controller.sandbox.kube_rbac import ADMIN_TOKEN
from controller.sandbox.prometheus import PrometheusServer
from controller.sandbox.traffic import Profile, TrafficSimulator

CONTROLLER_NAMESPACE = "relctl"


def rbac_objects(config_map_namespaces: Sequence[str]) -> list[dict[str, Any]]:
    """The ServiceAccount relctl/relctl and what the Helm chart grants it
    (`controller.adapters.rbac`): its ClusterRole, the leader-election Role in its own
    namespace, and a Role for flag ConfigMaps in each of `config_map_namespaces`."""

    def rules(granted: Sequence[rbac.Rule]) -> list[dict[str, Any]]:
        return [
            {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs)}
            for group, resource, verbs in granted
        ]

    subject = [{"kind": "ServiceAccount", "name": "relctl", "namespace": CONTROLLER_NAMESPACE}]
    api = "rbac.authorization.k8s.io"

    def bound(kind: str, name: str, namespace: str, granted: Sequence[rbac.Rule]) -> list[Any]:
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        role = {"apiVersion": f"{api}/v1", "kind": kind, "metadata": meta}
        binding = {
            "apiVersion": f"{api}/v1",
            "kind": f"{kind}Binding",
            "metadata": meta,
            "subjects": subject,
            "roleRef": {"apiGroup": api, "kind": kind, "name": name},
        }
        return [{**role, "rules": rules(granted)}, binding]

    found: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CONTROLLER_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "relctl", "namespace": CONTROLLER_NAMESPACE},
        },
        *bound("ClusterRole", "relctl", "", rbac.CLUSTER),
        *bound("Role", "relctl-leader-election", CONTROLLER_NAMESPACE, rbac.LEADER_ELECTION),
    ]
    for namespace in config_map_namespaces:
        found += bound("Role", "relctl-flags", namespace, rbac.FLAG_CONFIGMAPS)
    return found


IDENTITY = ("-c", "user.name=sandbox", "-c", "user.email=sandbox@localhost")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def deployment(
    name: str, namespace: str, container: str, image: str, deadline: float = 600
) -> dict[str, Any]:
    """A Deployment of two replicas; `deadline`: its progressDeadlineSeconds."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": max(1, math.ceil(deadline)),
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": container, "image": image}]},
            },
        },
    }


class World:
    """Start with `start()` (or `with World(...)`), stop with `stop()`."""

    def __init__(
        self,
        source: Path,
        workspace: Path,
        *,
        jira_seed: Path,
        running: Mapping[str, str] | None = None,
        crd: Path | None = None,
        latency: float = 0.0,
        step: float = 0.05,
        deadline: float = 1.0,
        rbac: bool = False,
        metrics: bool = False,
    ) -> None:
        """`source`: a repository tree with relctl.yaml and the manifests; `running`:
        component → image tag its Deployments run at the start (default 0.0.0); `rbac`:
        the clusters authorize every request, and the controller's kubeconfig holds the
        token of ServiceAccount relctl/relctl, granted what the Helm chart grants
        (`controller.adapters.rbac`; leader election in namespace `relctl`); `metrics`: a
        traffic simulator per cluster and a real Prometheus scraping them
        ($RELCTL_PROMETHEUS_URL), for analyses."""
        self.rbac = rbac
        self.metrics = metrics
        self.traffic: dict[str, TrafficSimulator] = {}
        """Cluster → its traffic simulator (with `metrics`)."""
        self.prometheus: PrometheusServer | None = None
        self.tokens: dict[str, str] = {}
        """Cluster → the controller's bearer token there."""
        self.source = source
        self.workspace = workspace
        self.jira_seed = jira_seed
        self.running = dict(running or {})
        self.crd = crd
        self.latency = latency
        self.jira = JiraSandbox("cloud", latency=latency)
        self.clusters: dict[str, KubeSandbox] = {}
        self.step, self.deadline = step, deadline
        self.remote = workspace / "remote.git"
        self.controller = workspace / "controller"
        self.human = workspace / "human"
        self.kubeconfig = workspace / "kubeconfig"
        self.env: dict[str, str] = {}
        self.ticks = 0.0
        self._simulated = False

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def state(self) -> DesiredState:
        return load(self.source).states[0]

    def start(self) -> World:
        state = self.state()
        self.jira.state.seed_file(self.jira_seed)
        self.jira.start()
        for name in sorted(state.config.spec.clusters):
            sandbox = KubeSandbox(latency=self.latency, rbac=self.rbac)
            sandbox.rollouts.step = self.step
            sandbox.rollouts.deadline = self.deadline
            if self.crd is not None and self.crd.is_file():
                sandbox.load_crd(self.crd)
            else:
                sandbox.register_crd(MINIMAL_FEATUREFLAG_CRD)
            if self._simulated:
                sandbox.rollouts.clock = lambda: self.ticks
            sandbox.start()
            self.clusters[name] = sandbox
        for component in state.components.values():
            spec = component.model.spec
            tag = self.running.get(component.name, "0.0.0")
            for w in spec.workloads:
                if w.cluster in self.clusters:
                    self.clusters[w.cluster].apply(
                        deployment(
                            w.deployment,
                            w.namespace,
                            w.container,
                            f"{spec.image}:{tag}",
                            self.deadline,
                        )
                    )
        for flag in state.flags.values():
            target = flag.model.spec.target
            if target.cluster in self.clusters:
                self.clusters[target.cluster].ensure_namespace(target.namespace)
        if self.rbac:
            for name, sandbox in self.clusters.items():
                flag_namespaces = {
                    f.model.spec.target.namespace
                    for f in state.flags.values()
                    if f.model.spec.target.cluster == name
                    and f.model.spec.target.kind == "ConfigMap"
                }
                for document in rbac_objects(sorted(flag_namespaces)):
                    sandbox.apply(document)
                self.tokens[name] = sandbox.token_for(CONTROLLER_NAMESPACE, "relctl")
        self._write_kubeconfig()
        self._git(state)
        if self.metrics:
            for name, sandbox in self.clusters.items():
                self.traffic[name] = TrafficSimulator(sandbox.store).start()
            targets = {name: t.address for name, t in self.traffic.items()}
            self.prometheus = PrometheusServer(self.workspace / "prometheus", targets).start()
        user = next(iter(yaml.safe_load(self.jira_seed.read_text(encoding="utf-8"))["users"]))
        self.env = {
            "RELCTL_JIRA_URL": self.jira.url,
            "RELCTL_JIRA_EMAIL": user["email"],
            "RELCTL_JIRA_TOKEN": user["token"],
            "KUBECONFIG": str(self.kubeconfig),
        }
        if self.prometheus is not None:
            self.env["RELCTL_PROMETHEUS_URL"] = self.prometheus.url
        return self

    def mark_image(self, image: str, profile: Profile) -> None:
        """Every cluster's workloads serve `image`'s traffic so (with `metrics`)."""
        for simulator in self.traffic.values():
            simulator.mark(image, profile)

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        for simulator in self.traffic.values():
            simulator.stop()
        self.jira.stop()
        for sandbox in self.clusters.values():
            sandbox.stop()

    def _write_kubeconfig(self) -> None:
        contexts = sorted(self.clusters)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": contexts[0] if contexts else "",
            "clusters": [
                {"name": n, "cluster": self.clusters[n].cluster_entry()} for n in contexts
            ],
            "users": [
                {"name": n, "user": {"token": self.tokens.get(n, ADMIN_TOKEN)}} for n in contexts
            ],
            "contexts": [
                {"name": n, "context": {"cluster": n, "user": n, "namespace": "default"}}
                for n in contexts
            ],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")

    def _git(self, state: DesiredState) -> None:
        seed = self.workspace / "seed"
        seed.mkdir(parents=True)
        shutil.copy2(self.source / "relctl.yaml", seed / "relctl.yaml")
        manifests = state.config.spec.manifests_path
        shutil.copytree(self.source / manifests, seed / manifests)
        git(seed, "init", "-q", "-b", state.config.spec.git.branch)
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "Declare the shop's releases")
        git(
            self.workspace,
            "init",
            "-q",
            "--bare",
            "-b",
            state.config.spec.git.branch,
            str(self.remote),
        )
        git(seed, "push", "-q", str(self.remote), f"HEAD:{state.config.spec.git.branch}")
        shutil.rmtree(seed)
        git(self.workspace, "clone", "-q", str(self.remote), str(self.controller))
        git(self.workspace, "clone", "-q", str(self.remote), str(self.human))

    def simulate_time(self) -> None:
        """Drive the clusters' rollouts by `advance` alone, not the wall clock: a
        rollout progresses exactly as far as the simulated seconds say."""
        self.ticks = 0.0
        for sandbox in self.clusters.values():
            sandbox.rollouts.clock = lambda: self.ticks
        self._simulated = True

    def advance(self, seconds: float) -> None:
        """Simulated time passes for the rollouts (see `simulate_time`)."""
        self.ticks += seconds
        for sandbox in self.clusters.values():
            sandbox.rollouts.tick()

    def set_time(self, now: datetime) -> None:
        """Move the emulators' clock (the simulated clock of a test or the demo)."""
        with self.jira.state.lock:
            self.jira.state.clock = now

    def close_issues(self, *keys: str, status: str = "Done") -> None:
        """People finish work in Jira."""
        with self.jira.state.lock:
            for key in keys:
                issue = self.jira.state.issues[key]
                issue.status = status
                self.jira.state.touch(issue)

    def push_change(
        self, message: str, files: Mapping[str, str], delete: Sequence[str] = ()
    ) -> str:
        """A person's commit: write (or `delete`) files in the human clone, commit, pull
        and push."""
        for relative, text in files.items():
            path = self.human / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for relative in delete:
            (self.human / relative).unlink()
        git(self.human, "add", "-A")
        git(self.human, "commit", "-q", "-m", message)
        git(self.human, "pull", "-q", "--rebase")
        git(self.human, "push", "-q")
        return git(self.human, "rev-parse", "HEAD")

    def log(self, *args: str) -> list[str]:
        """Subjects on the remote branch, newest first."""
        out = git(self.remote, "log", "--format=%s", *args)
        return out.splitlines()
