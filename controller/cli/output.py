"""How commands print: `-o/--output FORMAT`, as kubectl, argocd, flux and helm spell it
(`json` and `yaml` wherever there is JSON), `--output-file FILE` where a file is
written, and colour only on a terminal and never with `NO_COLOR` or `--no-color`.

The old spellings work for one more release, with a notice on standard error:
`--format FORMAT`, and `-o FILE` on the commands that took a file there.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click
import yaml


def color(stream: TextIO | None = None) -> bool:
    """Colour: a terminal, and neither $NO_COLOR (https://no-color.org) nor --no-color."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool((stream or sys.stdout).isatty())


def terminal(stream: TextIO | None = None) -> bool:
    """Tables (and, unless NO_COLOR, colour) for a person at a terminal."""
    return bool((stream or sys.stdout).isatty())


def deprecated(old: str, new: str) -> None:
    click.echo(f"relctl: {old} is deprecated and goes in the next release; use {new}", err=True)


def formats(
    choices: Sequence[str], default: str, *, files: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`-o/--output FORMAT` (plus `yaml` when `json` is a choice) and, with `files`,
    `--output-file FILE`. The command receives `fmt` (and `output`, the file or None)."""
    shown = [*choices, *(["yaml"] if "json" in choices and "yaml" not in choices else [])]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(
            *args: Any,
            output_format: str | None,
            legacy_format: str | None,
            output_file: Path | None = None,
            **kwargs: Any,
        ) -> Any:
            fmt, output = _resolve(shown, default, files, output_format, legacy_format, output_file)
            call = {**kwargs, "fmt": fmt, **({"output": output} if files else {})}
            if fmt != "yaml":
                return command(*args, **call)
            return _as_yaml(command, args, {**call, "fmt": "json"}, output)

        params = [
            click.Option(
                ["-o", "--output", "output_format"],
                metavar="|".join(shown),
                envvar="RELCTL_OUTPUT",
                help=f"Output format: {', '.join(shown)} (default {default}; $RELCTL_OUTPUT).",
            ),
            click.Option(
                ["--format", "legacy_format"],
                type=click.Choice(list(choices)),
                hidden=True,
                help="Deprecated: -o/--output.",
            ),
        ]
        if files:
            params.append(
                click.Option(
                    ["--output-file"],
                    type=click.Path(dir_okay=False, path_type=Path),
                    help="Write to FILE instead of standard output.",
                )
            )
        run.__click_params__ = [*getattr(command, "__click_params__", []), *params]  # type: ignore[attr-defined]
        return run

    return decorate


def _resolve(
    choices: Sequence[str],
    default: str,
    files: bool,
    output_format: str | None,
    legacy_format: str | None,
    output_file: Path | None,
) -> tuple[str, Path | None]:
    fmt = output_format
    if fmt is not None and fmt not in choices:
        looks_like_file = "." in fmt or "/" in fmt
        if files and looks_like_file and output_file is None:
            deprecated(f"-o {fmt} (a file)", f"--output-file {fmt}")
            output_file, fmt = Path(fmt), None
        else:
            raise click.BadParameter(
                f"{fmt!r} is not an output format; choose {', '.join(choices)}"
                + ("; write to a file with --output-file" if files else ""),
                param_hint="-o/--output",
            )
    if legacy_format is not None:
        deprecated(f"--format {legacy_format}", f"-o {legacy_format}")
        if fmt is not None and fmt != legacy_format:
            raise click.UsageError(f"-o {fmt} and --format {legacy_format} disagree; give -o")
        fmt = legacy_format
    return fmt or default, output_file


def _as_yaml(
    command: Callable[..., Any], args: Any, kwargs: dict[str, Any], output: Path | None
) -> Any:
    """Run the command for JSON and print (or write) it as YAML instead."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            return command(*args, **kwargs)
    finally:
        if output is not None and output.is_file():
            output.write_text(_yaml_of(output.read_text(encoding="utf-8")), encoding="utf-8")
            sys.stdout.write(buffer.getvalue())
        else:
            sys.stdout.write(_yaml_of(buffer.getvalue()))


def _yaml_of(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text  # not one JSON document: as it was
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
