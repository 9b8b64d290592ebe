"""Property tests: the loader never raises anything but its own error type, whatever the
input; durations round-trip."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.manifests import loading
from controller.manifests.types import format_duration, parse_duration
from controller.manifests.yamlsource import YamlProblem, parse

YAMLISH = st.text(
    alphabet=st.sampled_from(
        [*list("abck: -[]{},&*!|>'\"#\n\t 0123.~<@%?"), "é", "\x00", "\ufeff", "\x85"]
    ),
    max_size=200,
)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
def test_parse_raises_only_yaml_problems(text: str) -> None:
    try:
        parse(text)
    except YamlProblem as problem:
        assert problem.line >= 1 and problem.column >= 1


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | YAMLISH.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_loader_turns_any_bytes_into_diagnostics(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "releases").mkdir(exist_ok=True)
    (tmp_path / "releases" / "m.yaml").write_bytes(data)
    result = loading.load(tmp_path)
    for diagnostic in result.diagnostics:
        assert diagnostic.file == "releases/m.yaml"
        assert diagnostic.line >= 1 and diagnostic.column >= 1


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-:{}[] \n", max_size=120))
def test_loader_on_manifest_shaped_text(tmp_path: Path, body: str) -> None:
    (tmp_path / "releases").mkdir(exist_ok=True)
    text = f"apiVersion: relctl.dev/v1alpha1\nkind: Release\nmetadata:\n  name: r\nspec: {body}\n"
    (tmp_path / "releases" / "m.yaml").write_text(text)
    loading.load(tmp_path)  # must not raise


@given(st.integers(min_value=-(10**7), max_value=10**7))
def test_durations_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
