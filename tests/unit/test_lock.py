"""The locked install: every dependency pyproject.toml names is pinned with hashes, and the
container image's runtime lock agrees with the development lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")


def pins(name: str) -> dict[str, str]:
    found = {}
    text = (ROOT / "requirements" / name).read_text()
    for block in text.split("\n"):
        match = PIN.match(block)
        if match:
            found[normal(match[1])] = match[2]
    assert "--hash=sha256:" in text
    return found


def normal(name: str) -> str:
    """A project name as PEP 503 compares them (ruamel.yaml is ruamel-yaml)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def named(requirement: str) -> str:
    return normal(re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0])


def test_every_declared_dependency_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {named(r) for r in project["dependencies"]}
    declared |= {named(r) for r in project["optional-dependencies"]["test"]}
    declared |= {named(r) for r in project["optional-dependencies"]["dev"]} - {"relctl"}
    assert declared - set(pins("lock.txt")) == set()
    assert {named(r) for r in project["dependencies"]} - set(pins("runtime.txt")) == set()


def test_the_runtime_lock_agrees_with_the_development_lock() -> None:
    development, runtime = pins("lock.txt"), pins("runtime.txt")
    assert {k: v for k, v in runtime.items() if development.get(k) != v} == {}
