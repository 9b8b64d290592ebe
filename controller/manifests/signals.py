"""Signals: facts CI commits under `signals/` (test coverage, a security scan, ...) that
go/no-go gates compare with thresholds.

Two layouts, both per release: `signals/<release>.yaml` (a mapping of signal name to a
scalar) and `signals/<release>/<name>` (a file holding one value). Values that read as
numbers or booleans become numbers or booleans; anything else stays text. Files are
bounded in size, must stay inside the repository and are never followed through
symlinks. A bad file is reported, never fatal: its signals read as missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

SignalValue = str | float | bool
MAX_BYTES = 64 * 1024


def _value(raw: object) -> SignalValue | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        try:
            return float(text)
        except ValueError:
            return text
    return None


def _text(path: Path, root: Path, problems: list[str]) -> str | None:
    shown = path.relative_to(root).as_posix()
    if path.is_symlink() or not path.is_file():
        problems.append(f"{shown}: not a regular file; ignored")
        return None
    if path.stat().st_size > MAX_BYTES:
        problems.append(f"{shown}: larger than {MAX_BYTES} bytes; ignored")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{shown}: unreadable ({type(exc).__name__}); ignored")
        return None


def read(
    root: Path, signals_path: str, releases: Iterable[str]
) -> tuple[dict[str, dict[str, SignalValue]], list[str]]:
    """Release → signal name → value, and the problems found (file: message)."""
    root = root.resolve()
    base = (root / signals_path).resolve()
    found: dict[str, dict[str, SignalValue]] = {}
    problems: list[str] = []
    if root not in base.parents or not base.is_dir():
        return found, problems
    for release in sorted(set(releases)):
        values: dict[str, SignalValue] = {}
        for suffix in (".yaml", ".yml", ".json"):
            path = base / f"{release}{suffix}"
            if not path.exists() and not path.is_symlink():
                continue
            text = _text(path, root, problems)
            if text is None:
                continue
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
                problems.append(f"{path.relative_to(root).as_posix()}{where}: not valid YAML")
                continue
            if not isinstance(raw, dict):
                problems.append(
                    f"{path.relative_to(root).as_posix()}: expected a mapping of "
                    "signal name to value"
                )
                continue
            for name, item in raw.items():
                value = _value(item)
                if value is None:
                    problems.append(
                        f"{path.relative_to(root).as_posix()}: signal {name!r} is not a scalar"
                    )
                else:
                    values[str(name)] = value
        folder = base / release
        if folder.is_dir() and not folder.is_symlink():
            for path in sorted(folder.iterdir()):
                text = _text(path, root, problems)
                if text is not None:
                    value = _value(text)
                    if value is not None:
                        values[path.stem] = value
        if values:
            found[release] = values
    return found, problems
