"""The wheel the Dockerfile installs: built from the sources by pip, it holds the whole
controller package (emulators included, for `relctl sandbox`), its typing marker and the
`relctl` entry point, and nothing of the repository around it."""

from __future__ import annotations

import re
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
        # The dashboard's templates and assets: package data, or the pod serves nothing.
        "controller/web/templates/release.html.j2",
        "controller/web/static/dashboard.css",
        "controller/web/static/dashboard.js",
    ):
        assert module in names, module
    assert not [n for n in names if n.startswith(("tests/", "bench/", "charts/", "releases/"))]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "relctl = controller.cli:main" in text


def test_the_release_build_makes_checked_packages_man_pages_and_the_chart(tmp_path: Path) -> None:
    """scripts/release-build, as the release workflow and CI run it (nothing published)."""
    out = tmp_path / "release"
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "release-build"), str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHON": sys.executable},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout  # twine check
    assert sorted(p.suffix for p in (out / "dist").iterdir()) == [".gz", ".whl"]
    pages = {p.name for p in (out / "man").iterdir()}
    assert {"relctl.1", "relctl-plan.1", "relctl-flags-render.1", "relctl-approve.1"} <= pages
    plan = (out / "man" / "relctl-plan.1").read_text(encoding="utf-8")
    assert plan.startswith('.TH "RELCTL-PLAN" "1"') and "\\fB--base REF\\fR" in plan
    assert [p.name for p in (out / "charts").iterdir()] == ["relctl-0.1.0.tgz"]
    # The documentation site: a page per README section, every local link resolving.
    site = out / "docs"
    assert {"index.html", "the-dashboard.html", "manifest-reference.html"} <= {
        p.name for p in site.iterdir()
    }
    for page in site.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r'(?:href|src)="([^":#]+)(?:#[^"]*)?"', text):
            assert (site / target).exists(), f"{page.name} links to {target}"
    workflow = (REPO / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert "scripts/release-build" in workflow
