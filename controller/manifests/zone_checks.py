"""Time zones that are valid but probably not what was meant: `EST`, `MST` and `HST`
are fixed offsets that never observe daylight saving, and the POSIX-style `EST5EDT`
family is kept only for compatibility (RC304, a warning: the named region's zone keeps
a schedule at the same wall-clock time all year)."""

from __future__ import annotations

from collections.abc import Iterator

from controller.manifests.config import ControllerConfig
from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.models import BlackoutWindow, ReleaseTrain
from controller.manifests.state import DesiredState

INSTEAD = {
    "EST": "America/New_York",
    "MST": "America/Denver",
    "HST": "Pacific/Honolulu",
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
}
FIXED = {"EST", "MST", "HST"}


def check(state: DesiredState) -> Iterator[Diagnostic]:
    for manifest in state.manifests:
        model = manifest.model
        if isinstance(model, ControllerConfig | ReleaseTrain | BlackoutWindow):
            zone = model.spec.timezone
            if zone in INSTEAD:
                why = (
                    "is a fixed offset that never observes daylight saving"
                    if zone in FIXED
                    else "is a POSIX-style zone kept for compatibility"
                )
                yield manifest.diagnostic(
                    "RC304",
                    f"'{zone}' {why}: write the region's zone, e.g. '{INSTEAD[zone]}', so "
                    "departures and windows keep their wall-clock time all year",
                    ("spec", "timezone"),
                    severity=Severity.WARNING,
                )
