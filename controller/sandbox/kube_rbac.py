"""RBAC, as the API server authorizes requests: with `KubeSandbox(rbac=True)` (`relctl
sandbox kube --rbac`) every request needs a bearer token; `sandbox` is the cluster admin
(system:masters), and a ServiceAccount's token (`KubeSandbox.token_for`) acts as
`system:serviceaccount:NAMESPACE:NAME`, allowed only what the Roles, ClusterRoles and
their bindings in the store grant. A refusal is the API server's 403; a
SelfSubjectAccessReview (`kubectl auth can-i`) answers from the same rules.

Rules are matched by API group, resource (`resource/subresource` for a subresource),
verb and `resourceNames`; `*` matches anything. Aggregated ClusterRoles and
non-resource URLs are not modelled (discovery and OpenAPI are open to every
authenticated caller)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType, Store, StoreError

ADMIN_TOKEN = "sandbox"  # noqa: S105 - the emulator's documented admin token, not a secret
RBAC = "rbac.authorization.k8s.io"


def _rbac(plural: str, kind: str, namespaced: bool) -> ResourceType:
    return ResourceType(RBAC, "v1", plural, kind, namespaced, False, (), kind.lower())


TYPES = (
    ResourceType(
        "", "v1", "serviceaccounts", "ServiceAccount", True, False, ("sa",), "serviceaccount"
    ),
    _rbac("roles", "Role", True),
    _rbac("rolebindings", "RoleBinding", True),
    _rbac("clusterroles", "ClusterRole", False),
    _rbac("clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        False,
        (),
        "selfsubjectaccessreview",
        ("create",),
    ),
)


@dataclass(frozen=True)
class Attributes:
    """What a request does, as RBAC sees it."""

    verb: str
    group: str
    resource: str
    """`deployments`, or `deployments/scale` for a subresource."""
    namespace: str = ""
    name: str = ""

    def describe(self) -> str:
        group = f' in API group "{self.group}"'
        where = (
            f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        )
        return f'cannot {self.verb} resource "{self.resource}"{group}{where}'


@dataclass(frozen=True)
class Caller:
    name: str
    groups: tuple[str, ...]

    @property
    def service_account(self) -> tuple[str, str] | None:
        parts = self.name.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2], parts[3]
        return None


ADMIN = Caller("system:admin", ("system:masters", "system:authenticated"))


def verb_of(method: str, name: str | None, query: dict[str, str]) -> str:
    """The RBAC verb of a request."""
    if method == "GET":
        if query.get("watch") in ("1", "true"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE" and not name:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


def caller_of(tokens: dict[str, str], headers: dict[str, str]) -> Caller | None:
    """Who sends these headers; None: not authenticated (401)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    if token == ADMIN_TOKEN:
        return ADMIN
    user = tokens.get(token)
    if user is None:
        return None
    namespace = user.split(":")[2]
    return Caller(
        user,
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


def allowed(store: Store, caller: Caller, wanted: Attributes) -> bool:
    if "system:masters" in caller.groups:
        return True
    with store.lock:
        bindings = list(_objects(store, "clusterrolebindings"))
        if wanted.namespace:
            bindings += [
                b
                for b in _objects(store, "rolebindings")
                if b["metadata"].get("namespace") == wanted.namespace
            ]
        for binding in bindings:
            if not any(_is(caller, s, binding) for s in binding.get("subjects") or []):
                continue
            role = _role(store, binding)
            if role is not None and any(_grants(r, wanted) for r in role.get("rules") or []):
                return True
    return False


def forbidden(caller: Caller, wanted: Attributes) -> StoreError:
    named = f"{wanted.resource.split('/')[0]}{'.' + wanted.group if wanted.group else ''}"
    subject = f' "{wanted.name}"' if wanted.name else ""
    return StoreError(
        403,
        "Forbidden",
        f'{named}{subject} is forbidden: User "{caller.name}" {wanted.describe()}',
    )


def review(store: Store, caller: Caller, body: Any) -> Object:
    """A SelfSubjectAccessReview, answered."""
    spec = (body or {}).get("spec") or {}
    attributes = spec.get("resourceAttributes") or {}
    resource = attributes.get("resource", "")
    if attributes.get("subresource"):
        resource = f"{resource}/{attributes['subresource']}"
    wanted = Attributes(
        attributes.get("verb", ""),
        attributes.get("group", ""),
        resource,
        attributes.get("namespace", ""),
        attributes.get("name", ""),
    )
    ok = allowed(store, caller, wanted)
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {"allowed": ok, **({} if ok else {"reason": ""})},
    }


def _objects(store: Store, plural: str) -> list[Object]:
    return list(store.objects.get((RBAC, "v1", plural), {}).values())


def _is(caller: Caller, subject: dict[str, Any], binding: Object) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        account = caller.service_account
        namespace = subject.get("namespace") or binding["metadata"].get("namespace", "")
        return account == (namespace, name)
    if kind == "User":
        return bool(name == caller.name)
    if kind == "Group":
        return name in caller.groups
    return False


def _role(store: Store, binding: Object) -> Object | None:
    ref = binding.get("roleRef") or {}
    if ref.get("kind") == "ClusterRole":
        return store.objects.get((RBAC, "v1", "clusterroles"), {}).get(("", ref.get("name", "")))
    namespace = binding["metadata"].get("namespace", "")
    return store.objects.get((RBAC, "v1", "roles"), {}).get((namespace, ref.get("name", "")))


def _grants(rule: dict[str, Any], wanted: Attributes) -> bool:
    def has(values: Any, value: str) -> bool:
        return "*" in (values or []) or value in (values or [])

    names = rule.get("resourceNames") or []
    return (
        has(rule.get("apiGroups"), wanted.group)
        and has(rule.get("resources"), wanted.resource)
        and has(rule.get("verbs"), wanted.verb)
        and (not names or wanted.name in names)
    )


def token_request(namespace: str, name: str, token: str) -> Object:
    """The answer to a TokenRequest for ServiceAccount `namespace/name`."""
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
        "status": {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"},
    }
