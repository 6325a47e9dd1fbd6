"""lightkube (tests/requirements.txt) against both flavors (dev, serve): create(Namespace), list(Namespace), create, get, list with
labels, patch, server-side apply, watch to Succeeded, logs, delete."""
from __future__ import annotations

import pytest

from flows import pod_manifest, step

lightkube = pytest.importorskip("lightkube")
from lightkube import Client, KubeConfig  # noqa: E402
from lightkube.resources.core_v1 import Namespace, Pod  # noqa: E402
from lightkube.types import PatchType  # noqa: E402


def test_lightkube_flow(service):
    c = "lightkube"
    client = Client(KubeConfig.from_file(str(service.kubeconfig)), field_manager="clients-suite")
    name = "lightkube-one"
    with step(c, service.flavor, "create(Namespace lk-team)", "created (409 if already there)"):
        try:
            client.create(Namespace.from_dict({"metadata": {"name": "lk-team"}}))
        except lightkube.ApiError as e:
            assert e.status.code == 409, e.status
    with step(c, service.flavor, "create(Pod)", "created"):
        created = client.create(Pod.from_dict(pod_manifest(name, {"flow": "lightkube"})), namespace="lk-team")
        assert created.metadata.name == name
    with step(c, service.flavor, "list(Namespace)", "default and lk-team"):
        names = [n.metadata.name for n in client.list(Namespace)]
        assert "default" in names and "lk-team" in names, names
        assert client.get(Namespace, "lk-team").status.phase == "Active"
    with step(c, service.flavor, "get, list with labels", "the pod"):
        assert client.get(Pod, name, namespace="lk-team").metadata.uid == created.metadata.uid
        listed = list(client.list(Pod, namespace="lk-team", labels={"flow": "lightkube"}))
        assert [p.metadata.name for p in listed] == [name]
    with step(c, service.flavor, "patch (merge) labels", "label set"):
        patched = client.patch(Pod, name, {"metadata": {"labels": {"patched": "yes"}}},
                               namespace="lk-team", patch_type=PatchType.MERGE)
        assert patched.metadata.labels["patched"] == "yes"
    with step(c, service.flavor, "apply (server-side)", "annotation applied"):
        manifest = pod_manifest(name, {"flow": "lightkube"})
        manifest["metadata"]["annotations"] = {"applied": "yes"}
        applied = client.apply(Pod.from_dict(manifest), namespace="lk-team")
        assert applied.metadata.annotations["applied"] == "yes"
    with step(c, service.flavor, "watch to Succeeded", "a MODIFIED event with phase Succeeded"):
        phase = None
        for _, obj in client.watch(Pod, namespace="lk-team", fields={"metadata.name": name},
                                     server_timeout=30):
            phase = obj.status.phase
            if phase == "Succeeded":
                break
        assert phase == "Succeeded", phase
    with step(c, service.flavor, "log", "the container's output"):
        assert "".join(client.log(name, namespace="lk-team")).strip()
    with step(c, service.flavor, "delete", "gone"):
        client.delete(Pod, name, namespace="lk-team")
