"""A validated manifest together with where it came from.

`Manifest` pairs a frozen model with its file and parsed document, so later checks can
point at the exact line and column of any field. `KINDS` maps each `kind` to its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from controller.manifests import models
from controller.manifests.analysis import Analysis
from controller.manifests.config import ControllerConfig
from controller.manifests.diagnostics import Diagnostic, Severity, render_path
from controller.manifests.models import Model
from controller.manifests.notify import Subscription
from controller.manifests.yamlsource import ParsedDocument, PathPart

KINDS: dict[str, type[Model]] = {
    "Component": models.Component,
    "ReleaseTrain": models.ReleaseTrain,
    "Release": models.Release,
    "FeatureFlag": models.FeatureFlag,
    "BlackoutWindow": models.BlackoutWindow,
    "Analysis": Analysis,
    "Subscription": Subscription,
    "ControllerConfig": ControllerConfig,
}

M = TypeVar("M", bound=Model, covariant=True)


@dataclass(frozen=True, slots=True)
class Manifest(Generic[M]):
    """A validated manifest and its source."""

    model: M
    file: str
    document: ParsedDocument

    @property
    def kind(self) -> str:
        return type(self.model).__name__

    @property
    def name(self) -> str:
        name = self.model.metadata.name  # type: ignore[attr-defined]
        assert isinstance(name, str)
        return name

    def diagnostic(
        self,
        code: str,
        message: str,
        path: tuple[PathPart, ...] = (),
        *,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Diagnostic:
        """A diagnostic located at `path` inside this manifest."""
        line, column = self.document.position(path, key=key)
        return Diagnostic(self.file, line, column, code, message, render_path(path), severity)
