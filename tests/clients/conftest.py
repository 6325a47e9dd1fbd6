"""Shared fixtures of the client-compatibility suite (docs/clients.md).

One service per flavor for the whole session, shared by every client:
- `dev`: `k8sless dev --sim-timings zero` (embedded store, simulator, simulated guests);
- `serve`: `k8sless gce-sim` + `k8sless serve` on fake-gcs-server, with a `GuestPlayer` standing
  in for the VMs' guests (it pushes the reports a guest publishes and uploads each container's
  log to the bucket, as docs/guest-protocol.md says a guest does).

A missing tool skips with a printed reason, or fails when K8SLESS_REQUIRE_TOOLS=1 (CI).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "pysupport"))
from procs import Processes, free_port  # noqa: E402
PROJECT = "k8sless-clients"
BUCKET = "k8sless-clients"


def unavailable(reason: str):
    """Skip (or fail in CI) because a tool is missing."""
    if os.environ.get("K8SLESS_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required tool missing: {reason}", pytrace=False)
    print(f"skipped: {reason}")
    pytest.skip(reason)


def http(method: str, url: str, body=None, raw: bytes | None = None, content_type="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text and r.headers.get_content_type() == "application/json" else text


def binary() -> str:
    exe = os.environ.get("K8SLESS_BIN") or str(ROOT / "target" / "debug" / "k8sless")
    if not Path(exe).exists():
        pytest.fail(f"{exe} not built (cargo build)", pytrace=False)
    return exe


class Service:
    """A started k8sless: its URL, a kubeconfig for it, its log."""

    def __init__(self, flavor: str, url: str, workdir: Path, log: Path, ca: Path | None = None):
        self.flavor, self.url, self.workdir, self.log = flavor, url, workdir, log
        self.kubeconfig = workdir / "kubeconfig"
        ca_line = f"    certificate-authority: {ca}\n" if ca else ""
        user = "\n    token: anything\n" if ca else " {}\n"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: k8sless\n  cluster:\n    server: {url}\n{ca_line}"
            f"users:\n- name: k8sless\n  user:{user}"
            "contexts:\n- name: k8sless\n  context:\n    cluster: k8sless\n    user: k8sless\n    namespace: default\n"
            "current-context: k8sless\n")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_http(url: str, proc: subprocess.Popen, what: str, log: Path, seconds: float = 30):
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail(f"{what} did not start; log:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)
            time.sleep(0.05)


@pytest.fixture(scope="session")
def processes():
    p = Processes()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def dev(processes, tmp_path_factory) -> Service:
    """`k8sless dev` with instant simulated VMs; pods run `k8sless.dev/simulate-duration` (5 s)."""
    work = tmp_path_factory.mktemp("dev")
    port = free_port()
    log = work / "dev.log"
    proc = processes.start([binary(), "dev", "--listen", f"127.0.0.1:{port}", "--sim-timings", "zero",
                            "--log-format", "text"], log)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/readyz", proc, "k8sless dev", log)
    return Service("dev", url, work, log)


@pytest.fixture(scope="session")
def dev_tls(processes, tmp_path_factory) -> Service:
    """`k8sless dev --tls`, for clients that send a token or refuse plain HTTP (the JavaScript
    client does, unless told to skip TLS verification); the kubeconfig trusts its certificate."""
    work = tmp_path_factory.mktemp("dev-tls")
    port = free_port()
    log, ca = work / "dev.log", work / "ca.crt"
    proc = processes.start([binary(), "dev", "--listen", f"127.0.0.1:{port}", "--sim-timings", "zero",
                            "--log-format", "text", "--tls", "--tls-ca-file", ca], log)
    deadline = time.time() + 30
    while not ca.exists() or not _listening(port):
        if time.time() > deadline or proc.poll() is not None:
            pytest.fail(f"k8sless dev --tls did not start; log:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        time.sleep(0.05)
    return Service("dev --tls", f"https://127.0.0.1:{port}", work, log, ca=ca)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class GuestPlayer(threading.Thread):
    """Plays the guest of every pod `serve` creates: a Running report, the container logs uploaded
    to the bucket, a Succeeded report (each as the Pub/Sub push the service receives)."""

    def __init__(self, svc: str, sim: str, gcs: str, bucket: str, run_seconds: float = 3.0):
        super().__init__(daemon=True)
        self.svc, self.sim, self.gcs, self.bucket, self.run_seconds = svc, sim, gcs, bucket, run_seconds
        self.started_at: dict[str, float] = {}
        self.done: set[str] = set()
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def push(self, pod: dict, seq: int, status: dict, final: bool):
        meta = pod["metadata"]
        zone = meta.get("annotations", {}).get("k8sless.dev/instance", "")
        zone = zone.split("/zones/")[-1].split("/")[0] if "/zones/" in zone else zone.split("/")[0]
        vm = pod["spec"]["nodeName"]
        inst = http("GET", f"{self.sim}/compute/v1/projects/{PROJECT}/zones/{zone}/instances/{vm}")
        report = {"apiVersion": "k8sless.dev/v1", "kind": "PodReport", "uid": meta["uid"],
                  "namespace": meta["namespace"], "name": meta["name"],
                  "instance": {"name": vm, "id": str(inst["id"]), "zone": zone},
                  "sequence": seq, "final": final, "nodeLost": False, "status": status}
        envelope = {"message": {"data": base64.b64encode(json.dumps(report).encode()).decode(),
                                "messageId": f"{meta['uid']}-{seq}", "attributes": {},
                                "publishTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                    "subscription": f"projects/{PROJECT}/subscriptions/k8sless"}
        http("POST", f"{self.svc}/pubsub/push", envelope)

    @staticmethod
    def statuses(pod: dict, phase: str, start: str) -> dict:
        containers = []
        for c in pod["spec"]["containers"]:
            state = ({"running": {"startedAt": start}} if phase == "Running" else
                     {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start,
                                     "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}})
            containers.append({"name": c["name"], "image": c["image"], "imageID": f"player://{c['image']}",
                               "ready": phase == "Running", "restartCount": 0, "started": phase == "Running",
                               "state": state})
        ready = "True" if phase == "Running" else "False"
        return {"phase": phase, "startTime": start, "containerStatuses": containers,
                "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}]}

    def upload_logs(self, pod: dict):
        meta = pod["metadata"]
        for c in pod["spec"]["containers"]:
            name = urllib.parse.quote(f"logs/{meta['namespace']}/{meta['name']}/{c['name']}.log", safe="")
            text = f"hello from {meta['name']}/{c['name']} (guest player)\n"
            http("POST", f"{self.gcs}/upload/storage/v1/b/{self.bucket}/o?uploadType=media&name={name}",
                 raw=text.encode(), content_type="text/plain")

    def step(self):
        pods = http("GET", f"{self.svc}/api/v1/pods")["items"]
        now = time.time()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid in self.done or not pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if uid not in self.started_at:
                self.push(pod, 1, self.statuses(pod, "Running", start), False)
                self.started_at[uid] = now
            elif now - self.started_at[uid] >= self.run_seconds:
                self.upload_logs(pod)
                self.push(pod, 2, self.statuses(pod, "Succeeded", pod["status"].get("startTime", start)), True)
                self.done.add(uid)

    def run(self):
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception as e:  # noqa: BLE001 - reported by the tests that need it
                self.errors.append(repr(e))
            self.stopping.wait(0.3)


@pytest.fixture(scope="session")
def serve(processes, tmp_path_factory) -> Service:
    """`k8sless serve` on fake-gcs-server and the Compute Engine simulator, guests played."""
    gcs = os.environ.get("K8SLESS_TEST_GCS_ENDPOINT")
    if not gcs:
        unavailable("fake-gcs-server: K8SLESS_TEST_GCS_ENDPOINT is not set (scripts/test starts it)")
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:8]}"  # fake-gcs-server is shared with other suites
    http("POST", gcs + "/storage/v1/b", {"name": bucket})
    work = tmp_path_factory.mktemp("serve")
    sim_port, svc_port = free_port(), free_port()
    sim, svc = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{svc_port}"
    sim_log, svc_log = work / "gce-sim.log", work / "serve.log"
    p = processes.start([binary(), "gce-sim", "--listen", f"127.0.0.1:{sim_port}", "--timings", "zero"], sim_log)
    wait_http(sim + "/", p, "gce-sim", sim_log)
    p = processes.start([
        binary(), "serve", "--listen", f"127.0.0.1:{svc_port}", "--project", PROJECT, "--bucket", bucket,
        "--topic", f"projects/{PROJECT}/topics/k8sless-{uuid.uuid4().hex[:8]}", "--service-url", svc,
        "--storage-endpoint", gcs, "--compute-endpoint", f"{sim}/compute/v1", "--logging-endpoint", gcs,
        "--verify-tokens", "false", "--identity", "dev", "--compute-qps", "0", "--log-format", "text"], svc_log)
    wait_http(svc + "/readyz", p, "k8sless serve", svc_log)
    player = GuestPlayer(svc, sim, gcs, bucket)
    player.start()
    yield Service("serve", svc, work, svc_log)
    player.stopping.set()


@pytest.fixture(params=["dev", "serve"])
def service(request) -> Service:
    """Both flavors, for the flows that must pass on each."""
    return request.getfixturevalue(request.param)


def tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if not path:
        unavailable(f"{name} is not on PATH ({hint})")
    return path


def start(args: list, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Starts a client's flow in the background (see `finish`)."""
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd)


def finish(what: str, proc: subprocess.Popen, timeout: float = 240, service: Service | None = None) -> str:
    """Waits for a flow `start`ed; on failure, says which client and shows its output and the service log."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"{what} did not finish within {timeout:.0f}s\n--- output ---\n{out[-4000:]}", pytrace=False)
    if proc.returncode != 0:
        tail = f"\n--- k8sless {service.flavor} log (last lines) ---\n{service.log_tail()}" if service else ""
        pytest.fail(f"{what} failed (exit {proc.returncode})\n--- output ---\n{out[-4000:]}{tail}", pytrace=False)
    return out


def run(what: str, args: list, env: dict | None = None, timeout: float = 180, cwd: Path | None = None,
        service: Service | None = None, both: bool = False) -> str:
    """Runs a client's flow; on failure, says which client and shows its output and the service log."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})}, cwd=cwd)
    if r.returncode != 0:
        tail = f"\n--- k8sless {service.flavor} log (last lines) ---\n{service.log_tail()}" if service else ""
        pytest.fail(f"{what} failed (exit {r.returncode})\n--- stdout ---\n{r.stdout[-4000:]}\n"
                    f"--- stderr ---\n{r.stderr[-4000:]}{tail}", pytrace=False)
    return r.stdout + r.stderr if both else r.stdout
