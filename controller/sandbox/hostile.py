"""Hostile repository content, for tests and benchmarks: what anyone who can push to the
manifests repository could put where relctl reads."""

from __future__ import annotations


def alias_bomb(release: str) -> str:
    """A 402-byte status file whose aliases expand to 9^9 values (a "billion laughs")."""
    levels = "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return (
        f"format: relctl.dev/v1alpha1/ReleaseStatus\nrelease: {release}\n"
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + levels + "decisions: *i\n"
    )
