"""Steps around a rollout, of the manifest API: Jobs that run before a component's image
changes (`preRollout`: a backup, a migration), after its rollout completes
(`postRollout`: smoke tests) and before a rollback restores its previous image
(`onRollback`: a down-migration), and a maintenance flag switched on around it.

Declared on a Component (every release of it runs them); a Release's component entry
may replace any of the three lists. Models only: what the steps do is `plan.steps`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from controller.manifests.meta import Model
from controller.manifests.types import (
    IMAGE_REPOSITORY,
    IMAGE_TAG,
    Duration,
    Name,
    parse_duration,
)

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
IMAGE = IMAGE_REPOSITORY[:-1] + "(:" + IMAGE_TAG[1:-1] + r"|@sha256:[a-f0-9]{64})$"
"""A repository with a tag or a digest (a step's explicit image never floats)."""
MAX_TIMEOUT = timedelta(days=1)


class SecretKey(Model):
    """A key of a Kubernetes Secret in the Job's namespace."""

    name: Name
    """Name of the Secret (a DNS-1123 label)."""
    key: str = Field(pattern=KEY_PATTERN, max_length=253)
    """Key in the Secret's data."""


class EnvVar(Model):
    """An environment variable of the step's container: a value, or a Secret's key."""

    name: str = Field(pattern=ENV_NAME, max_length=256)
    """Variable name."""
    value: str | None = Field(default=None, max_length=4096)
    """Literal value (never a secret: it is visible in the manifest and the Job)."""
    secret: SecretKey | None = None
    """Read from a Secret's key (`secretKeyRef`); its value never reaches relctl."""

    @model_validator(mode="after")
    def _one(self) -> EnvVar:
        if (self.value is None) == (self.secret is None):
            raise ValueError(f"env {self.name!r} needs exactly one of 'value' or 'secret'")
        return self


class JobStep(Model):
    """A Kubernetes Job run once per cluster and namespace the component runs in."""

    name: Name
    """Name of the step, unique among the component's steps, e.g. migrate."""
    kind: Literal["job"] = "job"
    """What the step is: a Job (the only kind; `maintenance` is a field of its own)."""
    image: str | None = Field(default=None, pattern=IMAGE, max_length=512)
    """Image with its tag or digest; by default the component's image at the release's
    tag, so migrations ship with the release and a rollback's down-migration runs the
    image of the release being rolled back."""
    command: tuple[str, ...] = ()
    """Entrypoint (the image's when empty)."""
    args: tuple[str, ...] = ()
    """Arguments."""
    env: tuple[EnvVar, ...] = ()
    """Environment variables."""
    env_from: tuple[Name, ...] = ()
    """Secrets whose every key becomes an environment variable (`envFrom.secretRef`)."""
    timeout: Duration = Field(default_factory=lambda: parse_duration("10m"))
    """How long the Job may run in all (its `activeDeadlineSeconds`)."""
    backoff_limit: int = Field(default=0, ge=0, le=10)
    """Retries after a failed attempt (0: a migration is not re-run half applied)."""
    ttl_seconds_after_finished: int | None = Field(default=None, ge=60)
    """Seconds after it finished that Kubernetes deletes the Job (its outcome is kept in
    the release's record); kept when unset."""
    reversible: bool = True
    """false: what it does cannot be undone (a destructive migration): a release that ran
    it is never rolled back automatically; relctl recommends rolling forward."""

    @model_validator(mode="after")
    def _timeout(self) -> JobStep:
        if not timedelta(seconds=1) <= self.timeout <= MAX_TIMEOUT:
            raise ValueError("'timeout' must be between 1s and 1d")
        return self


class Maintenance(Model):
    """A boolean FeatureFlag relctl switches on before the component's first step and off
    after its last: through the flag path, so a hand edit of it is drift."""

    flag: Name
    """A FeatureFlag with variants `on` and `off`."""


class Steps(Model):
    """Steps around a component's rollout."""

    pre_rollout: tuple[JobStep, ...] | None = None
    """Before the image changes, in order (e.g. backup, migrate)."""
    post_rollout: tuple[JobStep, ...] | None = None
    """After the rollout is complete, in order (e.g. smoke tests); a failure is a
    rollback trigger."""
    on_rollback: tuple[JobStep, ...] | None = None
    """Before a rollback restores the previous image (e.g. migrate down), in order."""
    maintenance: Maintenance | None = None
    """Maintenance mode for the duration of the rollout."""

    @model_validator(mode="after")
    def _unique(self) -> Steps:
        names = [s.name for group in self.groups() for s in group]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"step names must be unique; repeated: {', '.join(twice)}")
        return self

    def groups(self) -> tuple[tuple[JobStep, ...], ...]:
        return tuple(g or () for g in (self.pre_rollout, self.post_rollout, self.on_rollback))

    def over(self, override: Steps | None) -> Steps:
        """These steps with `override`'s lists in place of the ones it gives."""
        if override is None:
            return self
        return self.model_copy(
            update={
                "pre_rollout": _first(override.pre_rollout, self.pre_rollout),
                "post_rollout": _first(override.post_rollout, self.post_rollout),
                "on_rollback": _first(override.on_rollback, self.on_rollback),
                "maintenance": override.maintenance or self.maintenance,
            }
        )


def _first(
    one: tuple[JobStep, ...] | None, other: tuple[JobStep, ...] | None
) -> tuple[JobStep, ...] | None:
    return one if one is not None else other
