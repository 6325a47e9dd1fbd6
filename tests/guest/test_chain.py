"""The whole chain, end to end, with the guest's real reporter (issue 7).

kubectl creates a pod on ``k8sless serve`` backed by the Compute Engine
simulator (``k8sless gce-sim``) and fake-gcs-server. The real reporter, fed by
a fake kubelet and a fake metadata server that describe that pod's VM,
publishes to the Pub/Sub emulator, which pushes to the service's
``/pubsub/push``. kubectl then sees Running and Succeeded, ``POST /gc`` keeps
the VM during the finished grace and deletes it after, and ``kubectl logs``
returns the log the reporter archived.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import uuid
from pathlib import Path

import pytest

from conftest import BUCKET, PROJECT, REPO, Processes, Subscription, free_port, http, unavailable
from fakes import FakeMetadata
from kubelet_pods import StaticPod, cri_log, running, terminated, waiting

GRACE_S = 3


def binary() -> Path:
    path = Path(os.environ.get("K8SLESS_BIN", REPO / "target" / "debug" / "k8sless"))
    if not path.exists():
        unavailable(f"the k8sless binary {path} is missing (cargo build, or set K8SLESS_BIN)")
    return path


def kubectl_path() -> str:
    path = shutil.which("kubectl")
    if not path:
        unavailable("kubectl is not on PATH")
    return path


def wait_http(url: str, proc: subprocess.Popen, what: str, log: Path, timeout: float = 20):
    deadline = time.time() + timeout
    while True:
        try:
            http("GET", url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"{what} did not start:\n{log.read_text()}")
            time.sleep(0.1)


@pytest.fixture
def processes():
    started = Processes()
    yield started.start
    started.stop()


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo hello"]
"""


def test_report_push_record_gc_logs(tmp_path, pubsub_emulator, gcs_server, guest_factory, processes, request):
    k8sless = binary()
    kubectl = kubectl_path()
    t0 = time.time()

    # ---- the simulator and the service ----
    sim_port, svc_port = free_port(), free_port()
    sim_url, svc = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{svc_port}"
    sim_log, svc_log = tmp_path / "gce-sim.log", tmp_path / "serve.log"
    sim = processes([k8sless, "gce-sim", "--listen", f"127.0.0.1:{sim_port}", "--timings", "zero"], sim_log)
    wait_http(sim_url + "/", sim, "gce-sim", sim_log)
    suffix = uuid.uuid4().hex[:10]
    topic = f"projects/{PROJECT}/topics/chain-{suffix}"
    service = processes([
        k8sless, "serve", "--listen", f"127.0.0.1:{svc_port}", "--project", PROJECT, "--bucket", BUCKET,
        "--topic", topic, "--service-url", svc, "--storage-endpoint", gcs_server,
        "--compute-endpoint", f"{sim_url}/compute/v1", "--logging-endpoint", gcs_server,
        "--verify-tokens", "false", "--identity", "dev", "--finished-grace", f"{GRACE_S}s", "--collect-interval", "1h",
        "--compute-qps", "0", "--log-format", "text"], svc_log)
    wait_http(svc + "/version", service, "k8sless serve", svc_log)

    def dump_logs():
        if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
            for p in (sim_log, svc_log):
                print(f"--- {p.name} ---\n{p.read_text() if p.exists() else ''}")
    request.addfinalizer(dump_logs)

    # ---- kubectl creates the pod ----
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")

    def kc(*args, check=True) -> str:
        r = subprocess.run([kubectl, f"--server={svc}", f"--kubeconfig={kubeconfig}", *args],
                           capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
        return r.stdout

    name = f"chain-{suffix}"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(MANIFEST.format(name=name))
    kc("apply", "-f", str(manifest))
    created = json.loads(kc("get", "pod", name, "-o", "json"))
    uid = created["metadata"]["uid"]
    vm = created["spec"]["nodeName"]
    zone = created["metadata"]["annotations"]["k8sless.dev/instance"]
    zone = zone.split("/zones/")[-1].split("/")[0] if "/zones/" in zone else zone.split("/")[0]
    instance_url = f"{sim_url}/compute/v1/projects/{PROJECT}/zones/{zone}/instances/{vm}"
    instance = http("GET", instance_url)
    instance_id = str(instance["id"])

    # ---- the emulator pushes to the service ----
    http("PUT", f"{pubsub_emulator}/v1/{topic}", {})
    http("PUT", f"{pubsub_emulator}/v1/projects/{PROJECT}/subscriptions/chain-{suffix}",
         {"topic": topic, "ackDeadlineSeconds": 10,
          "pushConfig": {"pushEndpoint": f"{svc}/pubsub/push"}})

    # ---- the guest: the real reporter for that VM ----
    g = guest_factory(namespace="default", name=name, uid=uid)
    g.config.update({"topic": topic, "bucket": BUCKET, "serviceUrl": svc})
    g.metadata.close()
    g.metadata = FakeMetadata({"k8sless-config": json.dumps(g.config)}, instance_name=vm,
                              instance_id=instance_id, zone=zone)
    pod = StaticPod(name, "default", uid, [("main", "busybox:1.36")])
    t = time.time()
    g.kubelet.set_pod(pod.view("Pending", {"main": waiting("ContainerCreating")}))
    # The log goes to the real service, which writes it under the pod's uid.
    g.start(K8SLESS_GUEST_API_URL=svc)

    def phase() -> str:
        return kc("get", "pod", name, "-o", "jsonpath={.status.phase}")

    def wait_phase(want: str, timeout: float = 20):
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            seen = phase()
            if seen == want:
                return
            time.sleep(0.2)
        raise AssertionError(f"kubectl never saw {want} (last {seen!r}); reporter log:\n{g.log_text()}")

    g.kubelet.set_pod(pod.view("Running", {"main": running(t + 1)}))
    wait_phase("Running")

    d = pod.log_dir(g.pod_logs, "main")
    d.mkdir(parents=True, exist_ok=True)
    (d / "0.log").write_text(cri_log([("stdout", "F", "hello from the chain"), ("stderr", "P", "partial "),
                                      ("stderr", "F", "line")], t + 2))
    g.kubelet.set_pod(pod.view("Succeeded", {"main": terminated(0, "Completed", t + 1, time.time())}))
    wait_phase("Succeeded")
    succeeded_at = time.time()
    # /gc right away: the grace has not passed, the VM stays.
    http("POST", f"{svc}/gc", {})
    assert time.time() - succeeded_at < GRACE_S, "too slow to check the grace"
    assert http("GET", instance_url)["name"] == vm, "deleted before the grace passed"
    assert g.wait_exit(timeout=30) == 0, g.log_text()
    assert len(g.poweroffs()) == 1, "power-off requested once"

    # ---- kubectl logs: the archived log ----
    deadline = time.time() + 10
    while True:
        logs = kc("logs", name, check=False)
        if logs == "hello from the chain\npartial line\n" or time.time() > deadline:
            break
        time.sleep(0.3)
    assert logs == "hello from the chain\npartial line\n"
    assert g.service.uploads == [], "the upload went to the real service"

    # ---- /gc after the grace deletes the VM ----
    time.sleep(max(0.0, succeeded_at + GRACE_S + 1 - time.time()))
    deadline = time.time() + 15
    while True:
        http("POST", f"{svc}/gc", {})
        try:
            got = http("GET", instance_url)
        except urllib.error.HTTPError as e:
            assert e.code == 404
            break
        assert got["status"] in ("RUNNING", "STOPPING", "TERMINATED", "STOPPED"), got["status"]
        assert time.time() < deadline, f"VM still there: {got['status']}"
        time.sleep(0.5)
    assert phase() == "Succeeded", "the pod stays visible after its VM is collected"
    assert kc("logs", name) == "hello from the chain\npartial line\n"
    assert time.time() - t0 < 60
