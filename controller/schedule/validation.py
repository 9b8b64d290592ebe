"""Every check on a repository's manifests: loading (schema) diagnostics, semantic checks
and the time-dependent checks, for `relctl validate` and for each reconcile pass.

Reads the manifest files (through `loading`); otherwise pure: `now` is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from controller.manifests import checks, loading
from controller.manifests.diagnostics import Diagnostic
from controller.schedule import checks as schedule_checks


def build_diagnostics(
    root: Path, paths: Sequence[Path], now: datetime, limits: loading.Limits
) -> tuple[list[Diagnostic], int, int]:
    """(diagnostics, manifests checked, files with manifests) for `paths` under `root`."""
    result = loading.load(root, paths, limits)
    found = diagnose(result, now)
    manifests = sum(len(s.manifests) for s in result.states)
    files = len(
        {m.file for s in result.states for m in s.manifests} | {d.file for d in result.diagnostics}
    )
    return found, manifests, files


def diagnose(result: loading.LoadResult, now: datetime) -> list[Diagnostic]:
    """Every diagnostic of a load: its own, the semantic and the time checks, sorted."""
    found = list(result.diagnostics)
    for state in result.states:
        found.extend(checks.check(state))
        found.extend(schedule_checks.check(state, now))
    return sorted(set(found))
