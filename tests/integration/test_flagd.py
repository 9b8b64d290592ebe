"""Rendered flags are valid flagd flag definitions (checked against flagd's published
schema in ../shared/flagd) and the real OpenFeature flagd provider evaluates them as
intended: a 10% stage serves 10% ± 1 of 10,000 targeting keys, a key always gets the same
variant, and advancing 10% → 50% keeps every key that was on still on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from referencing import Registry, Resource

from controller.manifests import loading
from controller.manifests.state import DesiredState
from controller.plan import flags
from tests.conftest import REPO

FLAGD = REPO.parent / "shared" / "flagd"
KEYS = [f"user-{n}" for n in range(10_000)]
TEN = datetime(2026, 12, 10, 12, tzinfo=UTC)  # new-checkout-flow at 10%
FIFTY = datetime(2026, 12, 12, 12, tzinfo=UTC)  # ... at 50%


def released(name: str) -> bool:
    return True


@pytest.fixture(scope="module")
def state() -> DesiredState:
    return loading.load(REPO).states[0]


def validator() -> Draft7Validator:
    if not FLAGD.exists():
        pytest.fail(f"{FLAGD} is missing: CI runs with ../shared beside the repository")
    schemas = [json.loads((FLAGD / name).read_text()) for name in ("flags.json", "targeting.json")]
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas
    )
    # Enter through a reference so the document's $id sets the base URI (in draft 7 an $id
    # beside a root $ref is ignored) and its "./targeting.json" resolves.
    return Draft7Validator({"$ref": schemas[0]["$id"]}, registry=registry)


@pytest.mark.parametrize("at", [TEN, FIFTY, datetime(2027, 2, 1, tzinfo=UTC)])
def test_rendered_documents_match_flagds_schema(state: DesiredState, at: datetime) -> None:
    check = validator()
    documents = [flags.render_all(state, at, released), *flags.render(state, at, released).values()]
    for document in documents:
        errors = list(check.iter_errors(document))
        assert errors == [], errors[0].message if errors else ""
    broken = {"flags": {"x": {"state": "ON", "variants": {"a": True}, "defaultVariant": "a"}}}
    assert list(check.iter_errors(broken))  # the check can fail


@pytest.fixture
def evaluate(tmp_path: Path) -> Iterator[Any]:
    """Evaluate a flagd document with the real provider (in-process, file resolver)."""
    providers: list[FlagdProvider] = []

    def run(document: dict[str, Any], flag: str, default: Any) -> list[Any]:
        path = tmp_path / f"flags-{len(providers)}.json"
        path.write_text(json.dumps(document))
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE, offline_flag_source_path=str(path)
        )
        providers.append(provider)
        api.set_provider_and_wait(provider)
        client = api.get_client()
        getter = client.get_boolean_value if isinstance(default, bool) else client.get_string_value
        return [getter(flag, default, EvaluationContext(targeting_key=key)) for key in KEYS]

    yield run
    for provider in providers:
        provider.shutdown()
    api.clear_providers()


def test_ten_percent_then_fifty(state: DesiredState, evaluate: Any) -> None:
    at_ten = evaluate(flags.render_all(state, TEN, released), "new-checkout-flow", False)
    assert 900 <= sum(at_ten) <= 1100  # 10% ± 1 percentage point of 10,000 keys
    again = evaluate(flags.render_all(state, TEN, released), "new-checkout-flow", False)
    assert again == at_ten  # every key keeps its variant
    at_fifty = evaluate(flags.render_all(state, FIFTY, released), "new-checkout-flow", False)
    assert 4900 <= sum(at_fifty) <= 5100
    assert all(later for earlier, later in zip(at_ten, at_fifty, strict=True) if earlier)


def test_gated_rollout_serves_the_default_until_released(
    state: DesiredState, evaluate: Any
) -> None:
    document = flags.render_all(state, FIFTY, lambda name: False)
    assert evaluate(document, "new-checkout-flow", True).count(False) == len(KEYS)


def test_string_variants(state: DesiredState, evaluate: Any) -> None:
    at = datetime(2027, 1, 7, tzinfo=UTC)  # search-ranking at 20%
    values = evaluate(flags.render_all(state, at, released), "search-ranking", "?")
    assert set(values) == {"bm25", "ltr-v2"}
    assert 1900 <= values.count("ltr-v2") <= 2100
