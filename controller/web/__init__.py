"""The release dashboard: pages rendered from the status files and the manifests alone.

Rendering only: no network, no clock (the instant is an argument), no files but its own
templates. The controller's HTTP server serves the pages live (`reconcile.server`);
`relctl dashboard build` writes the same pages as a static site.
"""
