"""Plan: the pure core that compares desired with observed state.

`plan(desired, observed, recorded, now) -> Plan` lives here: no clock, no network, no
client library (the import-linter contract in pyproject.toml enforces the last). The
planner itself arrives with the reconciler; the package exists so the contract binds it
from its first line.
"""
