"""Verifying git webhook deliveries. GitHub signs the raw body with HMAC-SHA256
(`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the shared token as is
(`X-Gitlab-Token`). Both are compared in constant time. Purely computational: it reads
nothing, logs nothing, and never puts the secret or a signature in its answer."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY = 1 << 20
"""Largest delivery accepted (GitHub caps payloads at 25 MB; a push event is far smaller,
and relctl reads nothing from the body but its signature)."""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    provider: str
    reason: str


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> Verdict:
    """Whether a delivery is authentic. `headers` keys must be lower-case."""
    if not secret:
        return Verdict(False, "", "no webhook secret is configured")
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        expected = sign(secret, body)
        if hmac.compare_digest(signature.strip().encode(), expected.encode()):
            return Verdict(True, "github", "signature verified")
        return Verdict(False, "github", "X-Hub-Signature-256 does not match the body")
    token = headers.get("x-gitlab-token")
    if token is not None:
        if hmac.compare_digest(token.encode(), secret.encode()):
            return Verdict(True, "gitlab", "token verified")
        return Verdict(False, "gitlab", "X-Gitlab-Token is wrong")
    return Verdict(False, "", "unsigned: no X-Hub-Signature-256 or X-Gitlab-Token header")
