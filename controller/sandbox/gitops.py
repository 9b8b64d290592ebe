"""A GitOps agent for the sandbox, in Argo CD's place: it applies an environment
repository (a bare repository on disk) to the Kubernetes emulator with the real
`kubectl kustomize` and `kubectl apply --server-side`, so the emulator's apply, field
ownership and validation are what a real agent meets.

`sync()` applies the branch's head, one application (a folder of the repository) at a
time: a folder with a Chart.yaml is rendered by the real Helm engine (helm-python-sdk,
the chart's own values.yaml, as Argo CD and Flux's helm-controller do with a chart kept
in git), one with a kustomization.yaml is built with `kubectl kustomize`, any other is
applied as it is. It takes the fields it applies back from any other manager
(`--force-conflicts`), which is what Argo CD's self-heal does to a Deployment patched by
hand: a direct patch of an image the repository also sets does not survive a sync. It
can be told to fail (`failing`), as a sync does on a manifest the cluster refuses, and to
lag (`lag`: a new commit is applied only some syncs after it lands).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from controller.sandbox.kube import KubeSandbox

MANAGER = "argocd-controller"
FLUX_NAMESPACE = "flux-system"
KUSTOMIZATIONS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HELMRELEASES = ("helm.toolkit.fluxcd.io", "v2", "helmreleases")


def _flux_crd(group: str, version: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [{
                "name": version, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }  # fmt: skip


FLUX_CRDS = (
    _flux_crd("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
    _flux_crd("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
)
NAMESPACE = "argocd"
APPLICATIONS = ("argoproj.io", "v1alpha1", "applications")


def _ready(now: str, error: str, action: str, succeeded: str) -> dict[str, Any]:
    """A Flux object's Ready condition after `action` (Upgrade, Reconciliation)."""
    return {
        "type": "Ready",
        "status": "False" if error else "True",
        "reason": f"{action}Failed" if error else f"{action}Succeeded",
        "message": error or succeeded,
        "lastTransitionTime": now,
    }


class SyncError(Exception):
    """A sync that failed: what kubectl said."""


class GitOpsSyncer:
    def __init__(
        self,
        remote: Path,
        sandbox: KubeSandbox,
        apps: Mapping[str, str],
        workspace: Path,
        branch: str = "main",
        crd: Path | None = None,
        flux: bool = False,
        namespace: str = "default",
    ) -> None:
        """`apps`: application name → its folder in the repository; `namespace`: where a
        chart is installed (its `.Release.Namespace`, Argo CD's destination namespace)."""
        self.remote, self.sandbox, self.apps = remote, sandbox, dict(apps)
        self.workspace, self.branch, self.namespace = workspace, branch, namespace
        self.checkout = workspace / "checkout"
        workspace.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = sandbox.kubeconfig(workspace / "kubeconfig", "gitops")
        self.failing = ""
        """When set, every sync fails with this message (and applies nothing)."""
        self.revision = ""
        """The revision the last successful sync applied."""
        self.lag = 0
        """Syncs a new head waits before it is applied (the agent has not polled the
        repository since): until then, each sync applies the last revision again."""
        self._seen: dict[str, int] = {}
        self.syncs = 0
        self.argo = crd is not None and crd.is_file()
        if self.argo and crd is not None:
            sandbox.load_crd(crd)
            sandbox.ensure_namespace(NAMESPACE)
        self.flux = flux
        if flux:
            for definition in FLUX_CRDS:
                sandbox.register_crd(definition)
            sandbox.ensure_namespace(FLUX_NAMESPACE)

    def _run(self, *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
        done = subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=cwd,
        )
        if done.returncode != 0:
            raise SyncError(f"{' '.join(args[:3])}: {done.stderr.strip()[:500]}")
        return done.stdout

    def _fetch(self) -> str:
        if not (self.checkout / ".git").is_dir():
            self._run("git", "clone", "-q", "-b", self.branch, str(self.remote), str(self.checkout))
        else:
            self._run("git", "fetch", "-q", "origin", self.branch, cwd=self.checkout)
            self._run("git", "reset", "-q", "--hard", f"origin/{self.branch}", cwd=self.checkout)
        return self._run("git", "rev-parse", "HEAD", cwd=self.checkout).strip()

    def sync(self) -> str:
        """Apply the branch's head; its revision."""
        try:
            revision = self._apply()
        except SyncError as exc:
            self._report(None, str(exc))
            raise
        self._report(revision, "")
        return revision

    def _apply(self) -> str:
        if self.failing:
            raise SyncError(self.failing)
        revision = self._fetch()
        self._seen[revision] = self._seen.get(revision, 0) + 1
        if self.revision and revision != self.revision and self._seen[revision] <= self.lag:
            self._run("git", "reset", "-q", "--hard", self.revision, cwd=self.checkout)
            revision = self.revision
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise SyncError("kubectl is not installed")
        for name, folder in sorted(self.apps.items()):
            path = self.checkout / folder
            rendered: str | None = None
            source = ["-f", "-"]
            try:
                if (path / "Chart.yaml").is_file():
                    rendered = self._helm(name, path)
                elif (path / "kustomization.yaml").is_file():
                    rendered = self._run(kubectl, "kustomize", str(path))
                else:
                    source = ["-f", str(path)]
                self._run(
                    kubectl, "--kubeconfig", str(self.kubeconfig), "apply", "--server-side",
                    "--force-conflicts", f"--field-manager={MANAGER}", *source,
                    stdin=rendered,
                )  # fmt: skip
            except SyncError as exc:
                raise SyncError(f"application {name} at {revision[:12]}: {exc}") from None
        self.revision = revision
        self.syncs += 1
        return revision

    def _helm(self, name: str, chart: Path) -> str:
        """The chart rendered with its values.yaml, released as `name` in the namespace."""
        try:
            import helm_python  # the sandbox's only Helm use, of the test extra: imported late
        except ImportError:
            raise SyncError(
                "rendering a chart needs helm-python-sdk (pip install relctl[test])"
            ) from None
        try:
            with helm_python.Chart.load(chart) as loaded:
                manifests = loaded.render(None, name=name, namespace=self.namespace)
        except helm_python.HelmError as exc:
            raise SyncError(f"helm template: {exc}") from None
        return "\n---\n".join(text for _, text in sorted(manifests.items()) if text.strip())

    def _report(self, revision: str | None, error: str) -> None:
        """Each application's status, as Argo CD writes it after a sync (or a failed one)."""
        if self.flux:
            self._report_flux(revision, error)
        if not self.argo:
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        store = self.sandbox.store
        kind = store.find_type(*APPLICATIONS)
        for name, folder in sorted(self.apps.items()):
            status: dict[str, Any] = {
                "sync": {
                    "status": "Synced" if revision else "OutOfSync",
                    "revision": revision or self.revision,
                },
                "health": {"status": "Healthy" if revision else "Degraded"},
            }
            if error:
                status["operationState"] = {
                    "operation": {"sync": {"revision": self.revision}},
                    "phase": "Failed",
                    "message": error,
                    "startedAt": now,
                    "finishedAt": now,
                }
            body = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "project": "default",
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": self.namespace,
                    },
                    "source": {
                        "repoURL": str(self.remote),
                        "path": folder,
                        "targetRevision": self.branch,
                        **(
                            {"helm": {"valueFiles": ["values.yaml"]}}
                            if self._chart_version(folder) is not None
                            else {}
                        ),
                    },
                },
                "status": status,
            }
            with store.lock:
                if (NAMESPACE, name) in store.objects.get(APPLICATIONS, {}):
                    current = store.get(kind, NAMESPACE, name)
                    store.update(kind, NAMESPACE, name, {**current, "status": status})
                else:
                    store.create(kind, NAMESPACE, body)

    def _report_flux(self, revision: str | None, error: str) -> None:
        """Each application's Flux object after an apply: a HelmRelease for a chart (its
        `lastAttemptedRevision` is the chart's version and the commit, as helm-controller
        writes it for a chart from a GitRepository with `reconcileStrategy: Revision`), a
        Kustomization for any other folder."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        applied = revision or self.revision
        for name, folder in sorted(self.apps.items()):
            chart = self._chart_version(folder)
            if chart is not None:
                attempted = f"{chart}+{applied[:12]}" if applied else ""
                done = f"release {self.namespace}/{name} with chart {name}@{attempted}"
                ready = _ready(now, error, "Upgrade", f"Helm upgrade succeeded for {done}")
                self._put(HELMRELEASES, name, {
                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                    "kind": "HelmRelease",
                    "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
                    "spec": {"interval": "1m", "targetNamespace": self.namespace,
                             "chart": {"spec": {"chart": f"./{folder}",
                                                "reconcileStrategy": "Revision",
                                                "sourceRef": {"kind": "GitRepository",
                                                              "name": "env"}}}},
                }, {"lastAttemptedRevision": attempted, "conditions": [ready]})  # fmt: skip
                continue
            ready = _ready(now, error, "Reconciliation",
                           f"Applied revision: {self.branch}@sha1:{applied}")  # fmt: skip
            self._put(KUSTOMIZATIONS, name, {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
                "spec": {"interval": "1m", "path": f"./{folder}", "prune": True,
                         "sourceRef": {"kind": "GitRepository", "name": "env"}},
            }, {
                "lastAppliedRevision": f"{self.branch}@sha1:{applied}" if applied else "",
                "conditions": [ready],
            })  # fmt: skip

    def _chart_version(self, folder: str) -> str | None:
        chart = self.checkout / folder / "Chart.yaml"
        if not chart.is_file():
            return None
        loaded = yaml.safe_load(chart.read_text(encoding="utf-8")) or {}
        return str(loaded.get("version") or "0.0.0") if isinstance(loaded, dict) else "0.0.0"

    def _put(self, plural: tuple[str, str, str], name: str, body: dict[str, Any],
             status: dict[str, Any]) -> None:  # fmt: skip
        """Create the Flux object, or replace its status."""
        store = self.sandbox.store
        kind = store.find_type(*plural)
        with store.lock:
            if (FLUX_NAMESPACE, name) in store.objects.get(plural, {}):
                current = store.get(kind, FLUX_NAMESPACE, name)
                store.update(kind, FLUX_NAMESPACE, name, {**current, "status": status})
            else:
                store.create(kind, FLUX_NAMESPACE, {**body, "status": status})
