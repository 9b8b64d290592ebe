"""What only the deployment decides, read from the process environment (which the chart,
flags or a person's shell set) — never from the repository: the Jira URL credentials are
sent to, the credentials themselves and the webhook secret.

A secret is the value of `NAME`, or the content of the file `NAME_FILE` names (a mounted
Kubernetes Secret). With `RELCTL_SECRETS_DIR` set, such files must lie inside it. Values
are returned to the caller and never logged or put in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from controller.adapters.errors import SecretError

JIRA_URL = "RELCTL_JIRA_URL"
JIRA_EMAIL = "RELCTL_JIRA_EMAIL"
JIRA_TOKEN = "RELCTL_JIRA_TOKEN"  # noqa: S105 - a variable name
WEBHOOK_SECRET = "RELCTL_WEBHOOK_SECRET"  # noqa: S105 - a variable name
DASHBOARD_USER = "RELCTL_DASHBOARD_USER"
DASHBOARD_PASSWORD = "RELCTL_DASHBOARD_PASSWORD"  # noqa: S105 - a variable name
SECRETS_DIR = "RELCTL_SECRETS_DIR"
MAX_SECRET_BYTES = 64 * 1024


def describe(name: str, env: Mapping[str, str]) -> str:
    """Where a secret comes from, for messages: '$NAME' or 'the file in $NAME_FILE'."""
    return f"the file in ${name}_FILE" if env.get(f"{name}_FILE") else f"${name}"


def optional(name: str, env: Mapping[str, str]) -> str | None:
    """The secret `name`, or None when the deployment sets neither NAME nor NAME_FILE."""
    value, file = env.get(name), env.get(f"{name}_FILE")
    if value and file:
        raise SecretError(f"both ${name} and ${name}_FILE are set; set one")
    if value:
        return value.strip()
    if not file:
        return None
    path = Path(file)
    confined = env.get(SECRETS_DIR)
    if confined:
        folder = Path(confined).resolve()
        if folder not in path.resolve().parents:
            raise SecretError(f"${name}_FILE lies outside ${SECRETS_DIR} ({folder})")
    try:
        if path.stat().st_size > MAX_SECRET_BYTES:
            raise SecretError(f"the file in ${name}_FILE is too large to be a secret")
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8"
        raise SecretError(f"cannot read the file in ${name}_FILE: {reason}") from None
    if not text:
        raise SecretError(f"the file in ${name}_FILE is empty")
    return text


def required(name: str, env: Mapping[str, str], purpose: str) -> str:
    found = optional(name, env)
    if found is None:
        raise SecretError(f"{purpose} needs ${name} (or ${name}_FILE) where relctl runs")
    return found


def jira_url(env: Mapping[str, str], given: str | None = None) -> str:
    """The Jira base URL the deployment names ($RELCTL_JIRA_URL, or a flag's `given`)."""
    url = (given or env.get(JIRA_URL) or "").strip()
    if not url:
        raise SecretError(
            f"set ${JIRA_URL} (or --jira-url) to the Jira relctl may send its credentials "
            "to; relctl.yaml's jira.url is not used for that"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SecretError(f"${JIRA_URL} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise SecretError(
            f"${JIRA_URL} carries credentials in the URL; set {JIRA_EMAIL} and {JIRA_TOKEN} instead"
        )
    if any(c.isspace() for c in url):
        raise SecretError(f"${JIRA_URL} contains white space")
    return url.rstrip("/")
