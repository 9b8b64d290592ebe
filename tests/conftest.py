"""Shared fixtures: the repository root and a fixed instant for time-dependent checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def repo() -> Path:
    return REPO
