"""Events, one list behind two APIs: an Event created through `core/v1` (as relctl and
most controllers write them) is also served by `events.k8s.io/v1` (as `kubectl events`
reads them), and the other way round, as the API server stores both in one place."""

from __future__ import annotations

from typing import Any

from controller.sandbox.kube_store import Object, ResourceType

CORE = ("", "v1", "events")
EVENTS = ("events.k8s.io", "v1", "events")


def other(resource: ResourceType) -> tuple[str, str, str] | None:
    """The other API's collection of a created Event, or None for anything else."""
    key = (resource.group, resource.version, resource.plural)
    return EVENTS if key == CORE else CORE if key == EVENTS else None


def mirror(created: Object, into: tuple[str, str, str]) -> Object:
    """`created` as the other API serves it (same name and namespace)."""
    meta = {k: v for k, v in created["metadata"].items() if k in ("name", "namespace", "labels")}
    if into == EVENTS:
        source = created.get("source") or {}
        return _clean(
            {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": meta,
                "regarding": created.get("involvedObject"),
                "note": created.get("message"),
                "reason": created.get("reason"),
                "type": created.get("type"),
                "action": created.get("action") or created.get("reason"),
                "eventTime": created.get("eventTime")
                or _micro(
                    created.get("firstTimestamp") or created["metadata"].get("creationTimestamp")
                ),
                "reportingController": created.get("reportingComponent") or source.get("component"),
                "reportingInstance": created.get("reportingInstance") or source.get("host"),
                "deprecatedFirstTimestamp": created.get("firstTimestamp"),
                "deprecatedLastTimestamp": created.get("lastTimestamp"),
                "deprecatedCount": created.get("count"),
                "deprecatedSource": source or None,
            }
        )
    return _clean(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta,
            "involvedObject": created.get("regarding"),
            "message": created.get("note"),
            "reason": created.get("reason"),
            "type": created.get("type"),
            "action": created.get("action"),
            "eventTime": created.get("eventTime"),
            "firstTimestamp": created.get("deprecatedFirstTimestamp"),
            "lastTimestamp": created.get("deprecatedLastTimestamp"),
            "count": created.get("deprecatedCount"),
            "source": created.get("deprecatedSource")
            or {"component": created.get("reportingController")},
            "reportingComponent": created.get("reportingController"),
            "reportingInstance": created.get("reportingInstance"),
        }
    )


def _micro(stamp: Any) -> Any:
    """A timestamp as a MicroTime (events.k8s.io's eventTime)."""
    if isinstance(stamp, str) and stamp.endswith("Z") and "." not in stamp:
        return stamp[:-1] + ".000000Z"
    return stamp


def _clean(obj: Object) -> Object:
    return {k: v for k, v in obj.items() if v is not None}
