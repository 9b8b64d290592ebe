"""Loading desired state from a repository: files → documents → typed manifests.

Every problem becomes a `Diagnostic` naming file, line, column and field; nothing raises
past this module except `RelctlError` for misuse. Files are read defensively: size-limited,
UTF-8 only, no binaries, no symlinks or paths leaving the repository, and the status
directory is never read. Manifests are grouped into *sets*: a directory holding a
`relctl.yaml` is a repository of its own (as each folder of `examples/` is), and references
resolve within a set only.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from controller.manifests import errormap, yamlsource
from controller.manifests.config import ControllerConfig, ControllerConfigSpec
from controller.manifests.diagnostics import Diagnostic, render_path
from controller.manifests.documents import KINDS, Manifest
from controller.manifests.models import Model
from controller.manifests.state import DesiredState, build_state

CONFIG_FILE = "relctl.yaml"
IGNORE_FILE = ".relctlignore"
DEFAULT_MAX_FILE_SIZE = 1024 * 1024
_YAML_SUFFIXES = (".yaml", ".yml")
_API_VERSION = "relctl.dev/v1alpha1"


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE


@dataclass(frozen=True)
class LoadResult:
    """The sets of desired state found, and every diagnostic met while loading them."""

    states: tuple[DesiredState, ...]
    diagnostics: tuple[Diagnostic, ...]
    unread: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """A file that could not be parsed → the names it seems to declare: references to
    them are not reported as undeclared (the file's own error is the cause)."""


@dataclass
class _Set:
    root: Path
    files: list[Path] = field(default_factory=list)


def load(root: Path, paths: Sequence[Path] = (), limits: Limits = Limits()) -> LoadResult:
    """Load the manifests under `paths` (default: the repository's own) inside `root`."""
    root = root.resolve()
    diagnostics: list[Diagnostic] = []
    unread: dict[str, frozenset[str]] = {}
    sets: dict[Path, _Set] = {}
    for path in paths or (root,):
        for file in _expand(root, path, diagnostics):
            set_root = _set_root(root, file)
            sets.setdefault(set_root, _Set(set_root)).files.append(file)
    states = []
    for set_ in sorted(sets.values(), key=lambda s: s.root):
        config = set_.root / CONFIG_FILE
        if config.is_file() and config not in set_.files:
            set_.files.insert(0, config)  # the repository's settings apply to any part of it
        manifests = []
        for file in dict.fromkeys(set_.files):  # de-duplicated, in order
            manifests.extend(_load_file(root, set_.root, file, limits, diagnostics, unread))
        states.append(build_state(_display(root, set_.root) or ".", manifests))
    return LoadResult(tuple(states), tuple(sorted(diagnostics)), unread)


def _display(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix().removeprefix(".")
    except ValueError:
        return str(path)


def _set_root(root: Path, file: Path) -> Path:
    for parent in file.parents:
        if (parent / CONFIG_FILE).is_file():
            return parent
        if parent == root:
            break
    return root


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _expand(root: Path, path: Path, diagnostics: list[Diagnostic]) -> Iterable[Path]:
    """The manifest files a command-line path stands for."""
    absolute = (path if path.is_absolute() else Path.cwd() / path).absolute()
    real = absolute.resolve()
    shown = _display(root, absolute) if _inside(root, absolute) else str(path)
    if not _inside(root, real):
        if absolute.is_symlink() and _inside(root, absolute):
            target = absolute.readlink()
            message = (
                f"symlink pointing outside the repository (to {target}); relctl will not follow it"
            )
            diagnostics.append(Diagnostic(shown, 1, 1, "RC007", message))
        else:
            diagnostics.append(
                Diagnostic(
                    shown,
                    1,
                    1,
                    "RC008",
                    "outside the repository; relctl reads files inside the repository only",
                )
            )
        return
    if real.is_file():
        yield real
        return
    if (real / CONFIG_FILE).is_file() or real == root:
        yield from _set_files(root, real, diagnostics)
        return
    yield from _walk(root, real, _status_dir(root, real), diagnostics)


def _set_files(root: Path, set_root: Path, diagnostics: list[Diagnostic]) -> Iterable[Path]:
    config_file = set_root / CONFIG_FILE
    spec = _peek_config(config_file)
    if config_file.is_file():
        yield config_file
    manifests = (set_root / spec.manifests_path).resolve()
    if not _inside(root, manifests):
        diagnostics.append(
            Diagnostic(
                _display(root, config_file),
                1,
                1,
                "RC008",
                f"manifestsPath {spec.manifests_path!r} leaves the repository",
            )
        )
    elif manifests.is_dir():
        yield from _walk(root, manifests, set_root / spec.git.status_path, diagnostics)


def _status_dir(root: Path, directory: Path) -> Path:
    set_root = _set_root(root, directory / "_")
    return set_root / _peek_config(set_root / CONFIG_FILE).git.status_path


def _peek_config(config_file: Path) -> ControllerConfigSpec:
    """The set's config when it is valid, else defaults (its errors are reported on load)."""
    try:
        text = config_file.read_text(encoding="utf-8")
        docs = yamlsource.parse(text)
        return ControllerConfig.model_validate(docs[0].data).spec
    except (OSError, UnicodeDecodeError, yamlsource.YamlProblem, ValidationError, IndexError):
        return ControllerConfigSpec()


def _ignored(top: Path) -> list[str]:
    """Patterns of `.relctlignore` in a walked directory: YAML that is not a manifest."""
    try:
        lines = (top / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _matches(patterns: list[str], relative: str) -> bool:
    return any(
        fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(relative, p.rstrip("/"))
        for p in patterns
    )


def _walk(root: Path, top: Path, status: Path, diagnostics: list[Diagnostic]) -> Iterable[Path]:
    status = status.resolve() if status.exists() else status
    patterns = _ignored(top)
    for current, dirs, files in os.walk(top, followlinks=False):
        here = Path(current)
        kept = []
        for name in sorted(dirs):
            sub = here / name
            if name.startswith(".") or sub == status:
                continue
            if _matches(patterns, sub.relative_to(top).as_posix() + "/"):
                continue
            if sub.is_symlink():
                if not _inside(root, sub.resolve()):
                    diagnostics.append(
                        Diagnostic(
                            _display(root, sub),
                            1,
                            1,
                            "RC007",
                            "symlink to a directory outside the repository; remove it",
                        )
                    )
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(_YAML_SUFFIXES):
                continue
            if _matches(patterns, (here / name).relative_to(top).as_posix()):
                continue
            yield here / name


_NAME = re.compile(r"""(?:^\s*|[{,]\s*)name:\s*['"]?([A-Za-z0-9][-A-Za-z0-9._]*)""", re.M)


SALVAGED = ("RC001", "RC002")
"""Problems of one document: the file's other documents are still read. (Limits broken,
an alias bomb or nesting too deep, refuse the whole file.)"""
_SEPARATOR = re.compile(r"^(---|\.\.\.)(\s.*)?$")


def _salvage(
    text: str,
) -> tuple[list[yamlsource.ParsedDocument], list[tuple[yamlsource.YamlProblem, str]]] | None:
    """The documents of a file read one by one (split at `---` lines, each kept at its own
    line numbers): those that parse, and the problems of those that do not. None when
    the problem is not one document's (no single document fails alone)."""
    lines = text.split("\n")
    starts = [0] + [n for n, line in enumerate(lines) if n and _SEPARATOR.match(line)]
    documents: list[yamlsource.ParsedDocument] = []
    broken: list[tuple[yamlsource.YamlProblem, str]] = []
    for first, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunk = "\n".join(lines[first:end])
        try:
            documents.extend(yamlsource.parse("\n" * first + chunk))
        except yamlsource.YamlProblem as problem:
            broken.append((problem, chunk))
    return (documents, broken) if broken and len(starts) > 1 else None


def _load_file(
    root: Path,
    set_root: Path,
    file: Path,
    limits: Limits,
    diagnostics: list[Diagnostic],
    unread: dict[str, frozenset[str]] | None = None,
) -> list[Manifest[Model]]:
    shown = _display(root, file)
    text = _read(root, file, shown, limits, diagnostics)
    if text is None:
        return []
    try:
        documents = yamlsource.parse(text)
    except yamlsource.YamlProblem as problem:
        salvaged = _salvage(text) if problem.code in SALVAGED else None
        broken = salvaged[1] if salvaged else [(problem, text)]
        for found, chunk in broken:
            diagnostics.append(
                Diagnostic(
                    shown,
                    found.line,
                    found.column,
                    found.code,
                    found.message,
                    render_path(found.path),
                )
            )
            if unread is not None:
                unread[shown] = unread.get(shown, frozenset()) | frozenset(_NAME.findall(chunk))
        if salvaged is None:
            return []
        documents = salvaged[0]
    is_config_file = file.name == CONFIG_FILE and file.parent == set_root
    manifests = []
    for document in documents:
        if document.data is None:
            continue  # an empty document, e.g. after a trailing '---'
        manifest = _to_manifest(shown, document, is_config_file, diagnostics)
        if manifest is not None:
            manifests.append(manifest)
    return manifests


def _read(
    root: Path, file: Path, shown: str, limits: Limits, diagnostics: list[Diagnostic]
) -> str | None:
    def problem(code: str, message: str, line: int = 1, column: int = 1) -> None:
        diagnostics.append(Diagnostic(shown, line, column, code, message))

    if file.is_symlink() and not _inside(root, file.resolve()):
        problem(
            "RC007",
            f"symlink pointing outside the repository (to {file.readlink()}); "
            "relctl will not follow it",
        )
        return None
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            problem("RC004", "not a regular file")
            return None
        if info.st_size > limits.max_file_size:
            problem(
                "RC004",
                f"file is {info.st_size} bytes; the limit is "
                f"{limits.max_file_size} bytes: split it into several files",
            )
            return None
        with file.open("rb") as handle:
            data = handle.read(limits.max_file_size + 1)
    except OSError as exc:
        problem("RC004", f"cannot read the file: {exc.strerror or exc}")
        return None
    if len(data) > limits.max_file_size:
        problem("RC004", f"file exceeds the limit of {limits.max_file_size} bytes")
        return None
    if b"\x00" in data:
        problem("RC006", "binary file (it contains NUL bytes); manifests are UTF-8 text")
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        problem(
            "RC005",
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line,
            column,
        )
        return None


def _to_manifest(
    shown: str,
    document: yamlsource.ParsedDocument,
    is_config_file: bool,
    diagnostics: list[Diagnostic],
) -> Manifest[Model] | None:
    def problem(
        code: str,
        message: str,
        path: tuple[str | int, ...] = (),
        key: bool = False,
        field_name: str = "",
    ) -> None:
        line, column = document.position(path, key=key)
        diagnostics.append(Diagnostic(shown, line, column, code, message, field_name))

    data = document.data
    if not isinstance(data, dict):
        problem("RC009", "a manifest must be a mapping with apiVersion, kind, metadata and spec")
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if api_version is None or kind is None:
        missing = "apiVersion" if api_version is None else "kind"
        problem("RC101", f"missing required field '{missing}'", field_name=missing)
        return None
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if api_version != _API_VERSION:
        problem(
            "RC105",
            f"unknown apiVersion {api_version!r}; use {_API_VERSION!r}",
            ("apiVersion",),
            field_name="apiVersion",
        )
    if model is None:  # said too when the apiVersion is wrong: one fix, not two rounds
        problem("RC105", errormap.unknown_kind(kind), ("kind",), field_name="kind")
    if model is None or api_version != _API_VERSION:
        return None
    if (kind == "ControllerConfig") != is_config_file:
        message = (
            "ControllerConfig belongs in relctl.yaml at the repository root"
            if kind == "ControllerConfig"
            else f"relctl.yaml holds the ControllerConfig only; move this {kind} under releases/"
        )
        problem("RC010", message, ("kind",), field_name="kind")
        return None
    try:
        instance = model.model_validate(data)
    except ValidationError as exc:
        diagnostics.extend(errormap.diagnostics(shown, document, model, exc))
        return None
    return Manifest(instance, shown, document)
