"""`relctl schema export`: write the JSON Schemas generated from the models."""

from __future__ import annotations

from pathlib import Path

import click

from controller.manifests import schemas


@click.group("schema")
def group() -> None:
    """JSON Schemas of the manifest API."""


@group.command("export")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Directory to write.",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if the directory differs from the models."
)
def export(output_dir: Path, check: bool) -> None:
    """Generate schemas/*.schema.json from the models (Draft 2020-12)."""
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
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in generated.items():
        (output_dir / name).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(generated)} schemas to {output_dir} ({len(stale)} changed)")
