"""Reporters render diagnostics as text for people, JSON for tools, or GitHub workflow
annotations for pull requests. They only format; they decide nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from controller.manifests.diagnostics import Diagnostic, Severity


def _counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    return errors, len(diagnostics) - errors


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def text(
    diagnostics: Sequence[Diagnostic], manifests: int, files: int, color: bool, strict: bool = False
) -> str:
    lines = []
    for d in diagnostics:
        severity = (
            click.style(
                str(d.severity), fg="red" if d.severity is Severity.ERROR else "yellow", bold=True
            )
            if color
            else str(d.severity)
        )
        where = f"{d.file}:{d.line}:{d.column}"
        field = f" {d.field}:" if d.field else ""
        lines.append(f"{where}: {severity} {d.code}{field} {d.message}")
    errors, warnings = _counts(diagnostics)
    checked = f"{_plural(manifests, 'manifest')} in {_plural(files, 'file')}"
    if errors:
        summary = f"✗ {_plural(errors, 'error')}, {_plural(warnings, 'warning')} ({checked})"
    elif warnings and strict:
        summary = f"✗ {_plural(warnings, 'warning')}, which --strict fails on ({checked})"
    elif warnings:
        summary = f"✓ valid with {_plural(warnings, 'warning')} ({checked})"
    else:
        summary = f"✓ valid ({checked})"
    lines.append(summary)
    return "\n".join(lines)


def as_json(diagnostics: Sequence[Diagnostic], manifests: int, files: int, valid: bool) -> str:
    errors, warnings = _counts(diagnostics)
    return json.dumps(
        {
            "valid": valid,
            "errors": errors,
            "warnings": warnings,
            "manifests": manifests,
            "files": files,
            "diagnostics": [d.to_dict() for d in diagnostics],
        },
        indent=2,
    )


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    lines = []
    for d in diagnostics:
        command = "error" if d.severity is Severity.ERROR else "warning"
        title = f"{d.code} {d.field}".strip()
        props = ",".join(
            f"{k}={_escape_property(str(v))}"
            for k, v in (("file", d.file), ("line", d.line), ("col", d.column), ("title", title))
        )
        lines.append(f"::{command} {props}::{_escape_data(d.message)}")
    return "\n".join(lines)
