"""Semantic checks of the git deployment method: the environment a component or a flag
target names is declared in relctl.yaml, every workload has a locator (and only then),
and a Kustomize locator's image is the component's own.

Purely computational: takes a `DesiredState`, returns diagnostics as values. (Whether a
locator's file and key exist is known only from a clone of the environment repository:
the adapter reports that, naming the file and the commit.)
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator

from controller.manifests.diagnostics import Diagnostic
from controller.manifests.models import Component, FeatureFlag
from controller.manifests.state import DesiredState


def _undeclared(name: str | None, declared: Collection[str]) -> str | None:
    """The message for an environment relctl.yaml does not declare, or None."""
    if name is None or name in declared:
        return None
    guess = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
    hint = (
        f"; did you mean '{guess[0]}'?"
        if guess
        else "; declare it under relctl.yaml's environments"
    )
    return f"environment '{name}' is not declared{hint}"


def check(state: DesiredState) -> Iterator[Diagnostic]:
    declared = state.config.spec.environments
    for flag in state.of_kind(FeatureFlag):
        message = _undeclared(flag.model.spec.target.environment, declared)
        if message is not None:
            yield flag.diagnostic("RC202", message, ("spec", "target", "environment"))
    for manifest in state.of_kind(Component):
        spec = manifest.model.spec
        message = _undeclared(spec.deploy.environment, declared)
        if message is not None:
            yield manifest.diagnostic("RC202", message, ("spec", "deploy", "environment"))
        git = spec.deploy.method == "git"
        for n, workload in enumerate(spec.workloads):
            locator = workload.locator
            if git and locator is None:
                yield manifest.diagnostic(
                    "RC222",
                    "this workload needs a 'locator': with the git method relctl changes its "
                    "image in the environment repository, at the file and key it names",
                    ("spec", "workloads", n),
                )
            if not git and locator is not None:
                yield manifest.diagnostic(
                    "RC222",
                    "a 'locator' is for the git method; set spec.deploy.method: git (and its "
                    "environment), or remove it",
                    ("spec", "workloads", n, "locator"),
                )
            if locator is not None and locator.kustomize_image not in (None, spec.image):
                yield manifest.diagnostic(
                    "RC221",
                    f"the locator's image {locator.kustomize_image} is not the component's "
                    f"({spec.image}); relctl sets the tag of the component's own image",
                    ("spec", "workloads", n, "locator", "kustomizeImage"),
                )
