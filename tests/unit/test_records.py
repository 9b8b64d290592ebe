"""Status files round-trip: what relctl writes, it reads back as written."""

from __future__ import annotations

import pytest

from controller.plan.records import ReleaseStatus, from_yaml, to_yaml


@pytest.mark.parametrize(
    "text",
    # Strings PyYAML writes plain (YAML 1.1) that the YAML 1.2 core schema the records
    # are read with takes for numbers, booleans or null: a hex digest such as
    # 5737294242279e01 came back as the float 57372942422790.0, the verdict was judged
    # changed, and a GO was recorded again every pass.
    ["5737294242279e01", "1e5", "0o17", "0x1F", "true", "null", ".5", "+1", "-.inf", ""],
)
def test_a_string_that_looks_like_a_number_comes_back_a_string(text: str) -> None:
    status = ReleaseStatus("r", "1", verdict_digest=text or "x", done=(text,))
    assert from_yaml(to_yaml(status), "status/r.yaml") == status
