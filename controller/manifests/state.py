"""`DesiredState`: the validated manifests of one repository, indexed by kind and name.

Built once after loading; duplicates keep the first manifest (the checks report the rest).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from controller.manifests.analysis import Analysis
from controller.manifests.config import ControllerConfig
from controller.manifests.documents import Manifest
from controller.manifests.models import (
    BlackoutWindow,
    Component,
    FeatureFlag,
    Model,
    Release,
    ReleaseTrain,
)
from controller.manifests.notify import Subscription

T = TypeVar("T", bound=Model)

DEFAULT_CONFIG = ControllerConfig.model_validate(
    {
        "apiVersion": "relctl.dev/v1alpha1",
        "kind": "ControllerConfig",
        "metadata": {"name": "default"},
    }
)


@dataclass(frozen=True)
class DesiredState:
    """One repository's desired state (a *set* of manifests)."""

    root: str
    manifests: tuple[Manifest[Model], ...]
    config: ControllerConfig
    components: Mapping[str, Manifest[Component]]
    trains: Mapping[str, Manifest[ReleaseTrain]]
    releases: Mapping[str, Manifest[Release]]
    flags: Mapping[str, Manifest[FeatureFlag]]
    windows: Mapping[str, Manifest[BlackoutWindow]]
    analyses: Mapping[str, Manifest[Analysis]]
    subscriptions: Mapping[str, Manifest[Subscription]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def of_kind(self, kind: type[T]) -> Iterator[Manifest[T]]:
        """Every manifest of `kind`, duplicates included, in load order."""
        for manifest in self.manifests:
            if isinstance(manifest.model, kind):
                yield manifest  # type: ignore[misc]


def _index(manifests: Sequence[Manifest[Model]], kind: type[T]) -> Mapping[str, Manifest[T]]:
    index: dict[str, Manifest[T]] = {}
    for manifest in manifests:
        if isinstance(manifest.model, kind):
            index.setdefault(manifest.name, manifest)  # type: ignore[arg-type]
    return MappingProxyType(index)


def build_state(root: str, manifests: Sequence[Manifest[Model]]) -> DesiredState:
    configs = _index(manifests, ControllerConfig)
    config = next(iter(configs.values())).model if configs else DEFAULT_CONFIG
    return DesiredState(
        root=root,
        manifests=tuple(manifests),
        config=config,
        components=_index(manifests, Component),
        trains=_index(manifests, ReleaseTrain),
        releases=_index(manifests, Release),
        flags=_index(manifests, FeatureFlag),
        windows=_index(manifests, BlackoutWindow),
        analyses=_index(manifests, Analysis),
        subscriptions=_index(manifests, Subscription),
    )
