"""kubectl's namespace commands (its pod flows, with the three bundled versions, are
tests/e2e/kubectl.rs). Uses the kubectl on PATH."""
from __future__ import annotations

import json
import subprocess

from conftest import run, tool
from flows import pod_manifest, step


def test_get_namespaces(dev, tmp_path):
    kubectl = tool("kubectl", "gcloud components install kubectl, or the Debian/Google package")
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod_manifest("kubectl-ns")))
    kc = [kubectl, f"--kubeconfig={dev.kubeconfig}", f"--cache-dir={tmp_path / 'cache'}"]
    run("kubectl create -n kc-team", [*kc, "create", "-n", "kc-team", "-f", manifest], service=dev)
    out = run("kubectl get ns", [*kc, "get", "ns"], service=dev)
    with step("kubectl", "dev", "get ns", "NAME STATUS AGE with default and kc-team, both Active"):
        lines = out.splitlines()
        assert lines[0].split() == ["NAME", "STATUS", "AGE"], out
        rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
        assert rows.get("default") == "Active" and rows.get("kc-team") == "Active", out
    out = run("kubectl get ns default -o yaml", [*kc, "get", "ns", "default", "-o", "yaml"], service=dev)
    with step("kubectl", "dev", "get ns default -o yaml", "kind: Namespace, phase: Active"):
        assert "kind: Namespace" in out and "phase: Active" in out, out


def test_apply_twice_with_host_network_false(dev, tmp_path):
    """docs/pod-to-vm.md#network: hostNetwork: false is kept as sent, so re-applying the same
    manifest has nothing to change (a live `true` would make kubectl patch an immutable field)."""
    kubectl = tool("kubectl", "gcloud components install kubectl, or the Debian/Google package")
    body = pod_manifest("kubectl-no-host-net")
    body["spec"]["hostNetwork"] = False
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(body))
    kc = [kubectl, f"--kubeconfig={dev.kubeconfig}", f"--cache-dir={tmp_path / 'cache'}"]
    r = subprocess.run([*kc, "apply", "-f", manifest], capture_output=True, text=True, timeout=60)
    with step("kubectl", "dev", "apply a pod with hostNetwork: false", "created, with the Warning printed"):
        assert r.returncode == 0, r.stderr
        assert "VM's network" in r.stderr, r.stderr
    out = run("kubectl apply (again)", [*kc, "apply", "-f", manifest], service=dev)
    with step("kubectl", "dev", "apply the same manifest again", "unchanged"):
        assert "unchanged" in out, out
