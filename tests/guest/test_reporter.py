"""The real guest reporter against fakes (kubelet, metadata, the service's log upload) and the Pub/Sub emulator.

Each test steps a fake kubelet through a realistic sequence of pod views and
checks what reaches Pub/Sub (order, sequence numbers, attributes, content),
what reaches Cloud Storage, and when the VM is powered off.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from conftest import SERVICE_URL, rfc3339
from kubelet_pods import StaticPod, cri_log, running, terminated, waiting


def record_figure(request, line: str):
    figures = request.config.__dict__.setdefault("_k8sless_figures", [])
    figures.append(line)


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def check_messages(guest, msgs, statuses, final_last=True):
    """Every message is a well-formed PodReport; together they are 1..N in order."""
    assert [m["report"]["sequence"] for m in msgs] == list(range(1, len(msgs) + 1))
    publish_times = [rfc3339(m["publishTime"]) for m in msgs]
    assert publish_times == sorted(publish_times), "published out of order"
    for i, m in enumerate(msgs):
        r = m["report"]
        seq = i + 1
        last = final_last and i == len(msgs) - 1
        assert r["apiVersion"] == "k8sless.dev/v1" and r["kind"] == "PodReport"
        assert (r["uid"], r["namespace"], r["name"]) == (guest.uid, guest.namespace, guest.name)
        assert r["instance"] == {"name": "k8sless-demo-1a2b3c", "id": "4711471147114711", "zone": "us-central1-a"}
        assert r["final"] is last and r["nodeLost"] is False
        assert abs(rfc3339(r["observedAt"]) - time.time()) < 300
        claims = jwt_claims(r["identityToken"])
        assert claims["aud"] == SERVICE_URL
        assert claims["google"]["compute_engine"]["instance_id"] == "4711471147114711"
        assert m["attributes"] == {
            "k8sless-uid": guest.uid, "k8sless-namespace": guest.namespace, "k8sless-name": guest.name,
            "k8sless-sequence": str(seq), "k8sless-final": "true" if last else "false"}
        assert m["orderingKey"] == guest.uid
        assert r["status"] == statuses[i], f"message {seq} carries another status"
    for q in guest.metadata.identity_requests:
        assert q == {"audience": SERVICE_URL, "format": "full"}


def step(guest, sub, view, expect_total):
    guest.kubelet.set_pod(view)
    sub.wait_for(expect_total)
    return view["status"]


def write_log(guest, pod, container, text, restart=0):
    d = pod.log_dir(guest.pod_logs, container)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{restart}.log").write_text(text)


def test_pending_running_succeeded_with_timing(guest_factory, subscription, request):
    """Pending -> Running -> exit 0; the log is uploaded; power-off comes last.

    Production settings here (poll 1 s, 5 s logging-agent flush) so that the
    timing figures mean something.
    """
    g = guest_factory()
    pod = StaticPod(g.name, g.namespace, g.uid, [("main", "busybox:1.36")])
    g.kubelet.set_pod(None)  # kubelet up, manifest not yet read
    g.start(K8SLESS_LOG_FLUSH_WAIT=5, K8SLESS_POLL_INTERVAL=1)
    t = time.time()
    statuses = [step(g, subscription, pod.view("Pending", {"main": waiting("ContainerCreating")}), 1)]
    statuses.append(step(g, subscription, pod.view("Running", {"main": running(t + 1)}), 2))
    write_log(g, pod, "main", cri_log([("stdout", "F", "hello from main"), ("stderr", "P", "partial "),
                                       ("stderr", "F", "line"), ("stdout", "F", "")], t + 2))
    exited = time.time()
    end = pod.view("Succeeded", {"main": terminated(0, "Completed", t + 1, exited)})
    statuses.append(step(g, subscription, end, 3))
    assert g.wait_exit(timeout=30) == 0
    msgs = subscription.settle(1.0)
    check_messages(g, msgs, statuses)
    assert g.service.read(f"logs/{g.namespace}/{g.name}/{g.uid}/main.log") == b"hello from main\npartial line\n\n"
    offs = g.poweroffs()
    assert len(offs) == 1, "power-off requested once"
    final_published = rfc3339(msgs[-1]["publishTime"])
    assert offs[0] >= final_published, "power-off before the final message was acknowledged"
    assert all(rfc3339(m["publishTime"]) <= offs[0] for m in msgs), "a message after power-off"
    to_final = final_published - exited
    to_poweroff = offs[0] - exited
    record_figure(request, f"container exit -> final message acknowledged: {to_final:.2f} s "
                           f"(poll 1 s); -> power-off requested: {to_poweroff:.2f} s (flush wait 5 s)")
    assert to_poweroff < 10
    assert to_final < 5


def test_exit_1_is_final_failed(guest_factory, subscription):
    g = guest_factory()
    pod = StaticPod(g.name, g.namespace, g.uid, [("main", "us-docker.pkg.dev/k8sless-test/app/job:1.2")])
    t = time.time()
    g.kubelet.set_pod(pod.view("Pending", {"main": waiting("ContainerCreating")}))
    g.start()
    statuses = [pod.view("Pending", {"main": waiting("ContainerCreating")})["status"]]
    subscription.wait_for(1)
    statuses.append(step(g, subscription, pod.view("Running", {"main": running(t)}), 2))
    write_log(g, pod, "main", cri_log([("stderr", "F", "fatal: no input")], t + 1))
    statuses.append(step(g, subscription, pod.view("Failed", {"main": terminated(1, "Error", t, t + 1)}), 3))
    assert g.wait_exit() == 0
    msgs = subscription.settle(0.5)
    check_messages(g, msgs, statuses)
    assert msgs[-1]["report"]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert g.service.read(f"logs/{g.namespace}/{g.name}/{g.uid}/main.log") == b"fatal: no input\n"
    assert len(g.poweroffs()) == 1


def test_oom_killed(guest_factory, subscription):
    g = guest_factory(name="hungry")
    pod = StaticPod(g.name, g.namespace, g.uid, [("eater", "python:3.12-slim")])
    t = time.time()
    g.kubelet.set_pod(pod.view("Running", {"eater": running(t)}))
    g.start()
    statuses = [pod.view("Running", {"eater": running(t)})["status"]]
    subscription.wait_for(1)
    write_log(g, pod, "eater", cri_log([("stdout", "F", "allocating")], t + 1))
    statuses.append(step(g, subscription,
                         pod.view("Failed", {"eater": terminated(137, "OOMKilled", t, t + 2)}), 2))
    assert g.wait_exit() == 0
    msgs = subscription.settle(0.5)
    check_messages(g, msgs, statuses)
    term = msgs[-1]["report"]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    assert g.service.read(f"logs/{g.namespace}/hungry/{g.uid}/eater.log") == b"allocating\n"


def test_image_pull_backoff_then_preempted(guest_factory, subscription):
    """ErrImagePull / ImagePullBackOff are reported (not final); the VM is then
    preempted: the reporter is stopped and the shutdown hook reports node lost."""
    g = guest_factory(name="private")
    image = "us-central1-docker.pkg.dev/k8sless-test/private/app:missing"
    pod = StaticPod(g.name, g.namespace, g.uid, [("app", image)])
    pull_err = waiting("ErrImagePull", f'failed to pull and unpack image "{image}": 403 Forbidden')
    backoff = waiting("ImagePullBackOff", f'Back-off pulling image "{image}"')
    g.kubelet.set_pod(pod.view("Pending", {"app": waiting("ContainerCreating")}))
    g.start()
    statuses = [pod.view("Pending", {"app": waiting("ContainerCreating")})["status"]]
    subscription.wait_for(1)
    statuses.append(step(g, subscription, pod.view("Pending", {"app": pull_err}), 2))
    statuses.append(step(g, subscription, pod.view("Pending", {"app": backoff}), 3))
    # The same state again with another message text is no transition.
    g.kubelet.set_pod(pod.view("Pending", {"app": waiting("ImagePullBackOff", "Back-off pulling image, again")}))
    time.sleep(2.5)
    assert len(subscription.settle(0.3)) == 3
    reasons = [m["report"]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
               for m in subscription.received]
    assert reasons == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff"]
    assert not any(m["report"]["final"] for m in subscription.received)

    # Preemption: systemd stops the reporter, then runs the shutdown hook.
    assert g.stop() == 0
    assert g.poweroffs() == []
    g.metadata.preempted = True
    hook = g.shutdown_hook()
    assert hook.returncode == 0, hook.stderr
    msgs = subscription.wait_for(4)
    check_messages(g, msgs[:3], statuses, final_last=False)
    lost = msgs[3]
    r = lost["report"]
    assert r["sequence"] == 4 and r["final"] is True and r["nodeLost"] is True
    assert lost["attributes"]["k8sless-final"] == "true" and lost["attributes"]["k8sless-sequence"] == "4"
    assert r["status"]["phase"] == "Failed" and r["status"]["reason"] == "Preempted"
    assert r["status"]["containerStatuses"] == statuses[-1]["containerStatuses"]
    # A second run of the hook (or one after a normal end) publishes nothing more.
    assert g.shutdown_hook().returncode == 0
    assert len(subscription.settle(1.0)) == 4
    assert g.poweroffs() == [], "the hook never powers off by itself"


def test_init_and_two_containers_ending_apart(guest_factory, subscription):
    g = guest_factory(namespace="batch", name="pair")
    pod = StaticPod(g.name, g.namespace, g.uid, [("fast", "busybox:1.36"), ("slow", "busybox:1.36")],
                    init_containers=[("prepare", "busybox:1.36")])
    t = time.time()
    first = pod.view("Pending", {"prepare": running(t)})
    g.kubelet.set_pod(first)
    g.start()
    statuses = [first["status"]]
    subscription.wait_for(1)
    write_log(g, pod, "prepare", cri_log([("stdout", "F", "prepared")], t))
    init_done = terminated(0, "Completed", t, t + 1)
    statuses.append(step(g, subscription, pod.view("Running", {"prepare": init_done, "fast": running(t + 2),
                                                               "slow": running(t + 2)}), 2))
    write_log(g, pod, "fast", cri_log([("stdout", "F", "fast done")], t + 3))
    statuses.append(step(g, subscription, pod.view("Running", {
        "prepare": init_done, "fast": terminated(0, "Completed", t + 2, t + 3), "slow": running(t + 2)}), 3))
    assert statuses[-1]["phase"] == "Running"
    write_log(g, pod, "slow", cri_log([("stdout", "F", "slow 1"), ("stdout", "F", "slow 2")], t + 5))
    statuses.append(step(g, subscription, pod.view("Succeeded", {
        "prepare": init_done, "fast": terminated(0, "Completed", t + 2, t + 3),
        "slow": terminated(0, "Completed", t + 2, t + 5)}), 4))
    assert g.wait_exit() == 0
    msgs = subscription.settle(0.5)
    check_messages(g, msgs, statuses)
    assert g.service.names("logs/batch/pair/") == [f"logs/batch/pair/{g.uid}/{c}.log"
                                                   for c in ("fast", "prepare", "slow")]
    assert g.service.read(f"logs/batch/pair/{g.uid}/prepare.log") == b"prepared\n"
    assert g.service.read(f"logs/batch/pair/{g.uid}/fast.log") == b"fast done\n"
    assert g.service.read(f"logs/batch/pair/{g.uid}/slow.log") == b"slow 1\nslow 2\n"
    assert len(g.poweroffs()) == 1


def test_restart_continues_sequence_and_restarted_container_log(guest_factory, subscription):
    """A reporter restart continues the sequence and does not repeat a report;
    the uploaded log is the one of the container's last run."""
    g = guest_factory(name="retry")
    pod = StaticPod(g.name, g.namespace, g.uid, [("job", "busybox:1.36")], restart_policy="OnFailure")
    t = time.time()
    v1 = pod.view("Running", {"job": running(t)})
    g.kubelet.set_pod(v1)
    g.start()
    subscription.wait_for(1)
    assert g.stop() == 0
    g.start()  # same state dir: nothing new to say
    time.sleep(2.5)
    # At-least-once: a report whose acknowledgement raced the stop may be sent
    # again, with the same sequence and status; nothing new is.
    again = subscription.settle(0.2)
    assert {m["report"]["sequence"] for m in again} == {1}
    assert all(m["report"]["status"] == v1["status"] for m in again)
    write_log(g, pod, "job", cri_log([("stdout", "F", "attempt 1")], t), restart=0)
    write_log(g, pod, "job", cri_log([("stdout", "F", "attempt 2")], t + 3), restart=1)
    v2 = pod.view("Succeeded", {"job": terminated(0, "Completed", t + 2, t + 3)}, restarts={"job": 1})
    step(g, subscription, v2, 2)
    assert g.wait_exit() == 0
    msgs = subscription.settle(0.5)
    first_of_each = list({m["report"]["sequence"]: m for m in reversed(msgs)}.values())[::-1]
    check_messages(g, sorted(first_of_each, key=lambda m: m["report"]["sequence"]), [v1["status"], v2["status"]])
    assert g.service.read(f"logs/{g.namespace}/retry/{g.uid}/job.log") == b"attempt 2\n"


def test_setup_failure_is_reported_final(guest_factory, subscription):
    g = guest_factory(name="broken")
    g.kubelet.up = False
    g.setup_failed.write_text("kubelet v1.33.5: SHA-256 mismatch")
    g.start()
    msgs = subscription.wait_for(1)
    assert g.wait_exit() == 0
    r = msgs[0]["report"]
    assert r["final"] is True and r["sequence"] == 1
    assert r["status"] == {"phase": "Failed", "reason": "NodeSetupFailed",
                           "message": "kubelet v1.33.5: SHA-256 mismatch"}
    assert len(g.poweroffs()) == 1


def test_pubsub_outage_of_30s_delays_but_loses_nothing(guest_factory, subscription, pubsub_proxy, request):
    """Pub/Sub is unreachable for 30 s (black-holed, then resetting) while the
    pod starts and ends: every report arrives, in order, and power-off waits."""
    g = guest_factory(pubsub_url=pubsub_proxy.url, name="patient")
    pod = StaticPod(g.name, g.namespace, g.uid, [("main", "busybox:1.36")])
    t = time.time()
    v1 = pod.view("Pending", {"main": waiting("ContainerCreating")})
    g.kubelet.set_pod(v1)
    g.start()
    subscription.wait_for(1)
    pubsub_proxy.set_mode("blackhole")
    outage_start = time.time()
    v2 = pod.view("Running", {"main": running(t + 1)})
    g.kubelet.set_pod(v2)
    time.sleep(8)
    write_log(g, pod, "main", cri_log([("stdout", "F", "done while Pub/Sub was away")], t + 2))
    exited = time.time()
    v3 = pod.view("Succeeded", {"main": terminated(0, "Completed", t + 1, exited)})
    g.kubelet.set_pod(v3)
    time.sleep(7)
    pubsub_proxy.set_mode("reset")
    time.sleep(max(0.0, outage_start + 30 - time.time()))
    assert len(subscription.settle(0.2)) == 1, "nothing gets through during the outage"
    assert g.poweroffs() == [], "no power-off while the final report is unacknowledged"
    pubsub_proxy.set_mode("pass")
    outage_end = time.time()
    subscription.wait_for(3, timeout=30)
    assert g.wait_exit(timeout=30) == 0
    msgs = subscription.settle(0.5)
    check_messages(g, msgs, [v1["status"], v2["status"], v3["status"]])
    offs = g.poweroffs()
    assert len(offs) == 1 and offs[0] >= rfc3339(msgs[-1]["publishTime"])
    assert g.service.read(f"logs/{g.namespace}/patient/{g.uid}/main.log") == b"done while Pub/Sub was away\n"
    record_figure(request, f"30 s Pub/Sub outage: final message acknowledged "
                           f"{rfc3339(msgs[-1]['publishTime']) - outage_end:.2f} s after it ended")
