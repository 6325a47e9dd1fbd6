"""Namespaces, per-namespace policy and ResourceQuota through the official Python client, on both
flavors (docs/namespaces.md): create_namespace with a service-account policy, a 2-pod quota whose
third pod is refused with kube-apiserver's 403, read_namespaced_resource_quota's used and hard,
the policy's 422, and delete_namespace taking the pods and the quota with it."""
from __future__ import annotations

import json
import time

import pytest

from flows import pod_manifest, step

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

ALLOWED = "batch@k8sless-clients.iam.gserviceaccount.com"


def refused(call) -> tuple[int, dict]:
    try:
        call()
    except client.exceptions.ApiException as e:
        return e.status, json.loads(e.body)
    raise AssertionError("accepted")


def test_namespace_policy_and_quota(service):
    c = "kubernetes (Python)"
    api = client.CoreV1Api(config.new_client_from_config(str(service.kubeconfig)))
    ns = f"py-quota-{service.flavor}"
    with step(c, service.flavor, "create_namespace with a service-account policy", "Active"):
        meta = client.V1ObjectMeta(name=ns, annotations={"k8sless.dev/allowed-service-accounts": ALLOWED})
        created = api.create_namespace(client.V1Namespace(metadata=meta))
        assert created.status.phase == "Active", created.status
    with step(c, service.flavor, "create_namespaced_resource_quota pods=2", "201"):
        quota = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="two-pods"),
                                       spec=client.V1ResourceQuotaSpec(hard={"pods": "2"}))
        api.create_namespaced_resource_quota(ns, quota)
    with step(c, service.flavor, "two pods, then a third", "the third refused: 403 naming the quota"):
        for i in (1, 2):
            api.create_namespaced_pod(ns, pod_manifest(f"q{i}"))
        status, body = refused(lambda: api.create_namespaced_pod(ns, pod_manifest("q3")))
        assert status == 403, (status, body)
        assert body["reason"] == "Forbidden", body
        assert body["message"] == ('pods "q3" is forbidden: exceeded quota: two-pods, '
                                   'requested: pods=1, used: pods=2, limited: pods=2'), body["message"]
    with step(c, service.flavor, "read_namespaced_resource_quota", "used 2, hard 2"):
        q = api.read_namespaced_resource_quota("two-pods", ns)
        assert q.status.used["pods"] == "2" and q.status.hard["pods"] == "2", q.status
    with step(c, service.flavor, "a pod asking for another service account", "422 naming the allowed one"):
        api.delete_namespaced_pod("q2", ns)
        body = pod_manifest("sa")
        body["metadata"]["annotations"] = {"iam.gke.io/gcp-service-account": "root@example.iam.gserviceaccount.com"}
        status, status_body = refused(lambda: api.create_namespaced_pod(ns, body))
        assert status == 422, (status, status_body)
        assert f'supported values: "{ALLOWED}"' in status_body["message"], status_body["message"]
    with step(c, service.flavor, "delete_namespace, then read_namespace", "Terminating, then 404"):
        api.delete_namespace(ns)
        deadline = time.time() + 60
        while True:
            try:
                api.read_namespace(ns)
            except client.exceptions.ApiException as e:
                assert e.status == 404, e.status
                break
            assert time.time() < deadline, "still there 60 s after delete"
            time.sleep(0.5)
        assert api.list_namespaced_pod(ns).items == []
        assert api.list_namespaced_resource_quota(ns).items == []
