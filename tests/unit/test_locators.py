"""A workload's image in an environment repository's file, in the three forms people keep
it: read, and rewritten in place with every other byte (comments, quotes, indentation,
other documents) unchanged; a file whose shape changed is refused, naming it."""

from __future__ import annotations

import pytest
import yaml

from controller.adapters.locators import LocatorError, read, write
from controller.manifests.deploy import Locator

IMAGE = "registry.shop.example/shop/storefront"

KUSTOMIZATION = """\
# The production overlay: images are promoted here.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: registry.shop.example/shop/catalog
    newTag: "2.3.1"  # catalog's
  - name: registry.shop.example/shop/storefront
    newTag: 4.2.0   # promoted by relctl
"""
VALUES = """\
replicaCount: 3
image:
  repository: registry.shop.example/shop/storefront
  # the tag the chart deploys
  tag: '4.2.0'
  pullPolicy: IfNotPresent
"""
MANIFESTS = """\
apiVersion: v1
kind: Service
metadata: {name: storefront}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: envoyproxy/envoy:v1.30
      - name: web
        image: registry.shop.example/shop/storefront:4.2.0 # web
"""


def at(**fields: str) -> Locator:
    return Locator.model_validate(fields)


FORMS = [
    (at(file="k.yaml", kustomizeImage=IMAGE), KUSTOMIZATION,
     "    newTag: 4.2.1   # promoted by relctl\n"),
    (at(file="v.yaml", helmKey="image.tag"), VALUES, "  tag: '4.2.1'\n"),
    (at(file="d.yaml", container="web"), MANIFESTS,
     "        image: registry.shop.example/shop/storefront:4.2.1 # web\n"),
]  # fmt: skip


@pytest.mark.parametrize(("locator", "text", "changed"), FORMS, ids=["kustomize", "helm", "yaml"])
def test_one_value_changes_and_nothing_else(locator: Locator, text: str, changed: str) -> None:
    assert read(text, locator, IMAGE, "f") == f"{IMAGE}:4.2.0"
    after = write(text, locator, IMAGE, f"{IMAGE}:4.2.1", "f")
    assert read(after, locator, IMAGE, "f") == f"{IMAGE}:4.2.1"
    before_lines, after_lines = text.splitlines(keepends=True), after.splitlines(keepends=True)
    differ = [(b, a) for b, a in zip(before_lines, after_lines, strict=True) if a != b]
    assert [a for _, a in differ] == [changed]
    # Written back, it is the original again, byte for byte (its quotes kept).
    assert write(after, locator, IMAGE, f"{IMAGE}:4.2.0", "f") == text


def test_a_tag_yaml_would_read_as_a_number_is_quoted() -> None:
    locator = at(file="v.yaml", helmKey="image.tag")
    plain = VALUES.replace("'4.2.0'", "4.2.0")
    after = write(plain, locator, IMAGE, f"{IMAGE}:5.0", "v.yaml")
    assert '  tag: "5.0"\n' in after
    assert read(after, locator, IMAGE, "v.yaml") == f"{IMAGE}:5.0"


@pytest.mark.parametrize("tag", ["on", "no", "y", "0o17", "1_000"])
def test_a_tag_yaml_1_1_would_read_as_another_type_is_quoted(tag: str) -> None:
    """kubectl and most GitOps agents read YAML 1.1, where `on` is true and `no` false."""
    locator = at(file="v.yaml", helmKey="image.tag")
    plain = VALUES.replace("'4.2.0'", "4.2.0")
    after = write(plain, locator, IMAGE, f"{IMAGE}:{tag}", "v.yaml")
    assert f'  tag: "{tag}"\n' in after
    assert yaml.safe_load(after)["image"]["tag"] == tag


def test_a_kustomize_entry_without_a_tag_gets_one_under_its_name() -> None:
    text = "images:\n  - name: registry.shop.example/shop/storefront\n    newName: r.example/sf\n"
    locator = at(file="k.yaml", kustomizeImage=IMAGE)
    assert read(text, locator, IMAGE, "k.yaml") is None
    after = write(text, locator, IMAGE, "r.example/sf:7", "k.yaml")
    assert after == (
        'images:\n  - name: registry.shop.example/shop/storefront\n    newTag: "7"\n'
        "    newName: r.example/sf\n"
    )
    assert read(after, locator, IMAGE, "k.yaml") == "r.example/sf:7"


@pytest.mark.parametrize(
    ("locator", "text", "message"),
    [
        (at(file="k.yaml", kustomizeImage=IMAGE), "images: []\n", "no images entry named"),
        (at(file="k.yaml", kustomizeImage=IMAGE),
         f"images:\n  - name: {IMAGE}\n    digest: sha256:abc\n", "pins a digest"),
        (at(file="v.yaml", helmKey="image.tag"), "image:\n  repository: x\n", "no key image.tag"),
        (at(file="d.yaml", container="api"), MANIFESTS, "no Deployment container api"),
        (at(file="v.yaml", helmKey="image.tag"), "image: [unclosed\n", "is not YAML"),
    ],
    ids=["entry-gone", "digest", "key-gone", "container-gone", "not-yaml"],
)  # fmt: skip
def test_a_file_that_changed_shape_is_refused_naming_it(
    locator: Locator, text: str, message: str
) -> None:
    with pytest.raises(LocatorError, match=message) as refused:
        write(text, locator, IMAGE, f"{IMAGE}:1", "env/prod/file.yaml")
    assert "env/prod/file.yaml" in str(refused.value)


def test_an_image_of_another_repository_is_refused() -> None:
    locator = at(file="v.yaml", helmKey="image.tag")
    with pytest.raises(LocatorError, match="is not an image of"):
        write(VALUES, locator, IMAGE, "evil.example/x:1", "v.yaml")
