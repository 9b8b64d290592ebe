"""Loading a repository: sets, the status directory, ignores, symlinks, encodings."""

from __future__ import annotations

import os
from pathlib import Path

from controller.manifests import loading

COMPONENT = """apiVersion: relctl.dev/v1alpha1
kind: Component
metadata: {{name: {name}}}
spec:
  jiraProject: SHOP
  image: registry.example/{name}
  owner: team
  workloads: [{{cluster: prod, namespace: shop, deployment: {name}, container: app}}]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_status_directory_is_never_read(tmp_path: Path) -> None:
    write(tmp_path / "releases" / "api.yaml", COMPONENT.format(name="api"))
    write(tmp_path / "releases" / "status" / "x.yaml", "not: [valid")
    write(tmp_path / "status" / "x.yaml", "not: [valid")
    write(
        tmp_path / "relctl.yaml",
        "apiVersion: relctl.dev/v1alpha1\nkind: ControllerConfig\n"
        "metadata: {name: c}\nspec:\n  manifestsPath: releases\n  git: {statusPath: "
        "releases/status}\n",
    )
    result = loading.load(tmp_path)
    assert result.diagnostics == ()
    [state] = result.states
    assert list(state.components) == ["api"]
    # Even named explicitly, the status directory is skipped.
    assert loading.load(tmp_path, [tmp_path / "releases"]).diagnostics == ()


def test_directories_with_relctl_yaml_are_separate_sets(tmp_path: Path) -> None:
    for example in ("one", "two"):
        write(
            tmp_path / "examples" / example / "relctl.yaml",
            "apiVersion: relctl.dev/v1alpha1\nkind: ControllerConfig\nmetadata: {name: c}\n",
        )
        write(tmp_path / "examples" / example / "releases" / "c.yaml", COMPONENT.format(name="api"))
    result = loading.load(tmp_path, [tmp_path / "examples"])
    assert result.diagnostics == ()
    assert [s.root for s in result.states] == ["examples/one", "examples/two"]


def test_relctlignore_and_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "examples" / ".relctlignore", "# CI files\nci/\n*.sample.yaml\n")
    write(tmp_path / "examples" / "ci" / "workflow.yml", "on: push\n")
    write(tmp_path / "examples" / "x.sample.yaml", "on: push\n")
    write(tmp_path / "examples" / ".hidden.yaml", "on: push\n")
    write(tmp_path / "examples" / "c.yaml", COMPONENT.format(name="api"))
    result = loading.load(tmp_path, [tmp_path / "examples"])
    assert result.diagnostics == ()
    assert sum(len(s.manifests) for s in result.states) == 1


def test_symlinked_directory_outside_is_reported_and_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.yaml", "x: 1\n")
    repo = tmp_path / "repo"
    (repo / "releases").mkdir(parents=True)
    os.symlink(outside, repo / "releases" / "linked")
    result = loading.load(repo)
    [diagnostic] = result.diagnostics
    assert (diagnostic.code, diagnostic.file) == ("RC007", "releases/linked")


def test_symlink_inside_the_repository_is_fine(tmp_path: Path) -> None:
    target = write(tmp_path / "shared" / "c.yaml", COMPONENT.format(name="api"))
    (tmp_path / "releases").mkdir()
    os.symlink(target, tmp_path / "releases" / "c.yaml")
    result = loading.load(tmp_path)
    assert result.diagnostics == ()
    assert list(result.states[0].components) == ["api"]


def test_path_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    other = write(tmp_path / "other.yaml", COMPONENT.format(name="api"))
    [diagnostic] = loading.load(tmp_path / "repo", [other]).diagnostics
    assert diagnostic.code == "RC008"


def test_bom_and_empty_documents(tmp_path: Path) -> None:
    write(tmp_path / "releases" / "c.yaml", "\ufeff---\n" + COMPONENT.format(name="api") + "---\n")
    result = loading.load(tmp_path)
    assert result.diagnostics == ()
    assert list(result.states[0].components) == ["api"]


def test_fifo_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    os.mkfifo(tmp_path / "releases" / "pipe.yaml")
    [diagnostic] = loading.load(tmp_path).diagnostics
    assert diagnostic.code == "RC004"
