"""Sandbox: stateful emulators of Jira and the Kubernetes API that speak the real wire
protocols on 127.0.0.1, so real clients (httpx, the kubernetes client, kubectl) talk to
them unchanged. Used by the tests, the benchmarks and `relctl demo`; never by the
controller against real systems."""
