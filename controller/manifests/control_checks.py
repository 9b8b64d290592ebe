"""Semantic checks of approvals and approvers: an approval for a role no gate of its
release asks for (RC223); approvers a key cannot be found for, and an allowed-signers file
that is missing, outside the repository or unreadable (RC224).

`approvers` reads the allowed-signers file, confined to the repository, so it is run by
`relctl validate` (which knows where the repository is), with the checks that need the
records (`attempt` going down, `abort` before a rollout). The controller reports the same
problems when it verifies approvals.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

from controller.manifests.approvers import allowed_signers
from controller.manifests.config import ControllerConfig
from controller.manifests.diagnostics import Diagnostic
from controller.manifests.state import DesiredState

MAX_SIGNERS_FILE = 1024 * 1024


def check(state: DesiredState) -> Iterator[Diagnostic]:
    yield from _roles(state)


def _roles(state: DesiredState) -> Iterator[Diagnostic]:
    for manifest in state.releases.values():
        spec = manifest.model.spec
        if not spec.approvals:
            continue
        gates = spec.gates
        train = state.trains.get(spec.train) if spec.train else None
        if gates is None and train is not None:
            gates = train.model.spec.gates
        asked = tuple(gates.approvals.roles) if gates is not None and gates.approvals else ()
        for index, approval in enumerate(spec.approvals):
            if approval.role not in asked:
                wanted = (
                    f"its gates ask for {', '.join(asked)}" if asked else "no gate asks for any"
                )
                guess = difflib.get_close_matches(approval.role, list(asked), n=1, cutoff=0.6)
                hint = f"did you mean '{guess[0]}'?" if guess else "a misspelt role never counts"
                yield manifest.diagnostic(
                    "RC223",
                    f"an approval as '{approval.role}', which no gate of this release asks for "
                    f"({wanted}); {hint}",
                    ("spec", "approvals", index, "role"),
                )


def approvers(state: DesiredState, root: Path) -> Iterator[Diagnostic]:
    """RC224, for the repository at `root` (the state's own folder)."""
    config = next(state.of_kind(ControllerConfig), None)
    if config is None:
        return
    approvers = config.model.spec.approvers
    keyed = {k.principal for k in approvers.keys}
    path = ("spec", "approvers", "allowedSigners")
    if approvers.allowed_signers is not None:
        root = root.resolve()
        file = (root / approvers.allowed_signers).resolve()
        where = str(approvers.allowed_signers)
        if root not in file.parents:
            yield config.diagnostic(
                "RC224", f"allowedSigners '{where}' lies outside the repository", path
            )
            return
        if not file.is_file() or file.stat().st_size > MAX_SIGNERS_FILE:
            yield config.diagnostic(
                "RC224",
                f"allowedSigners '{where}' is not a file of the repository (or over 1 MiB)",
                path,
            )
            return
        try:
            keyed |= {p for _, p, _ in allowed_signers(file.read_text(encoding="utf-8"), where)}
        except (ValueError, UnicodeDecodeError) as exc:
            yield config.diagnostic("RC224", f"allowedSigners: {exc}", path)
            return
    if not approvers.configured:
        return
    for role, principals in approvers.roles.items():
        for index, principal in enumerate(principals):
            if principal not in keyed:
                yield config.diagnostic(
                    "RC224",
                    f"'{principal}' may approve as {role} but has no key (approvers.keys or "
                    "the allowedSigners file): their approvals could never count",
                    ("spec", "approvers", "roles", role, index),
                )
