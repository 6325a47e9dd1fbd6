"""kr8s (tests/requirements.txt) against both flavors (dev, serve): connect (GET /version/ and discovery), namespaces,
create, wait for Ready and for Succeeded, logs, delete."""
from __future__ import annotations

import pytest

from flows import pod_manifest, step

kr8s = pytest.importorskip("kr8s")
from kr8s.objects import Namespace, Pod  # noqa: E402


def test_connect_create_wait_logs_delete(service):
    c = "kr8s"
    with step(c, service.flavor, "kr8s.api() and version()", "a version.Info with gitVersion"):
        api = kr8s.api(kubeconfig=str(service.kubeconfig))
        assert api.version()["gitVersion"].startswith("v1.33"), api.version()
    with step(c, service.flavor, "api_resources()", "pods and namespaces listed"):
        names = {r["name"] for r in api.api_resources()}
        assert {"pods", "namespaces"} <= names, names
    with step(c, service.flavor, "get namespaces / Namespace.get(default)", "default, Active"):
        assert "default" in [n.name for n in api.get("namespaces")]
        assert Namespace.get("default", api=api).status.phase == "Active"
    with step(c, service.flavor, "Pod.create", "created, Pending"):
        pod = Pod(pod_manifest("kr8s-one"), api=api)
        pod.create()
        assert pod.status.phase == "Pending", pod.status
    with step(c, service.flavor, "wait condition=Ready", "Ready within 30 s"):
        pod.wait("condition=Ready", timeout=30)
    with step(c, service.flavor, "wait jsonpath phase=Succeeded", "Succeeded within 30 s"):
        pod.wait("jsonpath='{.status.phase}'=Succeeded", timeout=30)
    with step(c, service.flavor, "logs()", "the container's output"):
        lines = list(pod.logs())
        assert any(line.strip() for line in lines), lines
    with step(c, service.flavor, "delete, wait delete", "gone within 30 s"):
        pod.delete()
        pod.wait("delete", timeout=30)
        assert not pod.exists()
