"""The guest's awk JSON reader, on every awk this machine has (COS ships gawk)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from conftest import JSON_AWK
from kubelet_pods import StaticPod, running, terminated, waiting

AWKS = [a for a in ("mawk", "gawk", "busybox") if shutil.which(a)]


def run_awk(awk: str, text: str, op: str, **vars) -> subprocess.CompletedProcess:
    cmd = [awk] if awk != "busybox" else ["busybox", "awk"]
    for k, v in {"op": op, **vars}.items():
        cmd += ["-v", f"{k}={v}"]
    cmd += ["-f", str(JSON_AWK)]
    return subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("awk", AWKS)
def test_pod_status_is_extracted_exactly(awk):
    pod = StaticPod("demo", "default", "u-1", [("a", "busybox:1.36"), ("b", "busybox:1.36")],
                    init_containers=[("init", "busybox:1.36")])
    t = time.time()
    view = pod.view("Running", {"init": terminated(0, "Completed", t, t + 1), "a": running(t + 2),
                                "b": waiting("CrashLoopBackOff", 'back-off 10s restarting "b" \\ \u00e9')},
                    restarts={"b": 3})
    for pretty in (None, 2):
        text = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [view]}, indent=pretty, ensure_ascii=False)
        out = run_awk(awk, text, "pod", uid="u-1")
        assert out.returncode == 0, out.stderr
        head, status = out.stdout.split("\n", 1)
        uid, name, phase, sig = head.split("\t")
        assert (uid, name, phase) == ("u-1", "demo-k8sless-demo-1a2b3c", "Running")
        assert sig == ("phase=Running;initContainerStatuses:init=terminated/Completed/0/r0/false/false"
                       ";containerStatuses:a=running/r0/true/true"
                       ";containerStatuses:b=waiting/CrashLoopBackOff/r3/false/false")
        assert json.loads(status) == view["status"]
        assert "\n" not in status.strip()


@pytest.mark.parametrize("awk", AWKS)
def test_other_operations(awk):
    status = {"phase": "Running", "message": "x", "startTime": "2026-01-01T00:00:00Z",
              "containerStatuses": [{"name": "c", "restartCount": 2, "state": {"running": {}}}]}
    text = json.dumps(status)
    out = run_awk(awk, text, "nodelost", reason="NodeLost", message='gone "now"')
    assert json.loads(out.stdout) == {**status, "phase": "Failed", "reason": "NodeLost", "message": 'gone "now"'}
    assert run_awk(awk, text, "containers").stdout == "c\t2\n"
    assert run_awk(awk, text, "strs", paths=".phase .missing .containerStatuses[0].name").stdout == "Running\n\nc\n"
    assert run_awk(awk, '{"messageIds": ["1", "2"]}', "len", path=".messageIds").stdout == "2\n"
    assert run_awk(awk, '{"a": ', "raw", path=".a").returncode == 2
    assert run_awk(awk, '{"items": []}', "pod", uid="x").returncode == 1
