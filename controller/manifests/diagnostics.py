"""Diagnostics: what validation reports, as values, with stable codes.

A diagnostic names the file, 1-based line and column, the JSON path of the field and a
message that says how to fix the problem. Codes never change meaning once released;
`CODES` documents each one (the README's table is generated from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


CODES: dict[str, str] = {
    # Reading and parsing files
    "RC001": "YAML syntax error or unsupported YAML construct",
    "RC002": "duplicate key in a mapping",
    "RC003": "YAML aliases expand beyond the limit",
    "RC004": "file too large, or not a regular file",
    "RC005": "file is not valid UTF-8",
    "RC006": "binary file",
    "RC007": "symlink pointing outside the repository",
    "RC008": "path outside the repository",
    "RC009": "document is not a mapping",
    "RC010": "ControllerConfig outside relctl.yaml, or a second one",
    "RC011": "nesting deeper than the limit",
    # Schema
    "RC101": "missing required field",
    "RC102": "unknown field",
    "RC103": "wrong type",
    "RC104": "invalid value",
    "RC105": "unknown apiVersion or kind",
    "RC106": "a setting only the deployment may make (credentials and where they go)",
    # Semantics
    "RC201": "duplicate name within a kind",
    "RC202": "reference to an undeclared object",
    "RC203": "dependsOn cycle",
    "RC204": "release departure is not on its train's schedule",
    "RC205": "milestones out of order",
    "RC206": "invalid Jira version name",
    "RC207": "release dated inside a deny window that applies to it",
    "RC208": "version already used by another release in the same Jira project",
    "RC209": "component listed twice in a release",
    "RC210": "flag variants inconsistent, or a variant name that does not exist",
    "RC211": "flag rollout stages out of order",
    "RC212": "workload claimed by two components",
    "RC213": "absolute window ends before it starts",
    "RC214": "cluster not declared in the ControllerConfig",
    "RC215": "component not riding the release's train",
    "RC216": "train release version differs from the departure's versionFormat name",
    "RC217": "an Analysis naming an argument its use does not have",
    "RC218": "onRollback steps beside a step that is not reversible",
    "RC219": "a maintenance flag that is not an on/off flag of its own",
    "RC220": "a step whose timeout outlasts its release's monitoring or allow window",
    "RC221": "a git method locator naming an image other than the component's",
    "RC222": "a git method workload without a locator, or a locator without the git method",
    "RC223": "an approval for a role no gate of its release asks for",
    "RC224": "an approver without a key, or an allowed-signers file missing or unreadable",
    "RC225": "attempt below the recorded one, or abort on a release not rolling out",
    # Warnings
    "RC301": "feature flag past its removeBy date",
    "RC302": "override has expired",
    "RC303": "custom milestone name close to a standard one",
    "RC304": "a zone without daylight saving or a POSIX-style one, where a region's was meant",
}


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem, located precisely."""

    file: str
    line: int
    column: int
    code: str
    message: str
    field: str = ""
    severity: Severity = Severity.ERROR

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": str(self.severity),
            "field": self.field,
            "message": self.message,
        }


def render_path(path: tuple[str | int, ...]) -> str:
    """`('spec', 'components', 1, 'name')` → `spec.components[1].name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
