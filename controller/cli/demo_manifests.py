"""The manifests people push during `relctl demo`: a release put on the next train, a
storefront hotfix watched by an analysis, a flag staged behind one, a payments hotfix
whose smoke test fails, and search moved to the git method with a hotfix through the
environment repository (whose first content is here too)."""

from __future__ import annotations

from datetime import datetime, timedelta

NEW_RELEASE_PATH = "releases/releases/catalog-2026-26.yaml"
NEW_RELEASE = """\
apiVersion: relctl.dev/v1alpha1
kind: Release
metadata:
  name: catalog-2026-26
  labels: {train: shop-fortnightly}
spec:
  description: Catalogue search facets. Rides the next departure of the train.
  version: "2026.26"
  train: shop-fortnightly
  components:
    - {name: catalog, version: 2.4.0}
"""
HOTFIX_IMAGE = "registry.shop.example/shop/storefront:4.2.1"
HOTFIX = {
    "releases/analyses/http-health.yaml": """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: http-health}
spec:
  description: What users feel. (Windows of seconds, for the demo; minutes in real life.)
  metrics:
    - name: error-ratio
      query: >-
        sum(rate(http_requests_total{cluster="{{ cluster }}", deployment="{{ deployment }}",
        code=~"5.."}[6s])) / sum(rate(http_requests_total{cluster="{{ cluster }}",
        deployment="{{ deployment }}"}[6s]))
      failWhen: "> 5%"
      interval: 1s
    - name: latency
      query: >-
        sum(rate(http_request_duration_seconds_sum{deployment="{{ deployment }}"}[6s]))
        / sum(rate(http_request_duration_seconds_count{deployment="{{ deployment }}"}[6s]))
      failWhen: "> 2x baseline"
      baseline: {window: 10s}
      interval: 1s
""",
    "releases/releases/storefront-4-2-1.yaml": """\
apiVersion: relctl.dev/v1alpha1
kind: Release
metadata: {name: storefront-4-2-1}
spec:
  description: Faster product pages. Watched by the http-health analysis.
  version: storefront-4.2.1
  type: hotfix
  date: "2026-12-10T16:30:00+01:00"
  components:
    - {name: storefront, version: 4.2.1}
  rollback:
    auto: true
    triggers: {analysis: [http-health]}
""",
}

NAMESPACE_HEALTH = """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: namespace-health}
spec:
  description: The error rate of a flag's namespace while a stage is live.
  metrics:
    - name: error-ratio
      query: >-
        sum(rate(http_requests_total{cluster="{{ cluster }}", namespace="{{ namespace }}",
        code=~"5.."}[6s])) / sum(rate(http_requests_total{cluster="{{ cluster }}",
        namespace="{{ namespace }}"}[6s]))
      failWhen: "> 5%"
      interval: 1s
"""


def digest_flag(first: datetime) -> dict[str, str]:
    """A flag whose first stage (10%, behind namespace-health) starts at `first` and whose
    second (50%) is due five seconds later."""
    second = first + timedelta(seconds=5)
    return {
        "releases/analyses/namespace-health.yaml": NAMESPACE_HEALTH,
        "releases/flags/digest-emails.yaml": f"""\
apiVersion: relctl.dev/v1alpha1
kind: FeatureFlag
metadata: {{name: digest-emails}}
spec:
  description: One daily e-mail instead of one per event.
  owner: team-platform
  variants: {{"on": true, "off": false}}
  defaultVariant: "off"
  rollout:
    variant: "on"
    stages:
      - {{percent: 10, at: "{first.isoformat()}", analysis: namespace-health}}
      - {{percent: 50, at: "{second.isoformat()}"}}
  target: {{kind: FeatureFlag, cluster: prod-eu, namespace: platform, name: platform-flags}}
""",
    }


SMOKE_RELEASE = {
    "releases/releases/payments-2-5-1.yaml": """\
apiVersion: relctl.dev/v1alpha1
kind: Release
metadata: {name: payments-2-5-1}
spec:
  description: Idempotency keys for wallet top-ups (a schema migration).
  version: payments-2.5.1
  type: hotfix
  date: "2026-12-10T17:00:00+01:00"
  components:
    - {name: payments, version: 2.5.1}
  rollback:
    auto: true
""",
}
SMOKE_FAILS = (
    "registry.shop.example/shop/payments:2.5.1",
    "smoke-test",
    "checking POST /wallets/top-up ... ok\n"
    "checking POST /payments/capture ... 500 Internal Server Error\n"
    "PAYMENTS_API_TOKEN=pat-0123456789abcdef used for the checks\n"
    "smoke-test: 1 of 14 checks failed",
)
"""(image, command word, log): what the sandbox makes 2.5.1's smoke test print and fail."""


ENVIRONMENT = {
    "apps/search/deployment.yaml": """\
# search in prod-us, as the GitOps agent applies it. The tag is the overlay's.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: search
  namespace: platform
  labels: {app: search}
spec:
  replicas: 2
  progressDeadlineSeconds: 1
  selector:
    matchLabels: {app: search}
  template:
    metadata:
      labels: {app: search}
    spec:
      containers:
        - name: search
          image: registry.shop.example/shop/search
""",
    "apps/search/kustomization.yaml": """\
# Production search: relctl promotes the tag below; people own the rest.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - flags.yaml
images:
  - name: registry.shop.example/shop/search
    newTag: "0.0.0"  # promoted by relctl
""",
    "apps/search/flags.yaml": """\
# search's feature flags, for the OpenFeature Operator. relctl writes the flags.
apiVersion: core.openfeature.dev/v1beta1
kind: FeatureFlag
metadata:
  name: search-flags
  namespace: platform
spec:
  flagSpec:
    flags: {}
""",
}
"""The environment repository shop-env, as the platform team first pushed it."""
GITOPS = {
    "releases/components/search.yaml": """\
# yaml-language-server: $schema=../../schemas/relctl.schema.json
apiVersion: relctl.dev/v1alpha1
kind: Component
metadata:
  name: search
  labels: {tier: backend}
spec:
  description: Product search. Deployed by Argo CD from the shop-env repository.
  jiraProject: PLAT
  image: registry.shop.example/shop/search
  owner: team-platform
  dependsOn: [catalog]
  deploy: {method: git, environment: shop-env}
  workloads:
    - cluster: prod-us
      namespace: platform
      deployment: search
      container: search
      locator:
        file: apps/search/kustomization.yaml
        kustomizeImage: registry.shop.example/shop/search
""",
    "releases/flags/search-ranking.yaml": """\
# yaml-language-server: $schema=../../schemas/relctl.schema.json
apiVersion: relctl.dev/v1alpha1
kind: FeatureFlag
metadata:
  name: search-ranking
spec:
  description: Ranking model used by search. Kept in shop-env beside search, for Argo CD.
  owner: team-platform
  jiraIssue: PLAT-77
  variants: {classic: bm25, learned: ltr-v2}
  defaultVariant: classic
  rollout:
    variant: learned
    afterRelease: search-2027-1
    stages:
      - {percent: 20, at: "2027-01-06T09:00:00+01:00"}
      - {percent: 60, at: "2027-01-13T09:00:00+01:00"}
  target:
    kind: FeatureFlag
    cluster: prod-us
    namespace: platform
    name: search-flags
    environment: shop-env
    file: apps/search/flags.yaml
""",
    "releases/releases/search-6-9-1.yaml": """\
apiVersion: relctl.dev/v1alpha1
kind: Release
metadata: {name: search-6-9-1}
spec:
  description: Typo tolerance for brand names, shipped through the environment repository.
  version: search-6.9.1
  type: hotfix
  date: "2026-12-10T17:30:00+01:00"
  components:
    - {name: search, version: 6.9.1}
  rollback:
    auto: true
""",
}
