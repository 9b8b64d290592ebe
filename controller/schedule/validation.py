"""Every check on a repository's manifests: loading (schema) diagnostics, semantic checks
and the time-dependent checks, for `relctl validate` and for each reconcile pass.

Reads the manifest files (through `loading`); otherwise pure: `now` is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from controller.manifests import checks, loading
from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.documents import Manifest
from controller.manifests.models import Model
from controller.manifests.state import DesiredState, build_state
from controller.schedule import checks as schedule_checks
from controller.schedule.checks import PER_RELEASE


def build_diagnostics(
    root: Path,
    paths: Sequence[Path],
    now: datetime,
    limits: loading.Limits,
    extra: Callable[[DesiredState], Iterable[Diagnostic]] | None = None,
) -> tuple[list[Diagnostic], int, int]:
    """(diagnostics, manifests checked, files with manifests) for `paths` under `root`;
    `extra`: more checks of each state (the CLI's, which read the records)."""
    result = loading.load(root, paths, limits)
    found = diagnose(result, now)
    if extra is not None:
        found = sorted({*found, *(d for state in result.states for d in extra(state))})
    manifests = sum(len(s.manifests) for s in result.states)
    files = len(
        {m.file for s in result.states for m in s.manifests} | {d.file for d in result.diagnostics}
    )
    return found, manifests, files


def diagnose(result: loading.LoadResult, now: datetime) -> list[Diagnostic]:
    """Every diagnostic of a load: its own, the semantic and the time checks, sorted.
    A reference to a name that a file which could not be read seems to declare is no
    error of its own: the root cause is that file's, which says how many it hid."""
    checked = []
    for state in result.states:
        checked.extend(checks.check(state))
        checked.extend(schedule_checks.check(state, now))
    hidden: dict[str, int] = {}
    kept = []
    for diagnostic in checked:
        cause = _cascade(diagnostic, result.unread)
        if cause is None:
            kept.append(diagnostic)
        else:
            hidden[cause] = hidden.get(cause, 0) + 1
    found = [_with_hidden(d, hidden) for d in result.diagnostics]
    # A file that cannot be read is the root cause of what follows: first.
    return sorted(set(found + kept), key=lambda d: (d.code >= "RC1", d))


_UNDECLARED = re.compile(r"'([^']+)' is not declared")


def _cascade(diagnostic: Diagnostic, unread: Mapping[str, frozenset[str]]) -> str | None:
    """The unreadable file an RC202 probably follows from, or None."""
    if diagnostic.code != "RC202":
        return None
    match = _UNDECLARED.search(diagnostic.message)
    if match is None:
        return None
    return next((f for f, names in sorted(unread.items()) if match.group(1) in names), None)


def _with_hidden(diagnostic: Diagnostic, hidden: Mapping[str, int]) -> Diagnostic:
    count = hidden.get(diagnostic.file, 0)
    if not count or diagnostic.code >= "RC1":
        return diagnostic
    plural = "s" if count > 1 else ""
    more = f"; {count} reference{plural} to what it declares not checked until it is fixed"
    return replace(diagnostic, message=diagnostic.message + more)


def fatal(found: list[Diagnostic]) -> list[Diagnostic]:
    """Errors that keep manifests from driving a pass (see `PER_RELEASE`)."""
    return [d for d in found if d.severity is Severity.ERROR and d.code not in PER_RELEASE]


def without_broken_releases(
    state: DesiredState, errors: list[Diagnostic], now: datetime
) -> tuple[DesiredState, dict[str, Diagnostic]] | None:
    """When every error is in a file holding Release manifests only (one that parsed),
    the state without those releases, and each left-out release's first error — if
    what is left is valid. Anything else (a component, a train, a window, a file that
    did not parse) concerns every release: None."""
    by_file: dict[str, list[Manifest[Model]]] = {}
    for manifest in state.manifests:
        by_file.setdefault(manifest.file, []).append(manifest)
    files = {d.file for d in errors}
    if not all(f in by_file and all(m.kind == "Release" for m in by_file[f]) for f in files):
        return None
    kept = [m for m in state.manifests if m.file not in files]
    reduced = build_state(state.root, kept)
    if fatal(checks.check(reduced) + schedule_checks.check(reduced, now)):
        return None
    first = {d.file: d for d in sorted(errors, reverse=True)}
    broken = {m.name: first[m.file] for f in files for m in by_file[f]}
    return reduced, broken
