"""relctl: a GitOps release controller.

Releases, release trains, feature flags and blackout windows are declared as YAML in git;
the controller reconciles them against Jira and Kubernetes and records its decisions in git.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relctl")
    """From the installed distribution: the git tag it was built from (setuptools-scm)."""
except PackageNotFoundError:  # a source tree never installed
    __version__ = "0.1.0"
API_VERSION = "relctl.dev/v1alpha1"
