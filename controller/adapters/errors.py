"""Adapter errors, classified: transient (retry later), waiting (requeue after a delay),
stalled (a human must act: bad credentials, missing project). Messages never contain
secrets."""

from __future__ import annotations

from controller.errors import Disposition, RelctlError


class AdapterError(RelctlError):
    """An external system refused or failed."""

    def __init__(
        self,
        message: str,
        *,
        disposition: Disposition = Disposition.STALLED,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.disposition = disposition
        self.retry_after = retry_after


class SecretError(AdapterError):
    """A secret reference could not be resolved (the message names where it looked)."""
