"""The root of relctl's error hierarchy and the classification the loop acts on.

Every layer raises a subclass of `RelctlError`. The class says what the caller should do
next: retry later (transient), requeue after a delay (waiting) or stop and ask a human
(stalled). This module must not import anything from relctl.
"""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    """What the reconcile loop does with an error."""

    TRANSIENT = "transient"
    WAITING = "waiting"
    STALLED = "stalled"


class RelctlError(Exception):
    """Root of every error relctl raises on purpose."""

    disposition: Disposition = Disposition.STALLED
