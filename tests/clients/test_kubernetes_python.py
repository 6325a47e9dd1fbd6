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


def test_exec_stream(dev):
    """`kubernetes.stream.stream(connect_get_namespaced_pod_exec, ...)` (WebSocket; the client
    offers v5 and v4) against a running pod: output, the exit code from the error channel, an
    interactive shell fed through write_stdin (text messages), as Airflow drives it."""
    from kubernetes.stream import stream
    c = "kubernetes (Python) stream"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    body = pod_manifest("py-exec")
    body["metadata"]["annotations"] = {"k8sless.dev/simulate-duration": "60s"}
    api.create_namespaced_pod("default", body)
    with step(c, "dev", "wait for Running", "phase Running"):
        deadline = time.time() + 30
        while api.read_namespaced_pod("py-exec", "default").status.phase != "Running":
            assert time.time() < deadline, "not Running after 30 s"
            time.sleep(0.2)
    with step(c, "dev", "exec echo (preloaded)", "stdout and stderr, as one string"):
        out = stream(api.connect_get_namespaced_pod_exec, "py-exec", "default",
                     command=["sh", "-c", "echo hi; echo err >&2"], stderr=True, stdin=False, stdout=True, tty=False)
        assert sorted(out.split()) == ["err", "hi"], repr(out)
    with step(c, "dev", "exec sh -c 'exit 3'", "returncode 3"):
        r = stream(api.connect_get_namespaced_pod_exec, "py-exec", "default", command=["sh", "-c", "exit 3"],
                   stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        r.run_forever(timeout=20)
        assert r.returncode == 3, r.returncode
    with step(c, "dev", "write_stdin to /bin/sh, read_stdout", "the command's output, then returncode 0"):
        r = stream(api.connect_get_namespaced_pod_exec, "py-exec", "default", command=["/bin/sh"],
                   stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
        r.write_stdin("echo from-stdin\n")
        got, deadline = "", time.time() + 20
        while "from-stdin" not in got and time.time() < deadline:
            r.update(timeout=1)
            got += r.read_stdout() if r.peek_stdout() else ""
        assert got == "from-stdin\n", repr(got)
        r.write_stdin("exit 0\n")
        r.run_forever(timeout=20)
        assert r.returncode == 0, r.returncode
        r.close()
    api.delete_namespaced_pod("py-exec", "default")


def test_exec_into_a_finished_pod_is_refused_with_kube_apiservers_words(dev):
    """The handshake fails with a 400 Status naming the phase (kubectl checks this itself;
    the Python client asks)."""
    from kubernetes.stream import stream
    c = "kubernetes (Python) stream"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    body = pod_manifest("py-exec-done")
    body["metadata"]["annotations"] = {"k8sless.dev/simulate-duration": "1s"}
    api.create_namespaced_pod("default", body)
    deadline = time.time() + 30
    while api.read_namespaced_pod("py-exec-done", "default").status.phase != "Succeeded":
        assert time.time() < deadline, "not Succeeded after 30 s"
        time.sleep(0.2)
    with step(c, "dev", "exec into a Succeeded pod", "400: cannot exec into a container in a completed pod"):
        with pytest.raises(client.exceptions.ApiException) as err:
            stream(api.connect_get_namespaced_pod_exec, "py-exec-done", "default", command=["true"],
                   stderr=True, stdin=False, stdout=True, tty=False)
        text = str(err.value)
        assert "400" in text and "cannot exec into a container in a completed pod; current phase is Succeeded" in text, text
    api.delete_namespaced_pod("py-exec-done", "default")
