"""The safe YAML layer: core-schema scalars, merges, positions and hostile input."""

from __future__ import annotations

import time

import pytest

from controller.manifests import yamlsource
from controller.manifests.yamlsource import YamlProblem, parse


def test_core_schema_keeps_yaml11_surprises_as_text() -> None:
    [doc] = parse("a: [no, on, yes, off, 1:30, 2026-01-01, 0777, 012]\n")
    assert doc.data == {"a": ["no", "on", "yes", "off", "1:30", "2026-01-01", 777, 12]}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("0x1f", 31),
        ("0o17", 15),
        ("-3", -3),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("'2.10'", "2.10"),
        ("2.10", 2.1),
        ("!!str 5", "5"),
    ],
)
def test_scalars(text: str, value: object) -> None:
    [doc] = parse(f"v: {text}\n")
    assert doc.data == {"v": value}


def test_merge_keys_and_their_positions() -> None:
    [doc] = parse("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n")
    assert doc.data == {"base": {"x": 1, "y": 2}, "thing": {"x": 1, "y": 3}}
    assert doc.position(("thing", "x")) == (1, 14)  # found through the merge
    assert doc.position(("thing", "y"), key=True) == (4, 3)


def test_multi_document_positions() -> None:
    docs = parse("a: 1\n---\nb:\n  - c: 2\n")
    assert [d.data for d in docs] == [{"a": 1}, {"b": [{"c": 2}]}]
    assert docs[1].position(("b", 0, "c")) == (4, 8)
    assert docs[1].position(("b", 0, "missing")) == (4, 5)  # deepest node that exists


def test_billion_laughs_is_rejected_quickly() -> None:
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    started = time.perf_counter()
    with pytest.raises(YamlProblem) as problem:
        parse(text)
    assert problem.value.code == "RC003"
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "text",
    ["[" * 200_000 + "]" * 200_000, "- " * 200_000 + "x", "{a: " * 100_000 + "1" + "}" * 100_000],
)
def test_deep_nesting_never_reaches_the_recursive_composer(text: str) -> None:
    # Without the pre-scan libyaml's composer overflows the C stack and kills the process.
    with pytest.raises(YamlProblem) as problem:
        parse(text)
    assert problem.value.code == "RC011"


def test_duplicate_key_names_its_path() -> None:
    with pytest.raises(YamlProblem) as problem:
        parse("spec:\n  items:\n    - name: a\n      name: b\n")
    assert (problem.value.code, problem.value.line, problem.value.column) == ("RC002", 4, 7)
    assert problem.value.path == ("spec", "items", 0, "name")


def test_the_c_parser_is_in_use() -> None:
    # The benchmark's figures assume libyaml; fail loudly if a platform lacks it.
    assert yamlsource.yaml.__with_libyaml__
