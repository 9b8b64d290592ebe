"""Benchmark: `relctl validate` against check-jsonschema and the libyaml floor.

Generates N manifests (default 10,000 across 1,000 files) that reference each other the
way a real repository does, then times, each in a fresh process and repeated:

- relctl:           relctl validate (schema + semantic checks)
- check-jsonschema: check-jsonschema --schemafile schemas/relctl.schema.json FILES
                    (the peer a CI would otherwise use: schema only)
- floor:            parsing the same files with yaml.CSafeLoader and nothing else

and reports medians, ratios and peak RSS. Usage:

    .venv/bin/python bench/validate.py [--manifests 10000] [--files 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

COMPONENT = """apiVersion: relctl.dev/v1alpha1
kind: Component
metadata:
  name: svc-{i}
  labels: {{tier: backend}}
spec:
  description: Service number {i}.
  jiraProject: P{p}
  image: registry.example/shop/svc-{i}
  owner: team-{p}
  dependsOn: [{deps}]
  workloads:
    - {{cluster: prod-eu, namespace: ns-{ns}, deployment: svc-{i}, container: app}}
"""
RELEASE = """apiVersion: relctl.dev/v1alpha1
kind: Release
metadata:
  name: rel-{i}
spec:
  version: "{version}"
{when}  components:
    - {{name: svc-{c}, version: 1.{i}.0}}
  approvals:
    - {{role: qa-lead, by: dana, at: "2026-12-04T16:20:00+01:00"}}
  rollback:
    auto: true
    triggers: {{unavailableReplicas: {{abovePercent: 50, for: 5m}}}}
"""
FLAG = """apiVersion: relctl.dev/v1alpha1
kind: FeatureFlag
metadata:
  name: flag-{i}
spec:
  owner: team
  variants: {{"on": true, "off": false}}
  defaultVariant: "off"
  rollout:
    variant: "on"
    stages:
      - {{percent: 10, at: "2027-01-06T10:00:00+01:00"}}
      - {{percent: 100, at: "2027-01-20T10:00:00+01:00"}}
  target: {{cluster: prod-eu, namespace: shop, name: flags}}
  removeBy: 2027-12-31
"""
TRAIN = """apiVersion: relctl.dev/v1alpha1
kind: ReleaseTrain
metadata:
  name: train-{i}
spec:
  timezone: Europe/Berlin
  schedule: {{rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", dtstart: "2026-01-06T09:00:00"}}
  versionFormat: "t{i}-{{year}}.{{seq}}"
  milestones: {{codeFreeze: -8d, goNoGo: -1d, monitoringEnd: +1d}}
"""
WINDOW = """apiVersion: relctl.dev/v1alpha1
kind: BlackoutWindow
metadata:
  name: window-{i}
spec:
  kind: deny
  reason: Maintenance {i}.
  start: "2030-0{m}-01T00:00:00"
  end: "2030-0{m}-02T00:00:00"
  timezone: Europe/Berlin
"""
CONFIG = """apiVersion: relctl.dev/v1alpha1
kind: ControllerConfig
metadata: {name: bench}
spec:
  clusters: {prod-eu: {context: prod-eu}}
"""


def generate(root: Path, manifests: int, files: int) -> list[Path]:
    """A repository of `manifests` documents in `files` files: 40% components, 40%
    releases, 15% flags, the rest trains and windows."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir()  # marks the repository root for relctl
    (root / "relctl.yaml").write_text(CONFIG)
    docs: list[str] = []
    n_comp, n_rel, n_flag = int(manifests * 0.4), int(manifests * 0.4), int(manifests * 0.15)
    n_train = max(1, (manifests - n_comp - n_rel - n_flag) // 2)
    n_win = manifests - n_comp - n_rel - n_flag - n_train
    for i in range(n_comp):
        deps = ", ".join(f"svc-{j}" for j in (i - 1, i - 2) if j >= 0 and j // 50 == i // 50)
        docs.append(COMPONENT.format(i=i, p=chr(65 + i % 26) * 2, ns=chr(97 + i % 26), deps=deps))
    # One release rides each train's 2027-01-05 departure, named as the train names it;
    # the others have their own dates (spread over weekdays of February 2027).
    for i in range(n_rel):
        if i < n_train:
            when = f"  train: train-{i}\n  departure: 2027-01-05\n"
            version = f"t{i}-2027.1"
        else:
            day = 1 + (i % 20) + 2 * ((i % 20) // 5)  # Mon-Fri of four weeks
            when = f'  date: "2027-02-{day:02d}T10:00:00+01:00"\n'
            version = f"v{i}.0"
        docs.append(RELEASE.format(i=i, version=version, when=when, c=i % n_comp))
    docs += [FLAG.format(i=i) for i in range(n_flag)]
    docs += [TRAIN.format(i=i) for i in range(n_train)]
    docs += [WINDOW.format(i=i, m=1 + i % 9) for i in range(n_win)]
    paths = []
    directory = root / "releases"
    directory.mkdir()
    per_file = -(-len(docs) // files)
    for index in range(files):
        chunk = docs[index * per_file : (index + 1) * per_file]
        if chunk:
            path = directory / f"m{index:04d}.yaml"
            path.write_text("---\n".join(chunk))
            paths.append(path)
    return paths


RSS_WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{elapsed} {rss} {result.returncode}")
sys.stderr.write(result.stderr.decode()[-2000:])
"""

FLOOR = (
    "import sys, yaml\n"
    "for name in sys.argv[1:]:\n"
    "    with open(name, encoding='utf-8') as f:\n"
    "        list(yaml.load_all(f.read(), Loader=yaml.CSafeLoader))\n"
)


def measure(command: list[str], repeat: int, cwd: Path) -> tuple[float, float, int]:
    """(median seconds, peak RSS in MiB, exit code) over `repeat` fresh processes."""
    times, peaks, code = [], [], 0
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", RSS_WRAPPER, *command],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed, rss, code_text = out.stdout.split()
        times.append(float(elapsed))
        peaks.append(int(rss) / 1024)
        code = int(code_text)
        if code not in (0,):
            print(out.stderr, file=sys.stderr)
    return statistics.median(times), max(peaks), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    peer = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    validate = [str(BIN / "relctl"), "validate", "--now", "2026-11-23T12:00:00Z"]
    schema = str(REPO / "schemas" / "relctl.schema.json")
    with tempfile.TemporaryDirectory(prefix="relctl-bench-") as tmp:
        multi, single = Path(tmp) / "multi", Path(tmp) / "single"
        paths = [str(p.relative_to(multi)) for p in generate(multi, args.manifests, args.files)]
        # check-jsonschema reads one document per file, so it gets the same manifests
        # one per file; relctl is timed on both layouts.
        single_paths = [
            str(p.relative_to(single)) for p in generate(single, args.manifests, args.manifests)
        ]
        started = time.perf_counter()
        results = {
            "relctl": measure(validate, args.repeat, multi),
            "floor (CSafeLoader)": measure(
                [sys.executable, "-c", FLOOR, *paths], args.repeat, multi
            ),
            "relctl, 1 doc/file": measure(validate, args.repeat, single),
        }
        if peer:
            results["check-jsonschema, 1 doc/file"] = measure(
                [peer, "--schemafile", schema, *single_paths], args.repeat, single
            )
        total = time.perf_counter() - started

    relctl = results["relctl"][0]
    summary = {
        "manifests": args.manifests,
        "files": args.files,
        "repeat": args.repeat,
        "results": {
            k: {"median_s": round(v[0], 3), "peak_rss_mib": round(v[1], 1), "exit": v[2]}
            for k, v in results.items()
        },
        "relctl_vs_floor": round(relctl / results["floor (CSafeLoader)"][0], 2),
    }
    if peer:
        summary["check_jsonschema_vs_relctl"] = round(
            results["check-jsonschema, 1 doc/file"][0] / results["relctl, 1 doc/file"][0], 2
        )
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.manifests} manifests in {args.files} files, median of {args.repeat} runs "
        f"(bench took {total:.0f} s)\n"
    )
    print(f"{'tool':<32}{'median':>10}{'peak RSS':>12}{'exit':>6}")
    for name, (seconds, rss, code) in results.items():
        print(f"{name:<32}{seconds:>9.3f}s{rss:>9.1f} MiB{code:>6}")
    print(f"\nrelctl / floor:           {summary['relctl_vs_floor']:.2f}x (target <= 3x)")
    if peer:
        print(
            f"check-jsonschema / relctl: {summary['check_jsonschema_vs_relctl']:.2f}x "
            "(target >= 2x)"
        )


if __name__ == "__main__":
    main()
