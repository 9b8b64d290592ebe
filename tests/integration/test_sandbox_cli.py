"""`relctl sandbox jira` as a real process: it serves the seed until interrupted."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import DATA, REPO


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sandbox_jira_serves_its_seed() -> None:
    port = _free_port()
    relctl = Path(sys.executable).parent / "relctl"
    process = subprocess.Popen(
        [
            str(relctl),
            "sandbox",
            "jira",
            "--port",
            str(port),
            "--seed",
            str(DATA / "jira" / "shop.yaml"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/rest/api/3"
        auth = ("relctl@shop.example", "sandbox-token")
        for _ in range(100):
            try:
                response = httpx.get(f"{url}/project/SHOP/versions", auth=auth)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert [v["name"] for v in response.json()] == ["2026.24", "2026.25"]
        assert httpx.get(f"{url}/myself", auth=("relctl@shop.example", "x")).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"on http://127.0.0.1:{port}" in stderr


def test_sandbox_kube_serves_its_seed_to_kubectl(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    crd = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
    (seed / "crd.yaml").write_text(crd.read_text())
    (seed / "apps.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: 'web:1'}]}\n"
        "---\napiVersion: core.openfeature.dev/v1beta1\nkind: FeatureFlag\n"
        "metadata: {name: flags, namespace: shop}\nspec: {flagSpec: {flags: {}}}\n"
    )
    kubeconfig = tmp_path / "kubeconfig"
    relctl = Path(sys.executable).parent / "relctl"
    process = subprocess.Popen(
        [
            str(relctl),
            "sandbox",
            "kube",
            "--port",
            str(_free_port()),
            "--seed",
            str(seed),
            "--kubeconfig",
            str(kubeconfig),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):
            if kubeconfig.exists():
                break
            time.sleep(0.05)
        kubectl = shutil.which("kubectl")
        assert kubectl, "kubectl is not installed (.ci/run installs it)"
        listed = subprocess.run(
            [
                kubectl,
                "--kubeconfig",
                str(kubeconfig),
                "get",
                "deployments,featureflags",
                "-n",
                "shop",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == [
            "deployment.apps/web",
            "featureflag.core.openfeature.dev/flags",
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_sandbox_kube_refuses_a_bad_seed_naming_file_and_line(tmp_path: Path) -> None:
    """A seed object the API server would refuse, YAML that does not parse, or a document
    that is no Kubernetes object: exit 1, the file, line and column and the API server's
    message, no traceback."""
    relctl = Path(sys.executable).parent / "relctl"
    bad = {
        "deploy.yaml": (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cart, namespace: shop}\n"
            "spec:\n  replicas: two\n  selector: {matchLabels: {app: cart}}\n"
            "  template:\n    metadata: {labels: {app: cart}}\n"
            "    spec: {containers: [{name: cart, image: 'shop/cart:1'}]}\n",
            "deploy.yaml:5:1: Deployment 'cart': Deployment in version \"v1\" cannot be "
            "handled as a Deployment: json: cannot unmarshal string into Go struct field "
            "DeploymentSpec.spec.replicas of type int32",
        ),
        "broken.yaml": ("kind: Namespace\nmetadata:\n\tname: x\n", "broken.yaml:3:1: "),
        "list.yaml": ("- a\n- b\n", "list.yaml:1:1: not a Kubernetes object"),
        "unknown.yaml": (
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
            "unknown.yaml:1:1: Widget 'w': no matches for kind \"Widget\" in version "
            '"example.com/v1"',
        ),
    }
    for name, (text, message) in bad.items():
        seed = tmp_path / name.removesuffix(".yaml")
        seed.mkdir()
        (seed / name).write_text(text)
        done = subprocess.run(
            [str(relctl), "sandbox", "kube", "--port", "0", "--seed", str(seed)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
