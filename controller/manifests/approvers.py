"""Who may approve what, and with which key: `spec.approvers` of relctl.yaml.

An approval in a Release counts only when the commit that added it is signed by a key of
a principal allowed for its role (git verifies it: `gpg.ssh.allowedSignersFile` for SSH
keys, the keyring for GPG ones). Keys are listed here (`keys`) or in an allowed-signers
file in the repository (`allowedSigners`, the format `ssh-keygen -Y verify` reads).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

from pydantic import Field, model_validator

from controller.manifests.models import Model
from controller.manifests.types import Name, RelativePath

SSH_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
PRINCIPAL = r"^[A-Za-z0-9][-A-Za-z0-9._@+]{0,127}$"
GPG_FINGERPRINT = r"^(?:[0-9A-F]{16}|[0-9A-F]{40}|[0-9A-F]{64})$"


def ssh_key_problem(text: str) -> str | None:
    """Why `text` is not an SSH public key line (`TYPE BASE64 [comment]`), or None."""
    parts = text.split()
    if len(parts) < 2:
        return "needs a key type and its base64 body, e.g. 'ssh-ed25519 AAAAC3Nz…'"
    kind, body = parts[0], parts[1]
    if kind not in SSH_TYPES:
        return f"{kind!r} is not an SSH key type ({', '.join(SSH_TYPES[:3])}, …)"
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return "its body is not base64"
    if len(blob) < 4:
        return "its body is too short to be a key"
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4 or blob[4 : 4 + length].decode(errors="replace") != kind:
        return f"its body is not an {kind} public key"
    return None


def allowed_signers(text: str, where: str) -> list[tuple[int, str, str]]:
    """(line, principal, key) for each principal of each line of an allowed-signers file
    (`principals [options] TYPE BASE64 [comment]`); ValueError names the bad line."""
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        at = next((i for i, f in enumerate(fields) if f in SSH_TYPES), None)
        if at is None or at == 0 or at + 1 >= len(fields):
            raise ValueError(f"{where}:{number}: no principal and public key on the line")
        key = " ".join(fields[at : at + 2])
        if problem := ssh_key_problem(key):
            raise ValueError(f"{where}:{number}: {problem}")
        for principal in fields[0].split(","):
            if not re.match(PRINCIPAL, principal):
                raise ValueError(f"{where}:{number}: {principal!r} is not a principal name")
            found.append((number, principal, key))
    return found


class ApproverKey(Model):
    """A principal (as git reports the signer) and the public key it signs with."""

    principal: str = Field(pattern=PRINCIPAL)
    """The signer's name, e.g. priya.po (the first field of an allowed-signers line)."""
    ssh: str | None = None
    """An SSH public key: `ssh-ed25519 AAAA… [comment]`."""
    gpg: str | None = Field(default=None, pattern=GPG_FINGERPRINT)
    """A GPG key's fingerprint (or long id), upper-case hex; the key itself must be in the
    controller's keyring (GNUPGHOME)."""

    @model_validator(mode="after")
    def _one_key(self) -> ApproverKey:
        if (self.ssh is None) == (self.gpg is None):
            raise ValueError("give one key: 'ssh' (a public key line) or 'gpg' (a fingerprint)")
        if self.ssh is not None and (problem := ssh_key_problem(self.ssh)):
            raise ValueError(f"'ssh' is not a public key: {problem}")
        return self


class Approvers(Model):
    """Who may approve for which role, and the keys their approval commits are signed
    with."""

    roles: dict[Name, tuple[str, ...]] = Field(default_factory=dict)
    """Role → the principals who may approve for it."""
    keys: tuple[ApproverKey, ...] = ()
    """Principals' public keys."""
    allowed_signers: RelativePath | None = None
    """More SSH keys, in a file of the repository (`principal [options] TYPE BASE64`)."""
    require_signatures: bool | None = None
    """Count only signed approvals. Default: yes when any key is configured. `false` lets
    unsigned approvals count, with a warning, for teams not ready yet."""

    @model_validator(mode="after")
    def _principals(self) -> Approvers:
        for role, principals in self.roles.items():
            for principal in principals:
                if not re.match(PRINCIPAL, principal):
                    raise ValueError(f"roles.{role}: {principal!r} is not a principal name")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.keys or self.allowed_signers)

    @property
    def required(self) -> bool:
        return self.configured if self.require_signatures is None else self.require_signatures
