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


def simulated_pod(api, name: str, duration: str, phase: str) -> None:
    """Creates pod `name` in default, which dev's simulated guest runs for `duration`
    (k8sless.dev/simulate-duration), and waits up to 30 s for `phase`."""
    body = pod_manifest(name)
    body["metadata"]["annotations"] = {"k8sless.dev/simulate-duration": duration}
    api.create_namespaced_pod("default", body)
    deadline = time.time() + 30
    while api.read_namespaced_pod(name, "default").status.phase != phase:
        assert time.time() < deadline, f"not {phase} after 30 s"
        time.sleep(0.2)


def test_exec_stream(dev):
    """`kubernetes.stream.stream(connect_get_namespaced_pod_exec, ...)` (WebSocket; the client
    offers v5 and v4) against a running pod: output, the exit code from the error channel, an
    interactive shell fed through write_stdin (text messages), as Airflow drives it."""
    from kubernetes.stream import stream
    c = "kubernetes (Python) stream"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    with step(c, "dev", "wait for Running", "phase Running"):
        simulated_pod(api, "py-exec", "60s", "Running")
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


def test_portforward(dev):
    """`kubernetes.stream.portforward(connect_get_namespaced_pod_portforward, ..., ports=...)`
    (WebSocket `v4.channel.k8s.io`, which the service forwards to kubelet): an HTTP exchange
    through the pod's port (a listener of this test: the kubelet stand-in has no network
    namespace, so the pod's localhost is this machine's), and a port nothing listens on, whose
    error channel carries kubelet's words."""
    import socket
    import threading
    from kubernetes.stream import portforward
    c = "kubernetes (Python) portforward"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    simulated_pod(api, "py-forward", "60s", "Running")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        with conn:
            request = conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nserved " + request.split(b"\r\n")[0])

    threading.Thread(target=serve, daemon=True).start()
    with step(c, "dev", "an HTTP exchange through the port", "the listener's answer"):
        pf = portforward(api.connect_get_namespaced_pod_portforward, "py-forward", "default", ports=str(port))
        sock = pf.socket(port)
        sock.settimeout(20)
        sock.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
        got = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got == b"HTTP/1.0 200 OK\r\n\r\nserved GET /hello HTTP/1.0", got
        assert pf.error(port) is None, pf.error(port)
        pf.close()
    closed = socket.create_server(("127.0.0.1", 0))
    refused = closed.getsockname()[1]
    closed.close()
    with step(c, "dev", "a port nothing listens on", "kubelet's words on the error channel"):
        pf = portforward(api.connect_get_namespaced_pod_portforward, "py-forward", "default", ports=str(refused))
        sock = pf.socket(refused)
        sock.settimeout(20)
        assert sock.recv(4096) == b""
        deadline = time.time() + 10
        while pf.error(refused) is None and time.time() < deadline:
            time.sleep(0.1)
        error = pf.error(refused) or ""
        assert error.startswith(f"error forwarding port {refused} to pod "), error
        assert "connection refused" in error, error
        pf.close()
    server.close()
    api.delete_namespaced_pod("py-forward", "default")


def test_exec_into_a_finished_pod_is_refused_with_kube_apiservers_words(dev):
    """The handshake fails with a 400 Status naming the phase (kubectl checks this itself;
    the Python client asks)."""
    from kubernetes.stream import stream
    c = "kubernetes (Python) stream"
    api = client.CoreV1Api(config.new_client_from_config(str(dev.kubeconfig)))
    simulated_pod(api, "py-exec-done", "1s", "Succeeded")
    with step(c, "dev", "exec into a Succeeded pod", "400: cannot exec into a container in a completed pod"):
        with pytest.raises(client.exceptions.ApiException) as err:
            stream(api.connect_get_namespaced_pod_exec, "py-exec-done", "default", command=["true"],
                   stderr=True, stdin=False, stdout=True, tty=False)
        text = str(err.value)
        assert "400" in text and "cannot exec into a container in a completed pod; current phase is Succeeded" in text, text
    api.delete_namespaced_pod("py-exec-done", "default")
