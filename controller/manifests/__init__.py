"""Manifests: the models of the `relctl.dev/v1alpha1` API, safe YAML loading with source
positions, and the semantic checks that need no clock."""
