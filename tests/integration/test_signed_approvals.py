"""Approvals that cannot be forged, over real git and real keys (`ssh-keygen` makes them
here): an approval counts only when the commit that added it is signed by a key allowed
for its role, and while nothing it approved has changed unsigned since. A forged approval
never changes a verdict."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from controller.adapters.approvals import Verifier
from controller.manifests.loading import load
from controller.plan.planner import plan
from controller.plan.records import DecisionKind
from tests.conftest import SHOP
from tests.support.world import at
from tests.unit.test_planner import go_world

RELEASE = "releases/releases/shop-2026-25.yaml"
QA_LINE = '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}\n'


def git(root: Path, *args: str, key: Path | None = None, who: str = "someone") -> str:
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    done = subprocess.run(
        ["git", "-c", f"user.name={who}", "-c", f"user.email={who}@shop.example", *signing, *args],
        cwd=root, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


class Shop:
    def __init__(self, folder: Path) -> None:
        self.root = folder / "shop"
        shutil.copytree(SHOP, self.root)
        self.keys = {}
        for who in ("dana.qa", "priya.po", "mallory"):
            path = folder / who
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(path)],
                check=True,
            )
            self.keys[who] = path
        config = yaml.safe_load((self.root / "relctl.yaml").read_text(encoding="utf-8"))
        config["spec"]["approvers"] = {
            "roles": {"qa-lead": ["dana.qa"], "product-owner": ["priya.po"]},
            "keys": [
                {"principal": who, "ssh": self.public(who)} for who in ("dana.qa", "priya.po")
            ],
        }
        (self.root / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        git(self.root, "init", "-q", "-b", "main")
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "manifests and approvers", who="admin")

    def public(self, who: str) -> str:
        return Path(f"{self.keys[who]}.pub").read_text(encoding="utf-8").strip()

    def edit(self, message: str, old: str, new: str, signer: str | None = None) -> str:
        path = self.root / RELEASE
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        key = self.keys[signer] if signer else None
        git(self.root, "commit", "-qam", message, *(["-S"] if key else []), key=key,
            who=signer or "dev")  # fmt: skip
        return git(self.root, "rev-parse", "HEAD")

    def approve(self, role: str, by: str, signer: str | None) -> str:
        return self.edit(
            f"Approve as {role}", QA_LINE, QA_LINE + f"    - {{role: {role}, by: {by}}}\n", signer
        )

    def verified(self) -> dict[str, tuple]:
        state = load(self.root).states[0]
        found = Verifier(self.root).verify(state)
        assert found is not None
        return {a.role: a for a in found["shop-2026-25"]}


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


def test_a_signed_approval_counts_with_its_signer_key_and_commit_time(shop: Shop) -> None:
    commit = shop.approve("product-owner", "priya.po", signer="priya.po")
    approval = shop.verified()["product-owner"]
    assert approval.counted, approval.why
    assert approval.signer == "priya.po" and approval.commit == commit
    assert approval.fingerprint.startswith("SHA256:")
    when = git(shop.root, "log", "-1", "--format=%cI", commit)
    assert approval.at is not None and approval.at.isoformat() == when.replace("Z", "+00:00")
    # The approval of qa-lead, typed in the first commit, which nobody signed: not counted.
    assert not shop.verified()["qa-lead"].counted


def test_unsigned_or_wrongly_signed_approvals_do_not_count(shop: Shop) -> None:
    unsigned = shop.approve("product-owner", "priya.po", signer=None)
    found = shop.verified()["product-owner"]
    assert not found.counted and found.why == f"commit {unsigned[:12]} is not signed"
    other = shop.edit(
        "Approve as product owner (by the QA lead's key)",
        "    - {role: product-owner, by: priya.po}\n",
        "    - {role: product-owner, by: priya.po }\n",
        signer="dana.qa",
    )
    found = shop.verified()["product-owner"]
    assert not found.counted
    assert (
        found.why
        == f"commit {other[:12]} is signed by dana.qa, who may not approve as product-owner"
    )
    stranger = shop.edit(
        "Approve", "    - {role: product-owner, by: priya.po }\n",
        "    - {role: product-owner, by: priya.po}\n", signer="mallory",
    )  # fmt: skip
    found = shop.verified()["product-owner"]
    assert not found.counted and "a key no approver has" in found.why and stranger[:12] in found.why


def test_a_valid_approval_stops_counting_when_the_release_changes_unsigned(shop: Shop) -> None:
    shop.approve("product-owner", "priya.po", signer="priya.po")
    assert shop.verified()["product-owner"].counted
    # An unsigned change of a control field or a comment keeps it...
    shop.edit("Suspend", "  flags: [new-checkout-flow]\n",
              "  flags: [new-checkout-flow]\n  suspend: true\n  reason: wait\n")  # fmt: skip
    assert shop.verified()["product-owner"].counted
    # ...an unsigned change of what ships does not.
    changed = shop.edit("Bump checkout", "{name: checkout, version: 3.8.0}",
                        "{name: checkout, version: 3.8.1}")  # fmt: skip
    found = shop.verified()["product-owner"]
    assert not found.counted
    assert found.why == f"the release changed after it was approved, in {changed[:12]}, unsigned"
    # Signed again by the approver: it counts again, as of the new commit.
    again = shop.edit("Approve 3.8.1", "{role: product-owner, by: priya.po}",
                      "{role: product-owner, by: priya.po, at: 2026-12-07T10:00:00+01:00}",
                      signer="priya.po")  # fmt: skip
    found = shop.verified()["product-owner"]
    assert found.counted and found.commit == again


def test_a_key_never_vouches_for_itself(shop: Shop) -> None:
    """mallory adds her own key as a product owner and signs her approval in one commit."""
    config = yaml.safe_load((shop.root / "relctl.yaml").read_text(encoding="utf-8"))
    config["spec"]["approvers"]["roles"]["product-owner"].append("mallory")
    config["spec"]["approvers"]["keys"].append(
        {"principal": "mallory", "ssh": shop.public("mallory")}
    )
    (shop.root / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(shop.root, "add", "relctl.yaml")
    commit = shop.approve("product-owner", "mallory", signer="mallory")
    found = shop.verified()["product-owner"]
    assert not found.counted
    assert found.why == f"its commit {commit[:12]} also changed who may approve"


def test_a_forged_approval_never_changes_the_verdict(shop: Shop) -> None:
    shop.approve("product-owner", "priya.po", signer="dana.qa")  # the wrong key
    state = load(shop.root).states[0]
    verified = Verifier(shop.root).verify(state)
    _, observed = go_world()
    result = plan(state, replace(observed, approvals=verified), {}, at("2026-12-07T09:00:00+01:00"))
    verdict = result.statuses["shop-2026-25"].last(DecisionKind.GO, DecisionKind.NO_GO)
    assert verdict is not None and verdict.decision is DecisionKind.NO_GO
    (approvals,) = [c for c in verdict.criteria if c.name == "approvals"]
    assert not approvals.met
    assert "unverified: " in approvals.actual
    assert "product-owner commit" in approvals.actual and "who may not approve" in approvals.actual
    assert any("unverified" in a for a in verdict.evidence.approvals)
    # The same approval signed by the product owner: GO.
    shop.edit("Approve properly", "{role: product-owner, by: priya.po}",
              "{role: product-owner, by: priya.po, at: 2026-12-07T08:00:00+01:00}",
              signer="priya.po")  # fmt: skip
    qa = shop.edit("QA lead signs", 'at: "2026-12-04T16:20:00+01:00"}', "}", signer="dana.qa")
    state = load(shop.root).states[0]
    verified = Verifier(shop.root).verify(state)
    assert verified is not None and all(a.counted for a in verified["shop-2026-25"]), verified
    result = plan(state, replace(observed, approvals=verified), {}, at("2026-12-07T09:00:00+01:00"))
    verdict = result.statuses["shop-2026-25"].last(DecisionKind.GO, DecisionKind.NO_GO)
    assert verdict is not None and verdict.decision is DecisionKind.GO
    signed = [a for a in verdict.evidence.approvals if "signed by" in a]
    assert len(signed) == 2 and any(qa[:12] in a for a in signed)


def test_without_required_signatures_unsigned_counts_but_a_wrong_key_never(shop: Shop) -> None:
    config = yaml.safe_load((shop.root / "relctl.yaml").read_text(encoding="utf-8"))
    config["spec"]["approvers"]["requireSignatures"] = False
    (shop.root / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(shop.root, "commit", "-qam", "not ready for signatures yet", who="admin")
    found = shop.verified()["qa-lead"]  # typed in the first commit, unsigned
    assert found.counted and found.why.endswith("is not signed; counted: signatures not required")
    shop.approve("product-owner", "priya.po", signer="dana.qa")
    forged = shop.verified()["product-owner"]
    assert not forged.counted and "who may not approve as product-owner" in forged.why


def test_a_gpg_signed_approval_counts_by_its_fingerprint(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The on-call's key is a GPG key in the controller's keyring: the role lists its
    fingerprint, and git verifies the approving commit's signature against the keyring."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
         "--quick-gen-key", "Sam Oncall <sam@shop.example>", "ed25519", "sign", "never"],
        check=True, capture_output=True,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
    )
    config = yaml.safe_load((shop.root / "relctl.yaml").read_text(encoding="utf-8"))
    config["spec"]["approvers"]["roles"]["qa-lead"].append("sam.oncall")
    config["spec"]["approvers"]["keys"].append({"principal": "sam.oncall", "gpg": fingerprint})
    (shop.root / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(shop.root, "commit", "-qam", "the on-call may approve as QA lead", who="admin")
    path = shop.root / RELEASE
    path.write_text(path.read_text().replace(QA_LINE, "    - {role: qa-lead, by: sam.oncall}\n"))
    git(shop.root, "-c", f"user.signingkey={fingerprint}", "commit", "-qam", "QA approves",
        "-S", who="sam")  # fmt: skip
    approval = shop.verified()["qa-lead"]
    assert approval.counted, approval.why
    assert approval.signer == "sam.oncall" and approval.fingerprint.endswith(fingerprint[-16:])
    # The same key does not make its holder a product owner.
    path.write_text(path.read_text().replace(
        "    - {role: qa-lead, by: sam.oncall}\n",
        "    - {role: qa-lead, by: sam.oncall}\n    - {role: product-owner, by: sam.oncall}\n",
    ))  # fmt: skip
    git(shop.root, "-c", f"user.signingkey={fingerprint}", "commit", "-qam", "PO too?",
        "-S", who="sam")  # fmt: skip
    forged = shop.verified()["product-owner"]
    assert not forged.counted and "signed by sam.oncall, who may not approve" in forged.why
