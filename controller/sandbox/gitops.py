"""A GitOps agent for the sandbox, in Argo CD's place: it applies an environment
repository (a bare repository on disk) to the Kubernetes emulator with the real
`kubectl kustomize` and `kubectl apply --server-side`, so the emulator's apply, field
ownership and validation are what a real agent meets.

`sync()` applies the branch's head, one application (a folder of the repository) at a
time: a folder with a kustomization.yaml is built with `kubectl kustomize`, any other is
applied as it is. It takes the fields it applies back from any other manager
(`--force-conflicts`), which is what Argo CD's self-heal does to a Deployment patched by
hand: a direct patch of an image the repository also sets does not survive a sync. It
can be told to fail (`failing`), as a sync does on a manifest the cluster refuses.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.sandbox.kube import KubeSandbox

MANAGER = "argocd-controller"
FLUX_NAMESPACE = "flux-system"
KUSTOMIZATIONS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
FLUX_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
    "spec": {
        "group": "kustomize.toolkit.fluxcd.io",
        "names": {"kind": "Kustomization", "listKind": "KustomizationList",
                  "plural": "kustomizations", "singular": "kustomization"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}  # fmt: skip
NAMESPACE = "argocd"
APPLICATIONS = ("argoproj.io", "v1alpha1", "applications")


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
    ) -> None:
        """`apps`: application name → its folder in the repository."""
        self.remote, self.sandbox, self.apps = remote, sandbox, dict(apps)
        self.workspace, self.branch = workspace, branch
        self.checkout = workspace / "checkout"
        workspace.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = sandbox.kubeconfig(workspace / "kubeconfig", "gitops")
        self.failing = ""
        """When set, every sync fails with this message (and applies nothing)."""
        self.revision = ""
        """The revision the last successful sync applied."""
        self.syncs = 0
        self.argo = crd is not None and crd.is_file()
        if self.argo and crd is not None:
            sandbox.load_crd(crd)
            sandbox.ensure_namespace(NAMESPACE)
        self.flux = flux
        if flux:
            sandbox.register_crd(FLUX_CRD)
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
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise SyncError("kubectl is not installed")
        for name, folder in sorted(self.apps.items()):
            path = self.checkout / folder
            if (path / "kustomization.yaml").is_file():
                rendered = self._run(kubectl, "kustomize", str(path))
                source = ["-f", "-"]
            else:
                rendered, source = None, ["-f", str(path)]
            try:
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
                    "destination": {"server": "https://kubernetes.default.svc"},
                    "source": {
                        "repoURL": str(self.remote),
                        "path": folder,
                        "targetRevision": self.branch,
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
        """Each application as a Flux Kustomization's status after an apply."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        store = self.sandbox.store
        kind = store.find_type(*KUSTOMIZATIONS)
        for name, folder in sorted(self.apps.items()):
            applied = revision or self.revision
            ready = {
                "type": "Ready",
                "status": "False" if error else "True",
                "reason": "ReconciliationFailed" if error else "ReconciliationSucceeded",
                "message": error or f"Applied revision: {self.branch}@sha1:{applied}",
                "lastTransitionTime": now,
            }
            status = {
                "lastAppliedRevision": f"{self.branch}@sha1:{applied}" if applied else "",
                "conditions": [ready],
            }
            body = {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
                "spec": {"interval": "1m", "path": f"./{folder}", "prune": True,
                         "sourceRef": {"kind": "GitRepository", "name": "env"}},
                "status": status,
            }  # fmt: skip
            with store.lock:
                if (FLUX_NAMESPACE, name) in store.objects.get(KUSTOMIZATIONS, {}):
                    current = store.get(kind, FLUX_NAMESPACE, name)
                    store.update(kind, FLUX_NAMESPACE, name, {**current, "status": status})
                else:
                    store.create(kind, FLUX_NAMESPACE, body)
