"""The wheel the Dockerfile installs: built from the sources by pip, it holds the whole
controller package (emulators included, for `relctl sandbox`), its typing marker and the
`relctl` entry point, and nothing of the repository around it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_package_and_the_entry_point(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=REPO,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("relctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in (
        "controller/__main__.py",
        "controller/py.typed",
        "controller/cli/controller.py",
        "controller/reconcile/server.py",
        "controller/sandbox/kube.py",
    ):
        assert module in names, module
    assert not [n for n in names if n.startswith(("tests/", "bench/", "charts/", "releases/"))]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "relctl = controller.cli:main" in text
