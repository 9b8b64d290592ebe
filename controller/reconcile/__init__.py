"""The imperative shell: one pass = load → observe → plan → act → record.

`connect` builds the adapters from the ControllerConfig, `observe` turns what they see
into an `Observed`, `executor` runs a plan's actions, `passes` wires one pass together
and records the decisions in git. The loop, leader election and the HTTP server build
on `passes`.
"""
