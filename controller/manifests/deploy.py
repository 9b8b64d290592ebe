"""How a component's image changes, of the manifest API: `kubernetes` (relctl patches the
Deployment) or `git` (relctl commits the new value to an environment repository that
Argo CD or Flux applies), and where that value lives in the repository (a locator), in
the three forms people keep it in: a Kustomize `images:` entry, a Helm values key, or a
Deployment manifest's container.

Models only: the edits are `adapters.envrepo`'s. The repository's URL is the
deployment's ($RELCTL_ENVIRONMENT_<NAME>_URL), never the manifests'.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from controller.manifests.meta import Model
from controller.manifests.types import (
    IMAGE_REPOSITORY,
    Duration,
    Name,
    RelativePath,
    parse_duration,
)

KEY_PATH = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class Locator(Model):
    """Where a workload's image lives in the environment repository: `file` and exactly
    one of `kustomizeImage`, `helmKey` or `container`."""

    file: RelativePath
    """File in the environment repository, e.g. overlays/prod/kustomization.yaml."""
    kustomize_image: str | None = Field(default=None, pattern=IMAGE_REPOSITORY)
    """A Kustomize file's `images[].name`; relctl sets its `newTag`."""
    helm_key: str | None = Field(default=None, pattern=KEY_PATH, max_length=256)
    """A Helm values file's dotted key holding the tag, e.g. image.tag."""
    container: Name | None = None
    """A Deployment manifest's container (in `spec.template.spec.containers`) whose
    `image` relctl sets, repository and tag."""

    @model_validator(mode="after")
    def _one(self) -> Locator:
        given = [v for v in (self.kustomize_image, self.helm_key, self.container) if v]
        if len(given) != 1:
            raise ValueError(
                "a locator needs exactly one of 'kustomizeImage', 'helmKey' or 'container'"
            )
        return self

    @property
    def form(self) -> str:
        if self.kustomize_image:
            return "kustomize"
        return "helm" if self.helm_key else "yaml"

    def describe(self) -> str:
        what = self.kustomize_image or self.helm_key or f"container {self.container}"
        return f"{self.file} ({self.form}: {what})"


class Application(Model):
    """The GitOps agent's object that applies the component's folder of the environment
    repository: an Argo CD Application, or a Flux Kustomization or HelmRelease. relctl
    reads its status to say why a commit is not applied yet."""

    kind: Literal["Application", "Kustomization", "HelmRelease"] = "Application"
    """Application (Argo CD), Kustomization or HelmRelease (Flux)."""
    cluster: Name
    """Cluster (from relctl.yaml) where the agent keeps it."""
    namespace: Name = "argocd"
    """Its namespace (Flux's are usually in flux-system)."""
    name: Name
    """Its name."""

    def describe(self) -> str:
        agent = "Argo CD" if self.kind == "Application" else "Flux"
        return f"{agent} {self.kind} {self.cluster}/{self.namespace}/{self.name}"


class Deploy(Model):
    """How the component's image changes."""

    method: Literal["kubernetes", "git"] = "kubernetes"
    """kubernetes: relctl patches the Deployment. git: relctl commits the image to the
    environment repository, and the cluster's GitOps agent applies it."""
    environment: Name | None = None
    """With git: the environment repository, as relctl.yaml's `environments` names it."""
    application: Application | None = None
    """With git: the Argo CD Application to read sync and health from (optional)."""
    apply_deadline: Duration = Field(default_factory=lambda: parse_duration("10m"))
    """With git: how long the GitOps agent may take to apply relctl's commit before the
    release counts it as a failed rollout (a rollback trigger)."""

    @model_validator(mode="after")
    def _environment(self) -> Deploy:
        if self.method == "git" and self.environment is None:
            raise ValueError("the git method needs an 'environment' (relctl.yaml's environments)")
        if self.method == "kubernetes" and self.environment is not None:
            raise ValueError("'environment' is for the git method; set method: git")
        return self
