"""Approvals verified by git: which commit added each approval, and whose key signed it.

For each approval of a Release (its lines in the manifest, by `git blame`), the commit
that last wrote them must be signed by a key of a principal allowed for its role: git
checks the signature against an allowed-signers file made for that role alone (SSH
keys, `gpg.ssh.allowedSignersFile`), or against the keyring and the role's GPG
fingerprints. Its time is the commit's. It does not count when:

- the approving commit is unsigned, badly signed, or signed by a key not allowed for the
  role (another role's key is named as such);
- the approving commit also changed who may approve (relctl.yaml or the allowed-signers
  file): a key never vouches for itself;
- the approval takes content from elsewhere by a YAML merge key;
- a later commit changed what the release ships (anything but its approvals and control
  fields) without being signed by an approver: the approval was for something else.

Results are cached per release file revision and approvers' configuration: a pass asks
git again only about files that changed.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from controller.adapters.git import LOCAL_TIMEOUT, GitError, run_git
from controller.manifests import yamlsource
from controller.manifests.approvers import ApproverKey, Approvers, allowed_signers
from controller.manifests.documents import Manifest
from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan.approvals import Verified

CONTROL_FIELDS = frozenset({"approvals", "suspend", "abort", "reason", "attempt"})
"""Fields a commit may change after an approval without voiding it."""
_SIGNATURE = "%G?%x1f%GS%x1f%GF%x1f%GP%x1f%cI"
MAX_FILE = 1024 * 1024


@dataclass(frozen=True)
class Signature:
    status: str
    """git's %G?: G good, U good but key not trusted/allowed, B bad, N none, E unknown."""
    signer: str
    fingerprint: str
    primary: str
    at: datetime | None


class ApproverError(GitError):
    """The approvers' configuration cannot be used (an allowed-signers file unreadable)."""


def signer_keys(workdir: Path, approvers: Approvers) -> list[ApproverKey]:
    """The configured keys plus those of the allowed-signers file."""
    keys = list(approvers.keys)
    if approvers.allowed_signers is None:
        return keys
    path = (workdir / approvers.allowed_signers).resolve()
    where = str(approvers.allowed_signers)
    if workdir.resolve() not in path.parents or not path.is_file():
        raise ApproverError(f"allowedSigners {where!r} is not a file of the repository")
    if path.stat().st_size > MAX_FILE:
        raise ApproverError(f"allowedSigners {where!r} is too large")
    try:
        found = allowed_signers(path.read_text(encoding="utf-8"), where)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApproverError(str(exc)) from None
    keys += [ApproverKey.model_validate({"principal": p, "ssh": k}) for _, p, k in found]
    return keys


def _allowed_file(folder: Path, name: str, keys: list[ApproverKey], principals: set[str]) -> Path:
    path = folder / name
    lines = [
        f'{k.principal} namespaces="git" {" ".join((k.ssh or "").split()[:2])}'
        for k in keys
        if k.ssh and k.principal in principals
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Verifier:
    """Verifies approvals in one work tree; keeps results between passes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self._cache: dict[tuple[str, str, str, str], tuple[Verified, ...]] = {}
        self._controls: dict[tuple[str, str, str, str], dict[str, str]] = {}

    def _git(self, *args: str) -> str:
        return run_git(list(args), self.workdir, LOCAL_TIMEOUT)

    def verify(self, state: DesiredState) -> dict[str, tuple[Verified, ...]] | None:
        """Release → its approvals as judged; None when no keys are configured and
        signatures are not required (approvals count as declared)."""
        approvers = state.config.spec.approvers
        if not approvers.configured and not approvers.required:
            return None
        keys = signer_keys(self.workdir, approvers)
        config = hashlib.sha256(
            repr((approvers.model_dump_json(), [k.model_dump_json() for k in keys])).encode()
        ).hexdigest()
        found: dict[str, tuple[Verified, ...]] = {}
        with tempfile.TemporaryDirectory(prefix="relctl-signers-") as folder:
            files = {
                role: _allowed_file(Path(folder), f"role-{n}", keys, set(principals))
                for n, (role, principals) in enumerate(sorted(approvers.roles.items()))
            }
            anyone = _allowed_file(Path(folder), "anyone", keys, {k.principal for k in keys})
            guarded = self._guarded(state)
            for name, manifest in sorted(state.releases.items()):
                if not manifest.model.spec.approvals:
                    continue
                head = self._last_commit(manifest.file)
                key = (name, manifest.file, head, config)
                if key not in self._cache:
                    self._cache[key] = self._release(
                        manifest, approvers, keys, files, anyone, guarded
                    )
                found[name] = self._cache[key]
        if approvers.required:
            return found
        return {name: tuple(_lenient(a) for a in judged) for name, judged in found.items()}

    def controls(self, state: DesiredState) -> dict[str, dict[str, str]]:
        """Release → control field (suspend, abort, attempt) → who set it: "Priya PO
        <priya@shop.example> in 1a2b3c4d5e6f, signed by priya.po" (or unsigned)."""
        approvers = state.config.spec.approvers
        try:
            keys = signer_keys(self.workdir, approvers)
        except GitError:
            keys = list(approvers.keys)
        found: dict[str, dict[str, str]] = {}
        with tempfile.TemporaryDirectory(prefix="relctl-signers-") as folder:
            anyone = _allowed_file(Path(folder), "anyone", keys, {k.principal for k in keys})
            for name, manifest in sorted(state.releases.items()):
                spec = manifest.model.spec
                wanted = [
                    field
                    for field, set_ in (
                        ("suspend", spec.suspend),
                        ("abort", spec.abort),
                        ("attempt", spec.attempt > 1),
                    )
                    if set_
                ]
                if not wanted:
                    continue
                head = self._last_commit(manifest.file)
                key = (name, manifest.file, head, "controls:" + ",".join(wanted))
                if key not in self._controls:
                    self._controls[key] = {
                        field: self._who(manifest, field, anyone, keys) for field in wanted
                    }
                found[name] = self._controls[key]
        return found

    def _who(
        self, manifest: Manifest[Release], field: str, anyone: Path, keys: list[ApproverKey]
    ) -> str:
        first, last, _ = manifest.document.span(("spec", field))
        commit = self._blame(manifest.file, first, last)
        if not commit:
            return "not committed yet"
        author = self._git("log", "-1", "--format=%an <%ae>", commit)
        sig = self._signature(commit, anyone)
        signer = self._gpg_principal(sig, keys) or (sig.signer if sig.status == "G" else "")
        how = f"signed by {signer}" if signer else "unsigned"
        return f"{author} in {commit[:12]}, {how}"

    def _guarded(self, state: DesiredState) -> set[str]:
        """Files that say who may approve: relctl.yaml, the allowed-signers file."""
        guarded = {"relctl.yaml"}
        signers = state.config.spec.approvers.allowed_signers
        if signers is not None:
            guarded.add(str(PurePosixPath(signers)))
        return guarded

    def _last_commit(self, file: str) -> str:
        try:
            return self._git("log", "-1", "--format=%H", "--", file)
        except GitError:
            return ""

    def _release(
        self,
        manifest: Manifest[Release],
        approvers: Approvers,
        keys: list[ApproverKey],
        files: Mapping[str, Path],
        anyone: Path,
        guarded: set[str],
    ) -> tuple[Verified, ...]:
        judged = []
        for index, approval in enumerate(manifest.model.spec.approvals):
            first, last, merged = manifest.document.span(("spec", "approvals", index))
            if merged:
                judged.append(self._no(approval, "it takes fields by a YAML merge key (<<)"))
                continue
            commit = self._blame(manifest.file, first, last)
            if not commit:
                judged.append(self._no(approval, "it is not committed"))
                continue
            judged.append(
                self._judge(manifest, approval, commit, approvers, keys, files, anyone, guarded)
            )
        return tuple(judged)

    @staticmethod
    def _no(approval: Any, why: str) -> Verified:
        return Verified(approval.role, approval.by, False, why, at=approval.at)

    def _blame(self, file: str, first: int, last: int) -> str:
        """The latest commit among those that last wrote lines first..last."""
        try:
            text = self._git("blame", "--porcelain", "-L", f"{first},{last}", "HEAD", "--", file)
        except GitError:
            return ""
        shas = {line.split()[0] for line in text.splitlines() if _is_header(line)}
        if not shas or any(set(s) == {"0"} for s in shas):
            return ""
        if len(shas) == 1:
            return shas.pop()
        ordered = self._git("rev-list", "--no-walk", "--date-order", *sorted(shas)).split()
        return ordered[0] if ordered else ""

    def _signature(self, commit: str, allowed: Path) -> Signature:
        text = self._git(
            "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1", f"--format={_SIGNATURE}",
            commit,
        )  # fmt: skip
        status, signer, fingerprint, primary, at = ([*text.split("\x1f"), "", "", "", "", ""])[:5]
        try:
            when = datetime.fromisoformat(at) if at else None
        except ValueError:
            when = None
        return Signature(status[:1] or "N", signer, fingerprint, primary, when)

    def _gpg_principal(self, signature: Signature, keys: list[ApproverKey]) -> str:
        if signature.status not in ("G", "U") or not (signature.fingerprint or signature.primary):
            return ""
        for key in keys:
            if key.gpg and any(
                f and f.upper().endswith(key.gpg)
                for f in (signature.fingerprint, signature.primary)
            ):
                return key.principal
        return ""

    def _judge(
        self,
        manifest: Manifest[Release],
        approval: Any,
        commit: str,
        approvers: Approvers,
        keys: list[ApproverKey],
        files: Mapping[str, Path],
        anyone: Path,
        guarded: set[str],
    ) -> Verified:
        role = approval.role
        allowed = set(approvers.roles.get(role, ()))
        if not allowed:
            return self._no(approval, f"no approver may approve as {role} (approvers.roles)")
        own = self._signature(commit, files[role]) if role in files else None
        signer = ""
        if own is not None and own.status == "G" and own.signer in allowed:
            signer, fingerprint, at = own.signer, own.fingerprint, own.at
        else:
            gpg = self._gpg_principal(own or self._signature(commit, anyone), keys)
            if gpg and gpg in allowed:
                sig = own or self._signature(commit, anyone)
                signer, fingerprint, at = gpg, sig.fingerprint or sig.primary, sig.at
        if not signer:
            return self._no(approval, self._why_not(commit, role, anyone, keys))
        changed = set(self._git("show", "--name-only", "--format=", commit).splitlines())
        if changed & guarded:
            return self._no(approval, f"its commit {commit[:12]} also changed who may approve")
        later = self._changed_since(manifest, commit, anyone, keys)
        if later:
            return self._no(approval, later)
        return Verified(role, approval.by, True, "", signer, fingerprint, commit, at)

    def _why_not(self, commit: str, role: str, anyone: Path, keys: list[ApproverKey]) -> str:
        sig = self._signature(commit, anyone)
        if sig.status == "N":
            return f"commit {commit[:12]} is not signed"
        if sig.status == "B":
            return f"commit {commit[:12]} has a bad signature"
        other = self._gpg_principal(sig, keys) or (sig.signer if sig.status == "G" else "")
        if other:
            return f"commit {commit[:12]} is signed by {other}, who may not approve as {role}"
        key = sig.fingerprint or "unknown"
        return f"commit {commit[:12]} is signed by a key no approver has ({key})"

    def _changed_since(
        self, manifest: Manifest[Release], commit: str, anyone: Path, keys: list[ApproverKey]
    ) -> str:
        """Why the approval no longer covers the release, or "" (a later commit changed
        what it ships without an approver's signature)."""
        try:
            later = self._git("rev-list", f"{commit}..HEAD", "--", manifest.file).split()
        except GitError:
            return ""
        for sha in later:
            sig = self._signature(sha, anyone)
            if sig.status == "G" or self._gpg_principal(sig, keys):
                continue
            before, after = self._spec_at(f"{sha}^", manifest), self._spec_at(sha, manifest)
            if before != after:
                return (
                    f"the release changed after it was approved, in {sha[:12]}, "
                    f"{'unsigned' if sig.status == 'N' else 'not signed by an approver'}"
                )
        return ""

    def _spec_at(self, revision: str, manifest: Manifest[Release]) -> object:
        try:
            text = self._git("show", f"{revision}:{manifest.file}")
        except GitError:
            return None
        try:
            documents = yamlsource.parse(text)
        except yamlsource.YamlProblem:
            return "unparseable"
        for document in documents:
            data = document.data
            if (
                isinstance(data, dict)
                and data.get("kind") == "Release"
                and isinstance(data.get("metadata"), dict)
                and data["metadata"].get("name") == manifest.name
            ):
                spec = data.get("spec")
                if isinstance(spec, dict):
                    return {k: v for k, v in spec.items() if k not in CONTROL_FIELDS}
                return spec
        return None


UNSIGNED = ("is not signed", ", unsigned", "it is not committed")


def _lenient(approval: Verified) -> Verified:
    """With `requireSignatures: false`: an unsigned approval counts, said so; one signed
    by the wrong key still does not (that is a forgery, not a team not ready yet)."""
    if approval.counted or not approval.why.endswith(UNSIGNED):
        return approval
    return replace(approval, counted=True, why=f"{approval.why}; counted: signatures not required")


def _is_header(line: str) -> bool:
    parts = line.split()
    return (
        len(parts) >= 3
        and len(parts[0]) in (40, 64)
        and all(c in "0123456789abcdef" for c in parts[0])
    )
