"""`relctl controller`: reconcile continuously, serve health, metrics, the calendar, the
status and the git webhook, with optional leader election. Logs are JSON lines."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

import click

from controller.adapters import secrets
from controller.adapters.git import clone
from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.cli import options
from controller.cli.dashboard import commit_url_option
from controller.errors import RelctlError
from controller.manifests.config import ClusterConfig
from controller.manifests.types import parse_duration
from controller.reconcile import logs
from controller.reconcile.dashboard import Dashboard
from controller.reconcile.loop import Controller, Timing, file_clock, system_clock
from controller.reconcile.passes import Reconciler, config_of
from controller.reconcile.server import Server


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--listen")
    return host or "127.0.0.1", int(port)


def _seconds(value: str | None, hint: str) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint=hint)
    return seconds


@click.command("controller")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="The working clone (default: the enclosing git work tree, or the current directory).",
)
@click.option(
    "--clone",
    "clone_url",
    metavar="URL",
    help="Clone URL into --root first when --root is not a git work tree yet (in a pod).",
)
@click.option("--branch", default="main", show_default=True, help="Branch to clone.")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT of the HTTP endpoints (port 0: any free port, printed at start).",
)
@click.option("--interval", metavar="DURATION", help="Override relctl.yaml's interval (e.g. 30s).")
@click.option(
    "--leader-elect/--no-leader-elect",
    default=False,
    show_default=True,
    help="Campaign on a Lease; only the leader acts. On for more than one replica.",
)
@click.option(
    "--lease-cluster",
    metavar="NAME",
    help="Cluster (of relctl.yaml) holding the Lease; default the first one.",
)
@click.option(
    "--lease-in-cluster",
    is_flag=True,
    help="Hold the Lease through the pod's service account, not a cluster of relctl.yaml.",
)
@click.option(
    "--lease-namespace",
    default=lambda: os.environ.get("POD_NAMESPACE", "default"),
    show_default="$POD_NAMESPACE or default",
)
@click.option("--lease-name", default="relctl-controller", show_default=True)
@click.option(
    "--identity",
    default=lambda: os.environ.get("POD_NAME") or socket.gethostname(),
    show_default="$POD_NAME or the host name",
)
@click.option("--lease-duration", type=click.FloatRange(min=1), default=15.0, show_default=True)
@options.RETRY_OPTION
@click.option(
    "--pass-deadline",
    metavar="DURATION",
    default="10m",
    show_default=True,
    help="How long a pass may act; the actions left past it are planned again next pass.",
)
@click.option(
    "--give-up-after",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Failed passes in a row after which the replica reports not ready and gives its "
    "lease up for a while, so that a standby takes over.",
)
@click.option(
    "--clock-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Simulated clock, for demos and tests: each pass reads its instant from FILE.",
)
@click.option(
    "--dashboard/--no-dashboard",
    default=True,
    show_default=True,
    help="Serve the read-only dashboard at / (basic auth when $RELCTL_DASHBOARD_PASSWORD or "
    "_FILE is set; user $RELCTL_DASHBOARD_USER, default relctl).",
)
@click.option(
    "--commit-url",
    metavar="URL",
    help="Link the dashboard's commit pages to the git host, e.g. "
    "https://git.example/org/repo/commit/{sha}.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def command(
    root: Path | None,
    clone_url: str | None,
    branch: str,
    listen: str,
    interval: str | None,
    leader_elect: bool,
    lease_cluster: str | None,
    lease_in_cluster: bool,
    lease_namespace: str,
    lease_name: str,
    identity: str,
    lease_duration: float,
    retry: float,
    pass_deadline: str,
    give_up_after: int,
    clock_file: Path | None,
    dashboard: bool,
    commit_url: str | None,
    log_level: str,
) -> None:
    """Run the controller: a reconcile pass every interval and at once on a verified git
    webhook (POST /webhook), with backoff after failures. Serves /healthz, /readyz,
    /metrics, /calendar.ics and /api/status. SIGTERM finishes the action under way,
    records, releases the lease and exits 0.

    \b
    Examples:
      relctl controller --listen 127.0.0.1:8080
      relctl controller --clone https://git.example/shop/releases.git --leader-elect
    """
    host, port = _listen(listen)
    if retry * 2 >= lease_duration:
        raise click.BadParameter("must be under half the lease duration", param_hint="--retry")
    workdir = (root or options.find_root(Path.cwd())).resolve()
    if clone_url and not (workdir / ".git").exists():
        clone(clone_url, branch, workdir)
    if not workdir.is_dir():
        raise click.BadParameter(f"{workdir} does not exist", param_hint="--root")
    config = config_of(workdir)
    env = dict(os.environ)
    secrets.optional(secrets.WEBHOOK_SECRET, env)  # a bad setting stops the start-up
    link = commit_url_option(commit_url)
    dashboard_auth(env)  # likewise

    def webhook_secret() -> str | None:
        # Read at each delivery: a rotated Secret file takes effect without a restart.
        return secrets.optional(secrets.WEBHOOK_SECRET, env)

    elector = None
    if leader_elect:
        clusters = dict(config.spec.clusters)
        name = lease_cluster or next(iter(sorted(clusters)), None)
        if lease_in_cluster:
            name = "in-cluster"
            clusters[name] = ClusterConfig(in_cluster=True)
        if name is None or name not in clusters:
            raise click.BadParameter(
                f"{name!r} is not a cluster of relctl.yaml", param_hint="--lease-cluster"
            )
        cluster = KubeCluster.connect(name, clusters[name], env)
        # A renewal that cannot finish well within the lease is a lost lease (client-go's
        # renew deadline), never a hang while the lease lapses under a busy leader.
        cluster.set_timeout(min(5.0, lease_duration / 3), lease_duration / 3)
        elector = Elector(cluster, lease_namespace, lease_name, identity, lease_duration)
    logs.configure(level=getattr(logging, log_level.upper()))
    controller = Controller(
        Reconciler(workdir, env),
        clock=file_clock(clock_file) if clock_file else system_clock,
        elector=elector,
        timing=Timing(
            interval=_seconds(interval, "--interval"),
            retry=retry,
            pass_deadline=_seconds(pass_deadline, "--pass-deadline") or 600.0,
            give_up_after=give_up_after,
            stand_down=max(lease_duration * 4, 30.0),
        ),
        identity=identity,
    )
    try:
        server = Server(
            controller,
            host,
            port,
            webhook_secret,
            dashboard=Dashboard(workdir, link) if dashboard else None,
            auth=lambda: dashboard_auth(env),
        ).start()
    except OSError as exc:
        raise RelctlError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"relctl controller listening on http://{host}:{server.port}", err=True)
    if dashboard:
        click.echo(f"relctl dashboard: http://{host}:{server.port}/", err=True)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: controller.stop())
    try:
        controller.run()
    finally:
        server.stop()


def dashboard_auth(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The dashboard's basic-auth credentials, read at each request (a rotated Secret file
    takes effect without a restart); None: the pages are open (behind a proxy that
    authenticates, or on a trusted network)."""
    password = secrets.optional(secrets.DASHBOARD_PASSWORD, env)
    if password is None:
        return None
    return env.get(secrets.DASHBOARD_USER) or "relctl", password
