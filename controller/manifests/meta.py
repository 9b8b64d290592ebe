"""The base of every manifest model, and a manifest's identity."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.manifests.types import Name

ApiVersion = Literal["relctl.dev/v1alpha1"]


class Model(BaseModel):
    """Base of every manifest model: camelCase in YAML, frozen, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


class ObjectMeta(Model):
    """Identity of a manifest."""

    name: Name
    """Unique per kind; a DNS-1123 label, used in file paths and Jira text."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Free-form key/value labels."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Free-form key/value annotations, ignored by relctl."""
