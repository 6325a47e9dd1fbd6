"""Teams on one deployment (docs/teams.md), through kubectl and the official Python client, against
`k8sless dev --admins root@example.com`: each person is a `dev:EMAIL` bearer token. The admin binds
`edit` in team-a to alice; alice creates, lists, reads logs of and deletes pods in team-a and is refused
in team-b and for `get pods -A`; bob is refused everywhere, in kube-apiserver's words; `kubectl auth
can-i` and `kubectl auth whoami` answer for each; a `PUT .../status` by alice is 403.

Namespaces are objects (docs/namespaces.md), not created on a first pod here (`--create-namespaces
false`, as `serve`): the admin creates them first.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import Service, _listening, binary, free_port, run, tool
from flows import pod_manifest, step

ROOT, ALICE, BOB = "root@example.com", "alice@example.com", "bob@example.com"


@pytest.fixture(scope="module")
def teams(processes, tmp_path_factory) -> Service:
    """`k8sless dev --tls --admins root@example.com`: over HTTPS, because client-go (kubectl)
    sends a bearer token only over TLS."""
    work = tmp_path_factory.mktemp("teams")
    port = free_port()
    log, ca = work / "dev.log", work / "ca.crt"
    proc = processes.start([binary(), "dev", "--listen", f"127.0.0.1:{port}", "--sim-timings", "zero",
                            "--log-format", "text", "--tls", "--tls-ca-file", ca, "--admins", ROOT,
                            "--create-namespaces", "false"], log)
    deadline = time.time() + 30
    while not ca.exists() or not _listening(port):
        if time.time() > deadline or proc.poll() is not None:
            pytest.fail(f"k8sless dev --tls --admins did not start; log:\n{log.read_text(errors='replace')[-3000:]}",
                        pytrace=False)
        time.sleep(0.05)
    return Service("dev --tls --admins", f"https://127.0.0.1:{port}", work, log, ca=ca)


def kubectl_as(svc: Service, tmp_path, who: str):
    kubectl = tool("kubectl", "gcloud components install kubectl, or the Debian/Google package")
    base = [kubectl, f"--kubeconfig={svc.kubeconfig}", f"--cache-dir={tmp_path / ('cache-' + who)}",
            f"--token=dev:{who}"]

    def ok(*args: str) -> str:
        return run(f"kubectl {' '.join(args)} (as {who})", [*base, *args], service=svc)

    def refused(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, f"kubectl {args} as {who} succeeded: {r.stdout}"
        return r

    return ok, refused


def test_kubectl_two_users_and_an_admin(teams, tmp_path):
    c, f = "kubectl", teams.flavor
    root, _ = kubectl_as(teams, tmp_path, ROOT)
    alice, alice_refused = kubectl_as(teams, tmp_path, ALICE)
    _, bob_refused = kubectl_as(teams, tmp_path, BOB)
    out = root("create", "namespace", "team-a") + root("create", "namespace", "team-b")
    with step(c, f, "admin: create namespace team-a, team-b", "created"):
        assert "namespace/team-a created" in out and "namespace/team-b created" in out, out
    out = root("create", "rolebinding", "alice-edit", "--clusterrole=edit", f"--user={ALICE}", "-n", "team-a")
    with step(c, f, "admin: create rolebinding alice-edit --clusterrole=edit", "created"):
        assert "rolebinding.rbac.authorization.k8s.io/alice-edit created" in out, out
    out = root("get", "rolebinding", "alice-edit", "-n", "team-a", "-o", "json")
    with step(c, f, "admin: get rolebinding -o json", "roleRef edit, subject alice"):
        rb = json.loads(out)
        assert rb["roleRef"]["name"] == "edit" and rb["subjects"][0]["name"] == ALICE, rb

    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "viewers", "namespace": "team-a"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
          "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol@example.com"}]}
    rb_file = tmp_path / "rb.json"
    rb_file.write_text(json.dumps(rb))
    out = root("apply", "-f", str(rb_file))
    rb["subjects"].append({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave@example.com"})
    rb_file.write_text(json.dumps(rb))
    out += root("apply", "-f", str(rb_file))
    with step(c, f, "admin: apply a RoleBinding, then apply it with one more subject", "created, configured"):
        assert "viewers created" in out and "viewers configured" in out, out
        got = root("get", "rolebinding", "viewers", "-n", "team-a", "-o", "jsonpath={.subjects[*].name}")
        assert got.split() == ["carol@example.com", "dave@example.com"], got

    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod_manifest("alice-pod")))
    alice("create", "-n", "team-a", "-f", str(manifest))
    out = alice("get", "pods", "-n", "team-a")
    with step(c, f, "alice: get pods -n team-a", "alice-pod listed"):
        assert "alice-pod" in out, out
    deadline = time.time() + 60
    while alice("get", "pod", "alice-pod", "-n", "team-a", "-o", "jsonpath={.status.phase}") != "Succeeded":
        assert time.time() < deadline, "alice-pod never succeeded"
        time.sleep(0.5)
    out = alice("logs", "alice-pod", "-n", "team-a")
    with step(c, f, "alice: logs alice-pod", "the container's output"):
        assert out.strip(), "empty log"

    r = alice_refused("get", "pods", "-n", "team-b")
    with step(c, f, "alice: get pods -n team-b", "Forbidden, kube-apiserver's wording"):
        assert ('Error from server (Forbidden): pods is forbidden: User "alice@example.com" cannot list resource '
                '"pods" in API group "" in the namespace "team-b"') in r.stderr, r.stderr
    r = alice_refused("get", "pods", "-A")
    with step(c, f, "alice: get pods -A", "Forbidden at the cluster scope"):
        assert ('pods is forbidden: User "alice@example.com" cannot list resource "pods" in API group "" at the '
                'cluster scope') in r.stderr, r.stderr
    r = bob_refused("get", "pods", "-n", "team-a")
    with step(c, f, "bob: get pods -n team-a", "Forbidden"):
        assert ('pods is forbidden: User "bob@example.com" cannot list resource "pods" in API group "" in the '
                'namespace "team-a"') in r.stderr, r.stderr
    r = bob_refused("create", "-n", "team-a", "-f", str(manifest))
    with step(c, f, "bob: create a pod in team-a", "Forbidden"):
        assert 'User "bob@example.com" cannot create resource "pods"' in r.stderr, r.stderr

    with step(c, f, "auth can-i create pods -n team-a", "yes for alice, no for bob"):
        assert alice("auth", "can-i", "create", "pods", "-n", "team-a").strip() == "yes"
        r = bob_refused("auth", "can-i", "create", "pods", "-n", "team-a")
        assert r.stdout.strip() == "no", r.stdout + r.stderr
        r = alice_refused("auth", "can-i", "create", "pods", "-n", "team-b")
        assert r.stdout.strip() == "no", r.stdout + r.stderr
    out = alice("auth", "can-i", "--list", "-n", "team-a")
    with step(c, f, "alice: auth can-i --list -n team-a", "edit's pod rules, and not pods/status writes"):
        rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.split() and not line.startswith(" ")}
        assert "create" in rows.get("pods", ""), out
        assert "update" not in rows.get("pods/status", "update"), out
    for who, user in ((alice, ALICE), (root, ROOT)):
        out = who("auth", "whoami")
        with step(c, f, f"auth whoami as {user}", "the Username row names them"):
            rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()}
            assert rows.get("Username") == [user], out
    bob, _ = kubectl_as(teams, tmp_path, BOB)
    out = bob("auth", "whoami", "-o", "json")
    with step(c, f, "auth whoami -o json as bob", "userInfo.username bob (whoami needs no grant)"):
        assert json.loads(out)["status"]["userInfo"]["username"] == BOB, out

    alice("delete", "pod", "alice-pod", "-n", "team-a", "--wait=false")
    r = alice_refused("delete", "rolebinding", "alice-edit", "-n", "team-a")
    with step(c, f, "alice: delete her own rolebinding", "Forbidden: edit grants no RBAC writes"):
        assert "rolebindings.rbac.authorization.k8s.io \"alice-edit\" is forbidden" in r.stderr, r.stderr


kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


def api_client(svc: Service, who: str) -> client.ApiClient:
    conf = client.Configuration(host=svc.url)
    conf.ssl_ca_cert = str(svc.workdir / "ca.crt")
    conf.api_key = {"authorization": f"dev:{who}"}
    conf.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(conf)


def forbidden(call) -> dict:
    with pytest.raises(ApiException) as e:
        call()
    assert e.value.status == 403, e.value
    return json.loads(e.value.body)


def test_python_client_two_users_and_an_admin(teams):
    c, f = "kubernetes (Python)", teams.flavor
    root, alice, bob = (api_client(teams, w) for w in (ROOT, ALICE, BOB))
    with step(c, f, "admin: create_namespace team-py, team-py-b", "201"):
        for ns in ("team-py", "team-py-b"):
            client.CoreV1Api(root).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    with step(c, f, "alice: create_namespace", "403 at the cluster scope"):
        body = forbidden(lambda: client.CoreV1Api(alice).create_namespace(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alices"}}))
        assert body["message"] == ('namespaces is forbidden: User "alice@example.com" cannot create resource '
                                   '"namespaces" in API group "" at the cluster scope'), body
    with step(c, f, "admin: create_namespaced_role_binding edit for alice in team-py", "201"):
        client.RbacAuthorizationV1Api(root).create_namespaced_role_binding("team-py", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "alice-edit"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": ALICE}]})
    core = client.CoreV1Api(alice)
    with step(c, f, "alice: create, list, read, delete a pod in team-py", "each succeeds"):
        core.create_namespaced_pod("team-py", pod_manifest("py-alice"))
        assert [p.metadata.name for p in core.list_namespaced_pod("team-py").items] == ["py-alice"]
        assert core.read_namespaced_pod("py-alice", "team-py").metadata.name == "py-alice"
    with step(c, f, "alice: replace_namespaced_pod_status", "403 naming pods/status"):
        pod = core.read_namespaced_pod("py-alice", "team-py")
        body = forbidden(lambda: core.replace_namespaced_pod_status("py-alice", "team-py", pod))
        assert body["message"] == ('pods "py-alice" is forbidden: User "alice@example.com" cannot update resource '
                                   '"pods/status" in API group "" in the namespace "team-py"'), body
    with step(c, f, "alice: read_namespaced_pod_log", "the container's output once it ran"):
        deadline = time.time() + 60
        while core.read_namespaced_pod("py-alice", "team-py").status.phase != "Succeeded":
            assert time.time() < deadline, "never succeeded"
            time.sleep(0.5)
        assert core.read_namespaced_pod_log("py-alice", "team-py").strip()
    with step(c, f, "alice: team-py-b and all namespaces", "403 each"):
        body = forbidden(lambda: core.create_namespaced_pod("team-py-b", pod_manifest("nope")))
        assert body["reason"] == "Forbidden" and body["details"]["kind"] == "pods", body
        body = forbidden(lambda: core.list_pod_for_all_namespaces())
        assert body["message"].endswith('cannot list resource "pods" in API group "" at the cluster scope'), body
    with step(c, f, "bob: list in team-py", "403 in kube-apiserver's words"):
        body = forbidden(lambda: client.CoreV1Api(bob).list_namespaced_pod("team-py"))
        assert body["message"] == ('pods is forbidden: User "bob@example.com" cannot list resource "pods" in API '
                                   'group "" in the namespace "team-py"'), body
    with step(c, f, "create_self_subject_access_review", "allowed for alice, not for bob"):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "team-py"}}}
        assert client.AuthorizationV1Api(alice).create_self_subject_access_review(review).status.allowed is True
        assert client.AuthorizationV1Api(bob).create_self_subject_access_review(review).status.allowed is False
    with step(c, f, "create_self_subject_review", "names each"):
        for api, who in ((alice, ALICE), (bob, BOB)):
            got = client.AuthenticationV1Api(api).create_self_subject_review({
                "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            assert got.status.user_info.username == who, got
    with step(c, f, "alice: delete_namespaced_pod", "deleted"):
        core.delete_namespaced_pod("py-alice", "team-py")
