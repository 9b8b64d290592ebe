"""Flags kept in an environment repository's file: a FeatureFlag or ConfigMap manifest,
or flagd's JSON. Read back what is written; only the flags change in a file people keep;
a file without the resource, or of another shape, is refused naming it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from controller.adapters import flagfiles
from controller.adapters.locators import LocatorError
from controller.plan.flags import FlagTarget

REPO = Path(__file__).resolve().parents[2]
FLAGD = REPO.parent / "shared" / "flagd"
DOCUMENT = {
    "$schema": "https://flagd.dev/schema/v0/flags.json",
    "flags": {
        "new-checkout": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "targeting": {"fractional": [["on", 25000], ["off", 75000]]},
            "metadata": {"managedBy": "relctl", "rolloutPercent": 25.0},
        }
    },
}
FEATUREFLAG = FlagTarget("FeatureFlag", "prod", "shop", "shop-flags", "", "env", "flags/f.yaml")
CONFIGMAP = FlagTarget(
    "ConfigMap", "prod", "shop", "shop-flags", "flags.flagd.json", "env", "flags/c.yaml"
)
JSON = FlagTarget("FeatureFlag", "prod", "shop", "shop-flags", "", "env", "flags/shop.flagd.json")
KEPT = """# The shop's flags. relctl writes spec.flagSpec.flags; people keep the rest.
apiVersion: core.openfeature.dev/v1beta1
kind: FeatureFlag
metadata:
  name: shop-flags
  namespace: shop
  annotations:
    team: storefront  # who to ask
spec:
  flagSpec:
    flags: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated, namespace: shop}
data: {colour: blue}
"""


@pytest.mark.parametrize("target", [FEATUREFLAG, CONFIGMAP, JSON], ids=lambda t: t.file)
def test_a_new_file_holds_the_document_and_reads_back(target: FlagTarget) -> None:
    assert flagfiles.read(None, target, "env:x") is None  # no file yet
    text = flagfiles.write(None, target, DOCUMENT, "env:x")
    assert flagfiles.read(text, target, "env:x") == DOCUMENT["flags"]
    assert flagfiles.write(text, target, DOCUMENT, "env:x") == text  # idempotent
    if target is JSON:
        assert json.loads(text) == DOCUMENT
        return
    resource = yaml.safe_load(text)
    assert resource["kind"] == target.kind
    assert resource["metadata"]["name"] == "shop-flags"
    assert resource["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "relctl"}


def test_the_featureflag_written_is_valid_against_the_operators_crd() -> None:
    text = flagfiles.write(None, FEATUREFLAG, DOCUMENT, "env:x")
    crd = yaml.safe_load((FLAGD / "core.openfeature.dev_featureflags.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    jsonschema.validate(yaml.safe_load(text), version["schema"]["openAPIV3Schema"])


def test_only_the_flags_change_in_a_file_people_keep() -> None:
    text = flagfiles.write(KEPT, FEATUREFLAG, DOCUMENT, "env:flags/f.yaml")
    assert text.startswith("# The shop's flags. relctl writes spec.flagSpec.flags;")
    assert "    team: storefront  # who to ask\n" in text
    assert text.endswith("data: {colour: blue}\n")  # the other document, as it was
    before, after = yaml.safe_load_all(KEPT), list(yaml.safe_load_all(text))
    for old, new in zip(before, after, strict=True):
        if new["kind"] == "FeatureFlag":
            assert new["spec"]["flagSpec"]["flags"] == DOCUMENT["flags"]
            new["spec"]["flagSpec"]["flags"] = {}
        assert old == new


def test_a_configmap_holds_flagd_json_under_its_key() -> None:
    text = flagfiles.write(None, CONFIGMAP, DOCUMENT, "env:x")
    held = yaml.safe_load(text)["data"]["flags.flagd.json"]
    assert json.loads(held) == DOCUMENT
    assert "flags.flagd.json: |" in text  # a block people can read


@pytest.mark.parametrize(
    ("target", "text", "named"),
    [
        (FEATUREFLAG, "kind: FeatureFlag\nmetadata: {name: other}\n", "no FeatureFlag named"),
        (FEATUREFLAG, "kind: [unclosed\n", "is not YAML"),
        (JSON, "{not json", "is not JSON"),
        (JSON, '{"flags": []}', "is not a flagd document"),
        (CONFIGMAP, "kind: ConfigMap\nmetadata: {name: shop-flags}\ndata: [1]\n", "not a mapping"),
        (FEATUREFLAG, "x" * (1024 * 1024 + 1), "larger than"),
    ],
)
def test_a_file_of_another_shape_is_refused_naming_it(
    target: FlagTarget, text: str, named: str
) -> None:
    with pytest.raises(LocatorError, match=named) as raised:
        flagfiles.read(text, target, "env:flags/x")
        flagfiles.write(text, target, DOCUMENT, "env:flags/x")
    assert "env:flags/x" in str(raised.value)
