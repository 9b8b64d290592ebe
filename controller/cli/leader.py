"""`relctl leader`: take part in leader election on a Lease and report the role held, one
JSON line per change, until SIGTERM or SIGINT (which release the lease). The controller
runs the same elector inside its loop; this command shows and tests it in isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.cli import options
from controller.manifests.config import ClusterConfig


@click.command("leader")
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="kubeconfig file (default $KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", required=True, help="kubeconfig context of the cluster.")
@click.option("--namespace", default="relctl", show_default=True)
@click.option("--lease", "lease_name", default="relctl-controller", show_default=True)
@click.option("--identity", required=True, help="This candidate's name (e.g. the pod name).")
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Lease duration in seconds.",
)
@options.RETRY_OPTION
def command(
    kubeconfig: Path | None,
    context: str,
    namespace: str,
    lease_name: str,
    identity: str,
    duration: float,
    retry: float,
) -> None:
    """Campaign for leadership on a coordination.k8s.io Lease until stopped.

    \b
    Example:
      relctl leader --context prod-eu --identity $(hostname)
    """
    cluster = KubeCluster.connect(
        context,
        ClusterConfig.model_validate(
            {"context": context, **({"kubeconfig": str(kubeconfig)} if kubeconfig else {})}
        ),
    )
    elector = Elector(cluster, namespace, lease_name, identity, duration)
    stop = options.stop_on_signals()
    role: bool | None = None
    while not stop.is_set():
        leading = elector.try_acquire_or_renew()
        if leading != role:
            role = leading
            click.echo(
                json.dumps(
                    {"identity": identity, "leader": leading, "at": datetime.now(UTC).isoformat()}
                ),
                nl=True,
            )
        stop.wait(retry)
    elector.release()
    click.echo(
        json.dumps(
            {
                "identity": identity,
                "leader": False,
                "released": True,
                "at": datetime.now(UTC).isoformat(),
            }
        )
    )
    cluster.close()
