"""The official Kubernetes Python client (kubernetes, tests/requirements.txt) on both flavors:
namespaces, create (also with hostNetwork: false), watch to Succeeded, logs, delete, 404 after.
test_namespaces_python.py covers namespaces, policy and quota.
tests/python/test_client.py covers the rest of its API against dev."""
from __future__ import annotations

import time

import pytest

from flows import pod_manifest, step

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402


def test_pod_lifecycle(service):
    c = "kubernetes (Python)"
    api = client.CoreV1Api(config.new_client_from_config(str(service.kubeconfig)))
    name = f"py-{service.flavor}"
    with step(c, service.flavor, "list_namespace", "default listed"):
        names = [n.metadata.name for n in api.list_namespace().items]
        assert "default" in names, names
    with step(c, service.flavor, "create_namespaced_pod", "201 Pending"):
        created = api.create_namespaced_pod("default", pod_manifest(name))
        assert created.status.phase == "Pending", created.status.phase
    with step(c, service.flavor, "watch to Succeeded", "phases ending in Succeeded"):
        phases = []
        deadline = time.time() + 60
        while "Succeeded" not in phases and time.time() < deadline:
            for ev in watch.Watch().stream(api.list_namespaced_pod, "default",
                                           field_selector=f"metadata.name={name}", timeout_seconds=5):
                phases.append(ev["object"].status.phase)
                if phases[-1] == "Succeeded":
                    break
        assert phases and phases[-1] == "Succeeded", phases
    with step(c, service.flavor, "read_namespaced_pod_log", "the container's output"):
        log = api.read_namespaced_pod_log(name, "default")
        assert log.strip(), "empty log"
    with step(c, service.flavor, "create_namespace, create in it, read_namespace", "the namespace exists"):
        api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-team")))
        api.create_namespaced_pod("py-team", pod_manifest(f"{name}-team"))
        assert api.read_namespace("py-team").status.phase == "Active"
    with step(c, service.flavor, "delete_namespaced_pod, then read", "404"):
        api.delete_namespaced_pod(name, "default")
        deadline = time.time() + 30
        while True:
            try:
                api.read_namespaced_pod(name, "default")
            except client.exceptions.ApiException as e:
                assert e.status == 404, e.status
                break
            assert time.time() < deadline, "still there 30 s after delete"
            time.sleep(0.3)


def test_host_network_false_is_accepted_with_a_warning(dev):
    """What Airflow sends: hostNetwork: false, kept as sent, with a Warning header."""
    c = "kubernetes (Python)"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    body = pod_manifest("py-no-host-net")
    body["spec"]["hostNetwork"] = False
    with step(c, "dev", "create with hostNetwork: false", "201, hostNetwork false, a Warning header"):
        resp, status, headers = api.create_namespaced_pod_with_http_info("default", body)
        assert status == 201, status
        assert resp.spec.host_network is False, resp.spec.host_network
        assert "VM's network" in headers.get("Warning", ""), dict(headers)
