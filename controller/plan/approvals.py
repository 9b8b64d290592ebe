"""Approvals as verified: which of a release's approvals count.

With approvers' keys configured (`spec.approvers`), the shell asks git, for each approval,
which commit added it and whether that commit is signed by a key allowed for the role
(`adapters.approvals`); the planner gets the answers as values (`Observed.approvals`).
Without keys, an approval counts as declared (the review of its pull request is the
approval), unless `requireSignatures` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.manifests.models import Release


@dataclass(frozen=True)
class Verified:
    """One approval of a release, as judged."""

    role: str
    by: str
    counted: bool
    why: str = ""
    """Why it does not count ("unsigned", "signed by a key of another role", …)."""
    signer: str = ""
    """The principal whose key signed the approving commit."""
    fingerprint: str = ""
    commit: str = ""
    """The commit that added the approval."""
    at: datetime | None = None
    """The approving commit's time (a signed approval's time), else the typed one."""

    def describe(self) -> str:
        """ "qa-lead dana.qa signed by dana.qa SHA256:… in 1a2b3c4d5e6f" (the record's form)."""
        if not self.counted:
            return f"{self.role} {self.by} unverified: {self.why}"
        if self.commit:
            return (
                f"{self.role} {self.by} signed by {self.signer} {self.fingerprint} "
                f"in {self.commit[:12]}"
            )
        return f"{self.role} {self.by}" + (f" ({self.why})" if self.why else "")


def declared(release: Release) -> tuple[Verified, ...]:
    """Every approval counted as written (no keys configured)."""
    return tuple(Verified(a.role, a.by, True, at=a.at) for a in release.spec.approvals)


def counted_roles(approvals: tuple[Verified, ...]) -> set[str]:
    return {a.role for a in approvals if a.counted}


def unverified(approvals: tuple[Verified, ...]) -> str:
    """ " (unverified: product-owner unsigned)" for the criteria table, or ""."""
    found = [f"{a.role} {a.why}" for a in approvals if not a.counted]
    return f" (unverified: {'; '.join(found)})" if found else ""
