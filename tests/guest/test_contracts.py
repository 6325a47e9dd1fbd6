"""What the guest sends, checked against Google's published contracts and docs/guest-protocol.md.

- The reporter's publish request validates against the Pub/Sub discovery document
  (``PublishRequest``), and its first report carries the node facts.
- k8sless-logship's ``entries:write`` requests validate against the Cloud Logging
  discovery document (``WriteLogEntriesRequest``), at severities Cloud Logging keeps
  (INFO for stdout, ERROR for stderr), with the identifier the service reads.

The discovery documents come from ../shared/fixtures (or K8SLESS_FIXTURES_DIR). A
missing fixture skips with the reason, and fails under K8SLESS_REQUIRE_TOOLS=1.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import discovery
from conftest import GUEST_FILES, JSON_AWK, LIB_SH, kill_group, unavailable
from fakes import FakeLogging, FakeMetadata
from kubelet_pods import StaticPod, cri_log, running, terminated

LOGSHIP = GUEST_FILES / "k8sless-logship.sh"

MOUNTINFO = """\
22 1 8:3 / / ro,relatime shared:1 - ext2 /dev/root ro
30 22 8:1 /var /var rw,nosuid,nodev,noexec,relatime shared:7 - ext4 /dev/sda1 rw,commit=30
41 30 8:1 /var/lib/k8sless/bin /var/lib/k8sless/bin rw,nosuid,nodev,relatime shared:12 - ext4 /dev/sda1 rw
42 30 8:1 /var/lib/kubelet /var/lib/kubelet rw,relatime shared:13 - ext4 /dev/sda1 rw
"""

OS_RELEASE = """\
NAME="Container-Optimized OS"
ID=cos
PRETTY_NAME="Container-Optimized OS from Google"
VERSION=121
VERSION_ID=121
BUILD_ID=18867.90.23
"""

SETUP_FACTS = """\
cgroup_version=2
kubelet_source=download https://dl.k8s.io/release/v1.33.8/bin/linux/amd64/kubelet
containerd_config=/etc/containerd/config.toml (k8sless's; COS's CRI used cgroupfs on cgroup v2)
cgroup_driver=systemd
"""


def fixture(name: str) -> dict:
    doc = discovery.load(name)
    if doc is None:
        unavailable(f"{discovery.fixtures_dir() / name} is missing (set K8SLESS_FIXTURES_DIR)")
    return doc


def node_files(tmp: Path) -> dict:
    (tmp / "mountinfo").write_text(MOUNTINFO)
    (tmp / "os-release").write_text(OS_RELEASE)
    (tmp / "setup-facts").write_text(SETUP_FACTS)
    return {"K8SLESS_MOUNTINFO": tmp / "mountinfo", "K8SLESS_OS_RELEASE": tmp / "os-release",
            "K8SLESS_SETUP_FACTS_FILE": tmp / "setup-facts"}


def test_publish_request_and_node_facts(guest_factory, subscription):
    doc = fixture("pubsub.v1.json")
    publish = discovery.method(doc, "projects", "topics", "publish")
    assert publish["httpMethod"] == "POST" and publish["path"] == "v1/{+topic}:publish"

    g = guest_factory()
    pod = StaticPod(g.name, g.namespace, g.uid, [("main", "busybox:1.36")])
    t = time.time()
    g.kubelet.set_pod(pod.view("Running", {"main": running(t)}))
    g.start(**node_files(g.tmp))
    subscription.wait_for(1)
    req = json.loads((g.state_dir / "publish.json").read_text())
    assert discovery.validate(doc, "PublishRequest", req) == []
    d = pod.log_dir(g.pod_logs, "main")
    d.mkdir(parents=True, exist_ok=True)
    (d / "0.log").write_text(cri_log([("stdout", "F", "done")], t + 1))
    g.kubelet.set_pod(pod.view("Succeeded", {"main": terminated(0, "Completed", t, t + 1)}))
    msgs = subscription.wait_for(2)
    req = json.loads((g.state_dir / "publish.json").read_text())
    assert discovery.validate(doc, "PublishRequest", req) == []
    for m in req["messages"]:
        assert json.loads(base64.b64decode(m["data"]))["sequence"] >= 1

    first, second = msgs[0]["report"], msgs[1]["report"]
    assert "nodeFacts" not in second, "node facts go only in the first report"
    facts = first["nodeFacts"]
    assert len(json.dumps(facts)) < 4096
    assert facts["simulated"] is False
    assert (facts["osId"], facts["cosMilestone"], facts["cosBuildId"]) == ("cos", "121", "18867.90.23")
    assert facts["cgroupVersion"] == "2" and facts["cgroupDriver"] == "systemd"
    assert facts["kubeletSource"].startswith("download https://dl.k8s.io/")
    assert "k8sless's" in facts["containerdConfig"]
    assert facts["mounts"] == {
        "/var": "/var rw,nosuid,nodev,noexec,relatime",
        "/var/lib/kubelet": "/var/lib/kubelet rw,relatime",
        "/var/lib/k8sless/bin": "/var/lib/k8sless/bin rw,nosuid,nodev,relatime",
    }
    for key in ("loopback", "containerdCri", "containerdVersion", "kubeletVersion", "kernel"):
        assert isinstance(facts[key], str) and facts[key], key


def test_setup_failure_report_carries_node_facts(guest_factory, subscription):
    g = guest_factory()
    g.setup_failed.write_text("containerd did not start\n")
    g.start(**node_files(g.tmp))
    (m,) = subscription.wait_for(1)
    assert m["report"]["status"]["reason"] == "NodeSetupFailed"
    assert m["report"]["nodeFacts"]["cosMilestone"] == "121"


# ---- live logs ----------------------------------------------------------------

@pytest.fixture
def logship(tmp_path):
    if not shutil.which("curl"):
        unavailable("curl is not installed")
    # The pod's identity comes from k8sless-config, as on a VM (the user-data is the same
    # for every pod, so guest.env does not name it).
    metadata = FakeMetadata({"k8sless-config": json.dumps({"namespace": "default", "name": "demo"})})
    logging_api = FakeLogging()
    procs = []

    def start(**env):
        e = dict(os.environ)
        e.update({
            "K8SLESS_METADATA_URL": metadata.url, "K8SLESS_LOGGING_URL": logging_api.url,
            "K8SLESS_POD_LOG_DIR": str(tmp_path / "pods"), "K8SLESS_LOGSHIP_DIR": str(tmp_path / "spool"),
            "K8SLESS_JSON_AWK": str(JSON_AWK), "K8SLESS_LIB_SH": str(LIB_SH),
        })
        e.update({k: str(v) for k, v in env.items()})
        proc = subprocess.Popen(["bash", str(LOGSHIP)], env=e, stdout=subprocess.DEVNULL,
                                stderr=open(tmp_path / "logship.log", "a"), start_new_session=True)
        procs.append(proc)
        return proc

    yield start, logging_api, tmp_path
    for proc in procs:
        kill_group(proc)
    metadata.close()
    logging_api.close()


def write_cri(path: Path, lines: list[str]):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for line in lines:
            f.write(line + "\n")


def wait_entries(api: FakeLogging, n: int, log: Path, timeout=30) -> list[dict]:
    deadline = time.time() + timeout
    while len(api.entries()) < n:
        assert time.time() < deadline, (
            f"expected {n} entries, got {api.entries()}; logship said:\n{log.read_text()}")
        time.sleep(0.1)
    return api.entries()


def test_live_logs_are_written_at_kept_severities(logship):
    start, api, tmp = logship
    doc = fixture("logging.v2.json")
    write = discovery.method(doc, "entries", "write")
    assert write["httpMethod"] == "POST" and write["path"] == "v2/entries:write"
    log = tmp / "pods" / "default_demo-node_0c5c2f5e" / "main" / "0.log"
    write_cri(log, [
        "2026-11-30T10:41:07.412345678Z stdout F hello \"quoted\" \\ back",
        "2026-11-30T10:41:07.5Z stderr P half ",
        "2026-11-30T10:41:07.6Z stderr F and half",
    ])
    api.fail_next = 1  # the first write fails and is retried
    start()
    entries = wait_entries(api, 2, tmp / "logship.log")
    write_cri(log, ["2026-11-30T10:41:09Z stdout F later\ttab"])
    entries = wait_entries(api, 3, tmp / "logship.log")
    assert [(e["severity"], e["jsonPayload"]["MESSAGE"]) for e in entries] == [
        ("INFO", 'hello "quoted" \\ back'), ("ERROR", "half and half"), ("INFO", "later\ttab")]
    assert entries[0]["timestamp"] == "2026-11-30T10:41:07.412345678Z"
    for req in api.requests:
        assert discovery.validate(doc, "WriteLogEntriesRequest", req) == []
        assert req["logName"] == "projects/k8sless-test/logs/k8sless-containers"
        assert req["resource"] == {"type": "gce_instance", "labels": {
            "project_id": "k8sless-test", "instance_id": "4711471147114711", "zone": "us-central1-a"}}
        assert req["labels"]["k8sless.dev/container"] == "main"
        for e in req["entries"]:
            # The service's reader (src/pods/cloud_logging.rs) selects on this identifier.
            assert e["jsonPayload"]["SYSLOG_IDENTIFIER"] == "default/demo/main"
            # COS forwards journal entries only at WARNING and above; ours are written
            # directly, so INFO is kept: anything but DEFAULT/DEBUG is what we mean.
            assert e["severity"] in ("INFO", "ERROR")
    assert all(a == "Bearer ya29.fake-access-token" for a in api.auth)
