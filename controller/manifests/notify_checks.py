"""Semantic checks of Subscriptions: the sink is one relctl.yaml declares, and the
releases, trains and components a selector names exist.

Purely computational. (Whether the deployment gives a sink its URL is known only where
relctl runs: the controller reports a sink without one, naming the variable.)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping

from controller.manifests.diagnostics import Diagnostic
from controller.manifests.documents import Manifest
from controller.manifests.notify import Subscription
from controller.manifests.state import DesiredState
from controller.manifests.yamlsource import PathPart


def _missing(
    manifest: Manifest[Subscription],
    kind: str,
    name: str,
    known: Mapping[str, object],
    path: tuple[PathPart, ...],
    where: str,
) -> Diagnostic:
    guess = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; declare '{name}' {where}"
    return manifest.diagnostic("RC202", f"{kind} '{name}' is not declared{hint}", path)


def check(state: DesiredState) -> Iterator[Diagnostic]:
    sinks = state.config.spec.sinks
    for manifest in state.of_kind(Subscription):
        spec = manifest.model.spec
        if spec.sink not in sinks:
            yield _missing(
                manifest, "sink", spec.sink, sinks, ("spec", "sink"), "under relctl.yaml's sinks"
            )
        selector = spec.releases
        for field, kind, known in (
            ("names", "Release", state.releases),
            ("trains", "ReleaseTrain", state.trains),
            ("components", "Component", state.components),
        ):
            for n, name in enumerate(getattr(selector, field)):
                if name not in known:
                    path: tuple[PathPart, ...] = ("spec", "releases", field, n)
                    yield _missing(manifest, kind, name, known, path, f"as a {kind}")
