"""A Kubernetes API emulator on 127.0.0.1 that the official Python client and kubectl use
unchanged: discovery (`/version`, `/api`, `/apis`, group versions), namespaced and
cluster-wide LIST, GET, POST (201, `generateName`), PUT, DELETE, JSON merge / JSON /
strategic merge PATCH, label and field selectors, WATCH (chunked JSON events with
`timeoutSeconds`), `resourceVersion` / `uid` / `generation` / `creationTimestamp`, 409 on
a stale `resourceVersion`, `/status` subresources, and custom resources declared by CRD.
Deployments get a rollout simulator (`kube_rollout`).

    with KubeSandbox() as kube:
        client = kubernetes.client.ApiClient(kube.configuration())
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from controller.sandbox import (
    kube_events,
    kube_fields,
    kube_jobs,
    kube_openapi,
    kube_patch,
    kube_rbac,
    kube_scale,
    kube_select,
    kube_table,
    kube_validate,
    kube_watch,
    kube_workloads,
    kube_writes,
    tls,
)
from controller.sandbox.http import QuietHandler, QuietServer
from controller.sandbox.kube_api import Reply, deleted_status, status_error
from controller.sandbox.kube_discovery import MINIMAL_FEATUREFLAG_CRD as MINIMAL_FEATUREFLAG_CRD
from controller.sandbox.kube_discovery import VERSION, api_versions, group_list, resource_list
from controller.sandbox.kube_select import selected
from controller.sandbox.kube_store import Object, ResourceType, Store, StoreError


class KubeSandbox:
    """The emulator: an HTTP server thread around a `Store`."""

    def __init__(self, port: int = 0, latency: float = 0.0, rbac: bool = False) -> None:
        from controller.sandbox.kube_rollout import RolloutSimulator

        self.latency = latency
        """Seconds every request waits before it is served (benchmarks)."""
        self.rbac = rbac
        """Authorize every request by the Roles and bindings in the store (`kube_rbac`)."""
        self.tokens: dict[str, str] = {}
        """Bearer token → the ServiceAccount user it authenticates."""
        self.store = Store()
        for extra in (*kube_rbac.TYPES, *kube_workloads.TYPES, kube_jobs.TYPE):
            self.store.register(extra)
        self.log: list[tuple[str, str, int]] = []
        self._server = QuietServer(("127.0.0.1", port), _handler_for(self))
        self.ca: bytes | None = None
        """With RBAC, the certificate it serves HTTPS with (kubectl sends tokens over TLS
        only); kubeconfigs carry it as their certificate authority."""
        if rbac:
            cert, key = tls.self_signed()
            self._server.use_tls(cert, key)
            self.ca = cert.read_bytes()
        self.rollouts = RolloutSimulator(self.store)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> KubeSandbox:
        self._server.start("kube-sandbox")
        self.rollouts.start()
        return self

    def stop(self) -> None:
        self.rollouts.stop()
        self._server.stop()

    def __enter__(self) -> KubeSandbox:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    after_write: Callable[[str, str], None] | None = None
    """Called after a write is applied and before its reply is sent (crash tests)."""

    def requests(self, method: str | None = None) -> list[tuple[str, str, int]]:
        with self.store.lock:
            return [r for r in self.log if method is None or r[0] == method]

    def token_for(self, namespace: str, name: str) -> str:
        """A bearer token for the ServiceAccount `namespace/name` (created if missing)."""
        self.ensure_namespace(namespace)
        accounts = self.store.find_type("", "v1", "serviceaccounts")
        if (namespace, name) not in self.store.objects[("", "v1", "serviceaccounts")]:
            self.store.create(accounts, namespace, {"metadata": {"name": name}})
        token = f"sa.{namespace}.{name}.{len(self.tokens)}"
        self.tokens[token] = f"system:serviceaccount:{namespace}:{name}"
        return token

    def cluster_entry(self) -> dict[str, str]:
        """This emulator as a kubeconfig `cluster`: its URL, and its certificate if TLS."""
        found = {"server": self.url}
        if self.ca is not None:
            found["certificate-authority-data"] = base64.b64encode(self.ca).decode()
        return found

    def kubeconfig(
        self, path: Path, context: str = "sandbox", token: str = kube_rbac.ADMIN_TOKEN
    ) -> Path:
        """Write a kubeconfig whose `context` points at this emulator, as the holder of
        `token` (the cluster admin by default)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": self.cluster_entry()}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": "default"},
                }
            ],
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # --- seeding ------------------------------------------------------------------------

    def apply(self, obj: Object, *, validate: bool = False) -> Object:
        """Create an object (namespaces first), as `kubectl create` would; with `validate`,
        refused (StoreError) where the API server would refuse it."""
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        resource = next(
            (
                t
                for t in self.store.types.values()
                if (t.group, t.version, t.kind) == (group, version, obj.get("kind"))
            ),
            None,
        )
        if resource is None:
            raise StoreError(
                404,
                "NotFound",
                f'no matches for kind "{obj.get("kind")}" in version "{obj.get("apiVersion")}"',
            )
        namespace = (obj.get("metadata") or {}).get("namespace", "default")
        if validate:
            strict = {"fieldValidation": "Strict"}
            kube_validate.check(self.store, resource, obj, namespace, None, strict)
        if resource.namespaced:
            self.ensure_namespace(namespace)
        created = self.store.create(resource, namespace if resource.namespaced else "", obj)
        if resource.kind == "CustomResourceDefinition":
            self.register_crd(created)
        return created

    def ensure_namespace(self, name: str) -> None:
        namespaces = self.store.find_type("", "v1", "namespaces")
        try:
            self.store.get(namespaces, "", name)
        except StoreError:
            self.store.create(
                namespaces, "", {"metadata": {"name": name}, "status": {"phase": "Active"}}
            )

    def load_crd(self, path: Path) -> None:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document and document.get("kind") == "CustomResourceDefinition":
                self.apply(document)

    def register_crd(self, crd: Object) -> None:
        spec = crd["spec"]
        names = spec["names"]
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            self.store.register(
                ResourceType(
                    spec["group"],
                    version["name"],
                    names["plural"],
                    names["kind"],
                    spec.get("scope", "Namespaced") == "Namespaced",
                    "status" in (version.get("subresources") or {}),
                    tuple(names.get("shortNames", [])),
                    names.get("singular", ""),
                )
            )

    # --- dispatch -----------------------------------------------------------------------

    def handle(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        parts = urlsplit(raw)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            reply = self._route(method, parts.path.rstrip("/") or "/", query, headers, body)
        except StoreError as exc:
            reply = status_error(exc.code, exc.reason, exc.message)
        except kube_patch.PatchError as exc:
            reply = status_error(422, "Invalid", str(exc))
        with self.store.lock:
            self.log.append((method, parts.path, reply.status))
        if method not in ("GET", "HEAD") and self.after_write is not None:
            self.after_write(method, parts.path)  # the change is made; the reply not yet sent
        return reply

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        caller = kube_rbac.caller_of(self.tokens, headers) if self.rbac else kube_rbac.ADMIN
        if caller is None:
            return status_error(401, "Unauthorized", "Unauthorized")
        if path == "/version":
            return Reply(200, VERSION)
        if path == "/api":
            return Reply(200, api_versions(self.url))
        if path == "/openapi/v2":
            accept = headers.get("accept", "")
            if accept and not any(t in accept for t in ("json", "*/*")):
                return status_error(
                    406, "NotAcceptable", f"only application/json is served, not {accept}"
                )
            return Reply(200, kube_openapi.swagger(self.store))
        if path == "/openapi/v3":
            return Reply(200, kube_openapi.index(self.store))
        if path.startswith("/openapi/v3/"):
            document = kube_openapi.document(self.store, path.removeprefix("/openapi/v3/"))
            if document is not None:
                return Reply(200, document)
            return status_error(404, "NotFound", "the server could not find the requested resource")
        if path == "/apis":
            return Reply(200, group_list(self.store))
        match = re.fullmatch(r"/api/(v1)((?:/[^/]+)*)", path) or re.fullmatch(
            r"/apis/([^/]+/[^/]+)((?:/[^/]+)*)", path
        )
        if match is None:
            named = re.fullmatch(r"/apis/([^/]+)", path)
            if named is not None:
                found = [g for g in group_list(self.store)["groups"] if g["name"] == named.group(1)]
                if found:
                    return Reply(200, {"kind": "APIGroup", "apiVersion": "v1", **found[0]})
            return status_error(404, "NotFound", "the server could not find the requested resource")
        group, _, version = match.group(1).rpartition("/")
        segments = [s for s in match.group(2).split("/") if s]
        if not segments:
            if not any((t.group, t.version) == (group, version) for t in self.store.types.values()):
                return status_error(
                    404, "NotFound", "the server could not find the requested resource"
                )
            return Reply(200, resource_list(self.store, group, version))
        return self._resource(method, group, version, segments, query, headers, body, caller)

    def _resource(
        self,
        method: str,
        group: str,
        version: str,
        segments: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        caller: kube_rbac.Caller = kube_rbac.ADMIN,
    ) -> Reply:
        store = self.store
        namespace: str | None = None
        if (
            len(segments) >= 3
            and segments[0] == "namespaces"
            and (group, version, segments[2]) in store.types
        ):
            namespace, segments = segments[1], segments[2:]
        plural = segments[0]
        resource = store.find_type(group, version, plural)
        name = segments[1] if len(segments) > 1 else None
        sub = segments[2] if len(segments) > 2 else ""
        scalable = (resource.group, resource.kind) == ("apps", "Deployment")
        token = resource.kind == "ServiceAccount" and sub == "token"
        log = resource.kind == "Pod" and sub == "log"
        known = (sub == "status" and resource.status) or (sub == "scale" and scalable) or token
        known = known or log
        if sub and not known:
            return status_error(404, "NotFound", "the server could not find the requested resource")
        if resource.namespaced and name is not None and namespace is None:
            return status_error(404, "NotFound", "the server could not find the requested resource")
        ns = namespace or ""
        applying = _applying(headers)
        try:
            payload = (yaml.safe_load(body) if applying else json.loads(body)) if body else None
        except (ValueError, yaml.YAMLError) as exc:
            return status_error(400, "BadRequest", f"the body of the request is not JSON: {exc}")
        if resource.kind == "SelfSubjectAccessReview" and method == "POST":
            return Reply(201, kube_rbac.review(store, caller, payload))
        wanted = kube_rbac.Attributes(
            kube_rbac.verb_of(method, name, query),
            group,
            f"{plural}/{sub}" if sub else plural,
            ns,
            name or "",
        )
        if not kube_rbac.allowed(store, caller, wanted):
            raise kube_rbac.forbidden(caller, wanted)
        if log and method == "GET":
            pod = store.get(resource, ns, name or "")
            printed = store.logs.get((ns, name or ""))
            tail, limit = query.get("tailLines"), query.get("limitBytes")
            return Reply(200, kube_workloads.log(pod, query.get("container"), printed, tail, limit))
        if token and method == "POST":  # TokenRequest: `kubectl create token NAME`
            store.get(resource, ns, name or "")
            issued = self.token_for(ns, name or "")
            return Reply(201, kube_rbac.token_request(ns, name or "", issued))
        # A DELETE may carry dryRun in its DeleteOptions body (kubectl does) as well.
        options = payload if method == "DELETE" and isinstance(payload, dict) else {}
        dry = query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        if dry and method in ("POST", "PUT", "PATCH", "DELETE"):
            with store.dry_run():
                return self._request(
                    method, resource, ns, namespace, name, sub, query, headers, payload
                )
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true"):
                return kube_watch.watch(self.store, resource, namespace, query)
            return self._list(resource, namespace, query, headers.get("accept", ""))
        return self._request(method, resource, ns, namespace, name, sub, query, headers, payload)

    def _request(
        self,
        method: str,
        resource: ResourceType,
        ns: str,
        namespace: str | None,
        name: str | None,
        sub: str,
        query: dict[str, str],
        headers: dict[str, str],
        payload: Any,
    ) -> Reply:
        """Every request on one object or collection but a list or a watch (dry runs
        included: see `Store.dry_run`)."""
        store = self.store
        group, plural = resource.group, resource.plural
        manager = kube_fields.manager_of(query, headers)
        if name is None:
            if method == "POST":
                if resource.namespaced and namespace is None:
                    return status_error(405, "MethodNotAllowed", "create needs a namespace")
                kube_validate.check(store, resource, payload, namespace, None, query)
                created = store.create(resource, ns, kube_fields.update(None, payload, manager))
                if resource.kind == "CustomResourceDefinition" and query.get("dryRun") != "All":
                    self.register_crd(created)
                twin = kube_events.other(resource)
                if twin is not None:
                    store.create(store.types[twin], ns, kube_events.mirror(created, twin))
                return Reply(201, created)
            return status_error(405, "MethodNotAllowed", f"{method} is not supported here")
        if sub == "scale":
            kind = headers.get("content-type", "").split(";")[0].strip()
            return Reply(200, kube_scale.request(store, resource, ns, name, method, kind, payload))
        if method == "GET":
            found = store.get(resource, ns, name)
            if kube_table.wanted(headers.get("accept", "")):
                return Reply(200, kube_table.table(resource, [found], str(store.revision)))
            return Reply(200, found)
        if method == "PUT":
            if sub != "status":
                kube_validate.check(store, resource, payload, namespace, name, query)
                payload = kube_fields.update(store.get(resource, ns, name), payload, manager)
            return Reply(200, store.update(resource, ns, name, payload or {}, subresource=sub))
        if method == "PATCH":
            applying = _applying(headers)
            if applying and not query.get("fieldManager"):
                return status_error(
                    400, "BadRequest", "PATCH, application/apply-patch+yaml requires fieldManager"
                )
            key = (resource.group, resource.version, resource.plural)
            if applying and (ns, name) not in store.objects[key]:  # apply creates
                kube_validate.check(store, resource, payload, namespace, name, query)
                owned = kube_fields.apply(None, payload, payload, manager, force=True)
                return Reply(201, store.create(resource, ns, owned))
            return kube_writes.patch(store, resource, ns, name, sub, headers, payload, query)
        if method == "DELETE":
            preconditions = (
                (payload or {}).get("preconditions") if isinstance(payload, dict) else None
            )
            deleted = store.delete(resource, ns, name, preconditions)
            if deleted["metadata"].get("deletionTimestamp"):
                return Reply(200, deleted)  # finalizers hold it: terminating
            if resource.kind == "Namespace":
                store.empty_namespace(name)
            kube_workloads.collect(store, deleted)
            return Reply(200, deleted_status(name, group, plural, deleted["metadata"]["uid"]))
        return status_error(405, "MethodNotAllowed", f"{method} is not supported here")

    def _list(
        self, resource: ResourceType, namespace: str | None, query: dict[str, str], accept: str
    ) -> Reply:
        kube_select.check(query)
        items, revision = self.store.list(resource, namespace)
        chosen, metadata = kube_select.page(
            [o for o in items if selected(o, query)], query, revision
        )
        if kube_table.wanted(accept):
            found = kube_table.table(resource, chosen, metadata["resourceVersion"])
            return Reply(200, {**found, "metadata": metadata})
        return Reply(
            200,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": metadata,
                "items": chosen,
            },
        )


def _applying(headers: dict[str, str]) -> bool:
    """A server-side apply (`application/apply-patch+yaml`)."""
    return headers.get("content-type", "").startswith("application/apply-patch+yaml")


def _handler_for(sandbox: KubeSandbox) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "relctl-kube-sandbox"

        def _serve(self) -> None:
            reply = sandbox.handle(self.command, self.path, self.lowered_headers(), self.body())
            self.send_response(reply.status)
            if isinstance(reply.body, bytes):  # a container's log
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            self.send_header("Content-Type", "application/json")
            if reply.stream is not None:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def send(data: bytes) -> None:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                reply.stream(send)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
