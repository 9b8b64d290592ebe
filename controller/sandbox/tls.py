"""A self-signed certificate for an emulator on 127.0.0.1, made by the `openssl` command
(kubectl sends a bearer token only over TLS)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from controller.errors import Disposition, RelctlError


def self_signed() -> tuple[Path, Path]:
    """(certificate, key) in a fresh temporary directory, valid for 127.0.0.1 and
    localhost for two days."""
    folder = Path(tempfile.mkdtemp(prefix="relctl-sandbox-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=relctl-sandbox",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise RelctlError(
            f"cannot make the emulator's TLS certificate with openssl: {exc}",
            disposition=Disposition.STALLED,
        ) from None
    return cert, key
