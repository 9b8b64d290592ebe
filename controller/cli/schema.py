"""`relctl schema export`: write the JSON Schemas generated from the models."""

from __future__ import annotations

from pathlib import Path

import click

from controller.cli import output
from controller.manifests import reference, schemas


@click.group("schema")
def group() -> None:
    """JSON Schemas of the manifest API.

    \b
    Example:
      relctl schema export --check
    """


@group.command("export")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Directory to write.",
)
@click.option(
    "-o",
    "legacy_dir",
    type=click.Path(file_okay=False, path_type=Path),
    hidden=True,
    help="Deprecated: --output-dir (-o is the output format elsewhere).",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if the directory differs from the models."
)
def export(output_dir: Path, legacy_dir: Path | None, check: bool) -> None:
    """Generate schemas/*.schema.json from the models (Draft 2020-12).

    \b
    Examples:
      relctl schema export              # schemas/*.schema.json
      relctl schema export --check      # in CI: fail when they drift
    """
    if legacy_dir is not None:
        output.deprecated(f"-o {legacy_dir}", f"--output-dir {legacy_dir}")
        output_dir = legacy_dir
    generated = {name: schemas.dump(schema) for name, schema in schemas.generate().items()}
    stale = [
        name
        for name, text in generated.items()
        if not (output_dir / name).is_file()
        or (output_dir / name).read_text(encoding="utf-8") != text
    ]
    if check:
        for name in stale:
            click.echo(f"{output_dir / name} is out of date; run 'relctl schema export'")
        if stale:
            raise SystemExit(1)
        click.echo(f"{len(generated)} schemas up to date")
        return
    output_dir.mkdir(exist_ok=True)  # its parent must exist: a typo never makes a tree
    for name, text in generated.items():
        (output_dir / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(generated)} schemas to {output_dir} ({len(stale)} changed)")


@group.command("reference")
@click.option(
    "--update",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewrite the generated section of this Markdown file (e.g. README.md).",
)
@click.option("--check", is_flag=True, help="With --update: write nothing, exit 1 if stale.")
def reference_command(target: Path | None, check: bool) -> None:
    """Print the manifest reference (Markdown), or keep a file's copy up to date.

    \b
    Example:
      relctl schema reference --update README.md
    """
    if target is None:
        click.echo(reference.generate(), nl=False)
        return
    current = target.read_text(encoding="utf-8")
    try:
        updated = reference.splice(current)
    except ValueError:
        raise click.UsageError(f"{target} has no generated-reference markers") from None
    if check:
        if updated != current:
            click.echo(f"{target} is out of date; run 'relctl schema reference --update {target}'")
            raise SystemExit(1)
        return
    target.write_text(updated, encoding="utf-8")
