"""The roles terraform/ grants contain the permissions that k8sless's own API calls need.

test_iam.py checks that the bindings are the documented ones; this checks that they are
enough: every call of iam_permissions.CALLS (the service's Compute Engine, Cloud Storage and
Cloud Logging calls, the guest's publish, upload, log write, metrics and image pulls, the
build's push and deploy, the pushes' invocation) needs a permission that a role granted to
its caller, on its resource or on the project, contains. Predefined roles' permissions are
data with a source (iam_permissions.PREDEFINED_ROLES); the custom role's are read from
terraform/.

The call /readyz makes is read from the store's code, so a readiness probe that needs a
permission the service lacks (issue 15: `storage.buckets.get`) fails here, not on the first
deploy.
"""

from __future__ import annotations

import re

import pytest

from deploy_helpers import ROOT, resources, substitute_name
from iam_permissions import CALLS, GUEST, PREDEFINED_ROLES, SERVICE, STATE
from test_iam import terraform_bindings

ALLOWED = "var.allowed_service_accounts"


def _custom_roles() -> dict[str, set[str]]:
    return {
        substitute_name(body["role_id"]): set(body["permissions"])
        for (rtype, _), body in resources().items()
        if rtype == "google_project_iam_custom_role"
    }


def _permissions(role: str) -> set[str]:
    custom = _custom_roles()
    if role in custom:
        return custom[role]
    assert role in PREDEFINED_ROLES, f"{role} is granted but iam_permissions.py does not list it"
    return PREDEFINED_ROLES[role]["permissions"]


def _grants(principal: str) -> list[tuple[str, str]]:
    return [(role, resource) for p, role, resource, _ in terraform_bindings() if p == principal]


def holds(principal: str, permission: str, resource: str) -> bool:
    return any(
        permission in _permissions(role)
        for role, on in _grants(principal)
        if on in (resource, "project")
    )


def _code_contains(where: str, needle: str) -> bool:
    path = ROOT / where
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix in (".rs", ".sh", ".tf")]
    return any(needle in f.read_text(encoding="utf-8", errors="replace") for f in files)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c[0]}:{c[1]}")
def test_the_call_is_in_the_code_and_its_caller_holds_the_permission(call):
    principal, what, permission, resource, where, needle = call
    assert _code_contains(where, needle), f"{what}: {needle!r} not found in {where}; is the table stale?"
    assert holds(principal, permission, resource), (
        f"{principal} makes {what}, which needs {permission} on {resource}: no role granted has it")
    if principal == GUEST:
        # A pod may run as one of allowed_service_accounts instead of the guest account.
        assert holds(ALLOWED, permission, resource), f"allowed_service_accounts lack {permission} for {what}"


def readiness_call() -> tuple[str, str]:
    """(description, permission) of the request the Cloud Storage store's ready() sends."""
    for path in sorted((ROOT / "src" / "store").rglob("*.rs")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"async fn ready\(&self\)[^{]*\{(.*?)\n    \}\n", text, re.S)
        if not m or "format!" not in m.group(1):
            continue
        body = m.group(1)
        url = re.search(r'format!\(\s*"([^"]*)"', body).group(1)
        if re.search(r"/b/\{\}/o", url):
            return f"{path.relative_to(ROOT)}: objects.list ({url})", "storage.objects.list"
        if re.search(r"/b/\{\}$", url):
            return f"{path.relative_to(ROOT)}: buckets.get ({url})", "storage.buckets.get"
        pytest.fail(f"{path}: ready() sends {url!r}, which this test does not know")
    pytest.fail("no Cloud Storage ready() found under src/store")


def test_readiness_probe_needs_only_what_the_service_holds():
    what, permission = readiness_call()
    assert holds(SERVICE, permission, STATE), (
        f"/readyz ({what}) needs {permission}, which no role of {SERVICE} on the bucket has: "
        "every startup probe would answer 503 and the revision would never serve")


def test_object_user_lacks_bucket_metadata():
    """The fact behind the readiness check above, from Google's roles reference."""
    role = PREDEFINED_ROLES["roles/storage.objectUser"]
    assert role["complete"] and "storage.buckets.get" not in role["permissions"]
    assert "storage.objects.list" in role["permissions"]


def test_every_custom_permission_is_used_by_a_call():
    needed = {permission for _, _, permission, _, _, _ in CALLS}
    for role, permissions in _custom_roles().items():
        assert permissions <= needed, f"{role} grants {sorted(permissions - needed)}, which no call needs"


def test_every_role_of_the_callers_is_needed_by_a_call():
    """No predefined role of the service, the guest or the build is there for nothing."""
    for principal in {c[0] for c in CALLS}:
        used = {c[2] for c in CALLS if c[0] == principal}
        for role, resource in _grants(principal):
            if role in _custom_roles():
                continue
            assert _permissions(role) & used, f"{principal} holds {role} on {resource}, which no call needs"
