"""Adapter errors, classified (see `controller.errors`): transient (retry later),
waiting (requeue after a delay), stalled (a human must act: bad credentials, a missing
project). Messages never contain secrets."""

from __future__ import annotations

from controller.errors import Disposition, RelctlError


class AdapterError(RelctlError):
    """An external system refused or failed."""


class SecretError(AdapterError):
    """A secret reference could not be resolved (the message names where it looked)."""

    disposition = Disposition.STALLED
