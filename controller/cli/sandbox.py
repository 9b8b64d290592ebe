"""`relctl sandbox`: run an emulator in the foreground, for trying relctl or another
client against it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from controller.cli import options

PORT = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)


@click.group("sandbox")
def group() -> None:
    """Emulators of Jira and the Kubernetes API on 127.0.0.1.

    \b
    Example:
      relctl sandbox jira --port 8089 --seed tests/data/jira/shop.yaml
    """


@group.command("jira")
@PORT
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML with users, workflow and projects (versions, issues).",
)
@click.option(
    "--flavor", type=click.Choice(["cloud", "datacenter"]), default="cloud", show_default=True
)
@click.option("--latency", type=float, default=0.0, help="Seconds added to each response.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="PATH:STATUS[:retry-after=S][:times=N]",
    help="Answer the next N requests whose path contains PATH ('*': any) with STATUS, "
    "e.g. 'search:429:retry-after=2:times=3' (repeatable).",
)
def jira(
    port: int, seed: Path | None, flavor: str, latency: float, faults: tuple[str, ...]
) -> None:
    """Serve a stateful Jira REST emulator until interrupted.

    Without --seed it knows no projects, and only its default user may call it: Basic
    sandbox@relctl.local with the token sandbox-token (Data Center: that token as a
    Bearer). The seed format: schemas/sandbox/jira-seed.schema.json.

    \b
    Examples:
      relctl sandbox jira --port 8089 --seed tests/data/jira/shop.yaml
      relctl sandbox jira --flavor datacenter --fault /rest/api/2/search:503
    """
    from controller.sandbox.jira import JiraSandbox
    from controller.sandbox.jira_state import DEFAULT_USER

    sandbox = JiraSandbox(flavor, port=port, latency=latency)
    if seed is not None:
        sandbox.state.seed_file(seed)
    for spec in faults:
        try:
            sandbox.inject_spec(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fault") from None
    sandbox.start()
    api = "3" if flavor == "cloud" else "2"
    click.echo(
        f"Jira {flavor} emulator on {sandbox.url} (REST: {sandbox.url}/rest/api/{api}); "
        "Ctrl-C stops it",
        err=True,
    )
    if seed is None:
        email, token = DEFAULT_USER
        click.echo(f"no seed: call it as {email} with the token {token}", err=True)
    options.stop_on_signals().wait()
    sandbox.stop()


@group.command("kube")
@PORT
@click.option(
    "--seed",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of YAML manifests (CRDs, namespaces, Deployments, ...) to create.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a kubeconfig for the emulator here (context 'sandbox').",
)
@click.option(
    "--bad-image",
    "bad_images",
    multiple=True,
    metavar="IMAGE",
    help="Rollouts to IMAGE never become ready (repeatable).",
)
@click.option(
    "--rbac",
    is_flag=True,
    help="Authorize requests by the seeded Roles, ClusterRoles and bindings; the kubeconfig "
    "is the admin's ('kubectl create token NAME -n NS' gives a ServiceAccount's token).",
)
def kube(
    port: int,
    seed: Path | None,
    kubeconfig: Path | None,
    bad_images: tuple[str, ...],
    rbac: bool,
) -> None:
    """Serve a Kubernetes API emulator until interrupted (kubectl works against it).

    \b
    Example:
      relctl sandbox kube --port 6443 --kubeconfig /tmp/kubeconfig --rbac
    """
    import copy

    from controller.sandbox.kube import MINIMAL_FEATUREFLAG_CRD, KubeSandbox

    sandbox = KubeSandbox(port=port, rbac=rbac)
    for image in bad_images:
        sandbox.rollouts.mark_bad(image)
    sandbox.start()
    if seed is not None:
        try:
            _seed_kube(sandbox, seed)
        except click.ClickException:
            sandbox.stop()
            raise
    if not any(t.kind == "FeatureFlag" for t in sandbox.store.types.values()):
        sandbox.apply(copy.deepcopy(MINIMAL_FEATUREFLAG_CRD))  # relctl's flag targets
    if kubeconfig is not None:
        sandbox.kubeconfig(kubeconfig)
    click.echo(
        f"Kubernetes API emulator on {sandbox.url}"
        + (f" (kubeconfig {kubeconfig})" if kubeconfig else "")
        + "; Ctrl-C stops it",
        err=True,
    )
    options.stop_on_signals().wait()
    sandbox.stop()


def _seed_kube(sandbox: Any, seed: Path) -> None:
    """Create every object of the YAML files under `seed` (CRDs first), refused as the API
    server would refuse it; a problem names the file and line of its document."""
    import yaml

    from controller.sandbox.kube_store import StoreError

    documents: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(seed.rglob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        try:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
            values = list(yaml.safe_load_all(text))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise click.ClickException(f"{where}: {exc.problem or exc}") from None
        for node, value in zip(nodes, values, strict=True):
            where = f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
            if value is None:
                continue
            if not isinstance(value, dict) or not value.get("apiVersion") or not value.get("kind"):
                raise click.ClickException(
                    f"{where}: not a Kubernetes object (apiVersion and kind are required)"
                )
            documents.append((where, value))
    documents.sort(key=lambda d: d[1].get("kind") != "CustomResourceDefinition")
    for where, document in documents:
        name = (document.get("metadata") or {}).get("name", "")
        try:
            sandbox.apply(document, validate=True)
        except StoreError as exc:
            raise click.ClickException(
                f"{where}: {document['kind']} {name!r}: {exc.message}"
            ) from None
