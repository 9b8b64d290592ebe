"""Adapters: the only modules that import client libraries (httpx for Jira, the
kubernetes client, gitpython). Each wraps its client's errors in relctl's own, classified
by what the reconcile loop should do next."""
