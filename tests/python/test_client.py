"""The official Kubernetes Python client against `k8sless dev`: create, read, list, paged lists
(one snapshot across pages), watch (ends and resumes without duplicates), read log, delete. Its models are strict, so every field
type the service returns must match Kubernetes'.

Run by scripts/test (pytest tests/python); the service binary comes from K8SLESS_BIN or
target/debug/k8sless.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, watch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pysupport"))
from procs import end_group, free_port, kill_group  # noqa: E402


@pytest.fixture(scope="module")
def api():
    exe = os.environ.get("K8SLESS_BIN") or str(ROOT / "target" / "debug" / "k8sless")
    if not Path(exe).exists():
        pytest.fail(f"{exe} not built (cargo build)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "dev", "--listen", f"127.0.0.1:{port}", "--sim-timings", "zero", "--log-format", "text"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                kill_group(proc)
                pytest.fail("k8sless dev did not start")
            time.sleep(0.05)
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    yield client.CoreV1Api(client.ApiClient(cfg))
    end_group(proc, timeout=10)


def pod(name: str, seconds: str = "1s", **labels) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"suite": "python", **labels},
                                     annotations={"k8sless.dev/simulate-duration": seconds}),
        spec=client.V1PodSpec(restart_policy="Never", containers=[
            client.V1Container(name="main", image="busybox:1.36", command=["sh", "-c", "echo hi"],
                               resources=client.V1ResourceRequirements(requests={"cpu": "250m", "memory": "256Mi"}))]))


def test_create_read_list_delete(api):
    created = api.create_namespaced_pod("default", pod("py-one"))
    assert created.metadata.name == "py-one"
    assert created.metadata.uid
    assert created.status.phase == "Pending"
    assert created.spec.host_network is True
    got = api.read_namespaced_pod("py-one", "default")
    assert got.metadata.uid == created.metadata.uid
    listed = api.list_namespaced_pod("default", label_selector="suite=python")
    assert "py-one" in [p.metadata.name for p in listed.items]
    assert api.list_pod_for_all_namespaces(field_selector="metadata.name=py-one").items
    with pytest.raises(client.exceptions.ApiException) as e:
        api.create_namespaced_pod("default", pod("py-one"))
    assert e.value.status == 409
    api.delete_namespaced_pod("py-one", "default")
    with pytest.raises(client.exceptions.ApiException) as e:
        api.read_namespaced_pod("py-one", "default")
    assert e.value.status == 404


def test_paged_list_is_one_snapshot_with_writes_in_between(api):
    for i in range(5):
        api.create_namespaced_pod("py-pages", pod(f"page-{i}", "600s"))
    first = api.list_pod_for_all_namespaces(limit=2, label_selector="suite=python")
    names = [p.metadata.name for p in first.items]
    token = first.metadata._continue
    assert token, "more pages follow"
    # Writes after the first page: later pages still show the first page's listing.
    api.delete_namespaced_pod("page-4", "py-pages")
    api.create_namespaced_pod("py-pages", pod("page-9", "600s"))
    while token:
        page = api.list_pod_for_all_namespaces(limit=2, label_selector="suite=python", _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
    ours = [n for n in names if n.startswith("page-")]
    assert ours == [f"page-{i}" for i in range(5)], names
    now = api.list_namespaced_pod("py-pages", label_selector="suite=python")
    assert sorted(p.metadata.name for p in now.items) == ["page-0", "page-1", "page-2", "page-3", "page-9"]


def test_invalid_pod_is_422_with_causes(api):
    bad = pod("py-bad")
    bad.spec.containers[0].image = None
    with pytest.raises(client.exceptions.ApiException) as e:
        api.create_namespaced_pod("default", bad)
    assert e.value.status == 422
    assert "spec.containers[0].image" in e.value.body


def test_watch_sees_the_lifecycle_and_resumes_without_duplicates(api):
    api.create_namespaced_pod("default", pod("py-watch", seconds="2s"))
    phases, last_rv, seen = [], None, set()
    w = watch.Watch()
    for event in w.stream(api.list_namespaced_pod, "default", field_selector="metadata.name=py-watch", timeout_seconds=2):
        key = (event["type"], event["object"].metadata.resource_version)
        assert key not in seen, f"duplicate event {key}"
        seen.add(key)
        phases.append(event["object"].status.phase)
        last_rv = event["object"].metadata.resource_version
    assert phases, "the first watch saw the pod"
    # Resume from the last resourceVersion: only newer events, until Succeeded.
    deadline = time.time() + 30
    while "Succeeded" not in phases and time.time() < deadline:
        for event in w.stream(api.list_namespaced_pod, "default", field_selector="metadata.name=py-watch",
                              resource_version=last_rv, timeout_seconds=3):
            rv = event["object"].metadata.resource_version
            assert int(rv) > int(last_rv), f"resumed watch repeated {rv} <= {last_rv}"
            key = (event["type"], rv)
            assert key not in seen
            seen.add(key)
            phases.append(event["object"].status.phase)
            last_rv = rv
            if event["object"].status.phase == "Succeeded":
                w.stop()
                break
    assert phases[-1] == "Succeeded", phases
    assert "Running" in phases, phases


def test_read_log(api):
    api.create_namespaced_pod("default", pod("py-log", seconds="1s"))
    deadline = time.time() + 30
    while api.read_namespaced_pod("py-log", "default").status.phase != "Succeeded":
        assert time.time() < deadline
        time.sleep(0.2)
    log = api.read_namespaced_pod_log("py-log", "default")
    assert "simulated" in log
    tail = api.read_namespaced_pod_log("py-log", "default", tail_lines=1)
    assert len(tail.strip().splitlines()) == 1
