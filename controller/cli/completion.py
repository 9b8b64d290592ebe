"""`relctl completion bash|zsh|fish`: the shell's completion script, and completion of
the names a repository declares (releases, components, trains, flags) wherever a command
takes one. The names are read from the manifests of the repository the shell is in,
quietly: a repository that does not load completes nothing rather than printing errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from controller.cli import options

SHELLS = ("bash", "zsh", "fish")


def _names(kind: str) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(ctx: click.Context, _: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from controller.manifests import loading

        root = ctx.params.get("root") or options.find_root(Path.cwd())
        try:
            result = loading.load(Path(root))
        except Exception:  # noqa: BLE001 - completion must never print a traceback
            return []
        found = sorted(
            {m.name for state in result.states for m in state.manifests if m.kind == kind}
        )
        return [CompletionItem(n) for n in found if n.startswith(incomplete)]

    return complete


RELEASES = _names("Release")
COMPONENTS = _names("Component")
TRAINS = _names("ReleaseTrain")
FLAGS = _names("FeatureFlag")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> None:
    """Print the completion script for SHELL; it completes commands, options and the
    release, component, train and flag names of the repository you are in.

    \b
    Examples:
      source <(relctl completion bash)                  # bash, this shell
      relctl completion zsh > "${fpath[1]}/_relctl"     # zsh
      relctl completion fish > ~/.config/fish/completions/relctl.fish
    """
    from controller.cli import cli

    completion = get_completion_class(shell)
    assert completion is not None
    click.echo(completion(cli, {}, "relctl", "_RELCTL_COMPLETE").source())
