"""Resolving secret references (`{env: NAME}` or `{file: PATH}`) at the edge. The value
is returned to the caller and never logged or put in an error message."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from controller.adapters.errors import SecretError
from controller.manifests.config import SecretRef


def describe(ref: SecretRef) -> str:
    """Where a secret comes from, for messages: '$NAME' or 'file PATH'."""
    return f"${ref.env}" if ref.env else f"file {ref.file}"


def resolve(ref: SecretRef, env: Mapping[str, str]) -> str:
    if ref.env is not None:
        value = env.get(ref.env)
        if not value:
            raise SecretError(f"the environment variable {ref.env} is not set")
        return value.strip()
    assert ref.file is not None
    try:
        value = Path(ref.file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"cannot read the secret file {ref.file}: {exc.strerror}") from None
    if not value:
        raise SecretError(f"the secret file {ref.file} is empty")
    return value
