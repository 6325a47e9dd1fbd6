"""Pods as kubelet 1.33's read-only ``/pods`` shows a static pod in standalone mode.

The shapes follow what kubelet serves: the static pod's name carries the node
name as a suffix, the config annotations say it came from a file, the status
has the five pod conditions, hostIP/podIP (host network), startTime, qosClass
and per-container statuses with image, imageID, containerID, started, ready,
restartCount, volumeMounts and user.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timezone

NODE = "k8sless-demo-1a2b3c"
HOST_IP = "10.128.0.7"


def ts(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cid(seed: str) -> str:
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def _image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:" + hashlib.sha256(image.encode()).hexdigest()


def waiting(reason: str, message: str | None = None) -> dict:
    w = {"reason": reason}
    if message:
        w["message"] = message
    return {"waiting": w}


def running(started: float) -> dict:
    return {"running": {"startedAt": ts(started)}}


def terminated(exit_code: int, reason: str, started: float, finished: float, message: str | None = None) -> dict:
    t = {"exitCode": exit_code, "reason": reason, "startedAt": ts(started), "finishedAt": ts(finished)}
    if message:
        t["message"] = message
    return {"terminated": t}


class StaticPod:
    """Builds successive kubelet views of one static pod."""

    def __init__(self, name: str, namespace: str, uid: str, containers: list[tuple[str, str]],
                 init_containers: list[tuple[str, str]] = (), restart_policy: str = "Never",
                 created: float = 1_790_000_000.0):
        self.name, self.namespace, self.uid = name, namespace, uid
        self.containers = list(containers)
        self.init_containers = list(init_containers)
        self.restart_policy = restart_policy
        self.created = created

    @property
    def kubelet_name(self) -> str:
        return f"{self.name}-{NODE}"

    def log_dir(self, root, container: str):
        return root / f"{self.namespace}_{self.kubelet_name}_{self.uid}" / container

    def _spec(self) -> dict:
        def c(name, image):
            return {"name": name, "image": image, "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
        spec = {"containers": [c(*x) for x in self.containers], "restartPolicy": self.restart_policy,
                "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "hostNetwork": True,
                "securityContext": {}, "schedulerName": "default-scheduler", "nodeName": NODE,
                "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"}
        if self.init_containers:
            spec["initContainers"] = [c(*x) for x in self.init_containers]
        return spec

    def _container_status(self, name: str, image: str, state: dict, restarts: int = 0) -> dict:
        kind = next(iter(state))
        st = copy.deepcopy(state)
        status = {"name": name, "state": st, "lastState": {}, "ready": kind == "running",
                  "restartCount": restarts, "image": image, "imageID": "",
                  "started": kind == "running",
                  "volumeMounts": [], "user": {"linux": {"uid": 0, "gid": 0, "supplementalGroups": [0]}}}
        created = kind != "waiting" or st["waiting"]["reason"] == "CrashLoopBackOff"
        if created:
            status["imageID"] = _image_id(image)
            status["containerID"] = _cid(f"{self.uid}/{name}/{restarts}")
        if kind == "terminated":
            st["terminated"]["containerID"] = status["containerID"]
        return status

    def view(self, phase: str, states: dict[str, dict], restarts: dict[str, int] | None = None,
             reason: str | None = None, message: str | None = None) -> dict:
        """The pod in ``phase`` with each container in ``states[name]``."""
        restarts = restarts or {}
        t0 = self.created
        all_init_done = all(next(iter(states.get(n, waiting("PodInitializing")))) == "terminated"
                            for n, _ in self.init_containers)
        ready = phase == "Running" and all(next(iter(states.get(n, {"x": 0}))) == "running"
                                           for n, _ in self.containers)

        def cond(kind, ok, why=None):
            c = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
                 "lastTransitionTime": ts(t0 + 1)}
            if not ok and why:
                c["reason"] = why
            return c

        status = {
            "phase": phase,
            "conditions": [
                cond("PodReadyToStartContainers", True),
                cond("Initialized", all_init_done, "ContainersNotInitialized"),
                cond("Ready", ready, "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"),
                cond("ContainersReady", ready, "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"),
                cond("PodScheduled", True),
            ],
            "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}],
            "podIP": HOST_IP, "podIPs": [{"ip": HOST_IP}],
            "startTime": ts(t0),
            "qosClass": "BestEffort",
        }
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        if self.init_containers:
            status["initContainerStatuses"] = [
                self._container_status(n, img, states.get(n, waiting("PodInitializing")), restarts.get(n, 0))
                for n, img in self.init_containers]
        status["containerStatuses"] = [
            self._container_status(n, img, states.get(n, waiting("PodInitializing" if self.init_containers else "ContainerCreating")), restarts.get(n, 0))
            for n, img in self.containers]
        return {
            "metadata": {
                "name": self.kubelet_name, "namespace": self.namespace, "uid": self.uid,
                "creationTimestamp": None,
                "annotations": {"kubernetes.io/config.hash": self.uid,
                                "kubernetes.io/config.seen": ts(t0).replace("Z", ".123456789Z"),
                                "kubernetes.io/config.source": "file"},
            },
            "spec": self._spec(),
            "status": status,
        }


def cri_log(lines: list[tuple[str, str, str]], t: float) -> str:
    """CRI log file text from (stream, tag, message) triples."""
    stamp = datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return "".join(f"{stamp} {stream} {tag} {msg}\n" for stream, tag, msg in lines)
