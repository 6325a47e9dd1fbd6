"""The IAM bindings of terraform/ are exactly the least-privilege table of docs/deploy.md.

Each binding is reduced to (principal, role, resource, condition), in the vocabulary of the
table: service accounts by their account id with the default name (`k8sless-guest`), custom
roles by role id (`k8sless_instance_manager`), resources by Terraform address or `project`.
"""

from __future__ import annotations

import re

import pytest

from deploy_helpers import (
    DEPLOY_DOC,
    TERRAFORM,
    locals_of,
    markdown_section,
    markdown_table,
    one,
    resources,
    substitute_name,
)

IAM_HEADING = "## IAM: least privilege"
ROLE_HEADING = "### The instance manager role"

# Attribute that names the resource of each kind of binding, and how to name that resource.
SCOPES = {
    "google_project_iam_member": None,
    "google_service_account_iam_member": "service_account_id",
    "google_storage_bucket_iam_member": "bucket",
    "google_pubsub_topic_iam_member": "topic",
    "google_pubsub_subscription_iam_member": "subscription",
    "google_artifact_registry_repository_iam_member": "repository",
    "google_cloud_run_v2_service_iam_member": "name",
}

PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def _all_resources():
    return resources(TERRAFORM)


def _account_id(key: str) -> str:
    """The account id of the module's service account `key` (`account_id = "${var.name}-${each.key}"`)."""
    account = _all_resources()[("google_service_account", "account")]
    assert key in locals_of()["service_accounts"], key
    return substitute_name(account["account_id"].replace("${each.key}", key))


def _for_each_var(body: dict) -> str:
    """`for_each = toset(var.x)` -> "var.x" (the table says: each member of var.x)."""
    m = re.fullmatch(r"\$\{toset\((var\.\w+)\)\}", body["for_each"])
    assert m, body["for_each"]
    return m.group(1)


def _principal(body: dict) -> str:
    member = body["member"]
    if m := re.fullmatch(r'\$\{google_service_account\.account\["(\w+)"\]\.member\}', member):
        return _account_id(m.group(1))
    if member == "${local.pubsub_service_agent}":
        return "Pub/Sub service agent"
    if m := re.fullmatch(r"\$\{google_logging_project_sink\.(\w+)\.writer_identity\}", member):
        return f"google_logging_project_sink.{m.group(1)}"
    if member in ("${each.value}", "serviceAccount:${each.value}"):
        return _for_each_var(body)
    pytest.fail(f"unrecognised member {member!r}")


def _role(body: dict) -> str:
    role = body["role"]
    if m := re.fullmatch(r"\$\{google_project_iam_custom_role\.(\w+)\.name\}", role):
        return substitute_name(_all_resources()[("google_project_iam_custom_role", m.group(1))]["role_id"])
    assert role.startswith("roles/"), role
    return role


def _instance_keys(address: str) -> list[str]:
    """The keys of a resource made with `for_each = local.x` (a map in locals)."""
    rtype, name = address.split(".")
    m = re.fullmatch(r"\$\{local\.(\w+)\}", _all_resources()[(rtype, name)]["for_each"])
    assert m, f"{address}: for_each is not a local map"
    return sorted(locals_of()[m.group(1)])


def _resources(rtype: str, body: dict) -> list[str]:
    """What a binding is on: one resource, or (`for_each` over a resource made with for_each,
    `each.value.name`) each instance of it, as `address["key"]`."""
    attr = SCOPES[rtype]
    if attr is None:
        assert body["project"] == "${var.project_id}"
        return ["project"]
    value = body[attr]
    if m := re.fullmatch(r"\$\{(google_\w+\.\w+(?:\[\"\w+\"\])?)\.(?:name|id)\}", value):
        return [m.group(1)]
    if value == "projects/${var.project_id}/serviceAccounts/${each.value}":
        return [_for_each_var(body)]
    each = re.fullmatch(r"\$\{(google_\w+\.\w+)\}", body.get("for_each", ""))
    if value in ("${each.value.name}", "${each.value.id}") and each:
        return [f'{each.group(1)}["{key}"]' for key in _instance_keys(each.group(1))]
    pytest.fail(f"unrecognised {attr} {value!r} in {rtype}")


def _condition(body: dict) -> str:
    return one(body["condition"])["title"] if "condition" in body else ""


def _from_table(body: dict) -> list[dict]:
    """A binding made with `for_each = local.x` (a map of objects, iam.tf's tables): one body
    per entry, each `${each.value.f}` replaced by the entry's `f`. Any other binding: itself."""
    m = re.fullmatch(r"\$\{local\.(\w+)\}", body.get("for_each", ""))
    if not m:
        return [body]
    table = locals_of()[m.group(1)]
    assert isinstance(table, dict) and table, f"local.{m.group(1)} is not a map of bindings"
    bodies = []
    for key, entry in table.items():
        assert isinstance(entry, dict), f"local.{m.group(1)}[{key!r}] is not an object"

        def field(value, entry=entry, key=key):
            f = re.fullmatch(r"\$\{each\.value\.(\w+)\}", value) if isinstance(value, str) else None
            if not f:
                return value
            assert f.group(1) in entry, f"local.{m.group(1)}[{key!r}] has no {f.group(1)}"
            return entry[f.group(1)]

        bodies.append({k: field(v) for k, v in body.items() if k != "for_each"})
    return bodies


def terraform_bindings() -> list[tuple[str, str, str, str]]:
    found = []
    for (rtype, name), resource_body in _all_resources().items():
        if re.search(r"_iam_(binding|policy|audit_config)$", rtype) or rtype == "google_project_iam_audit_config":
            pytest.fail(f"{rtype}.{name}: only additive *_iam_member bindings are allowed")
        if not rtype.endswith("_iam_member"):
            continue
        assert rtype in SCOPES, f"{rtype}.{name}: a kind of binding the table does not cover"
        for body in _from_table(resource_body):
            for resource in _resources(rtype, body):
                found.append((_principal(body), _role(body), resource, _condition(body)))
    return found


def _code(cell: str) -> str:
    """The text of a table cell without backticks and without a trailing note in parentheses."""
    cell = re.sub(r"\s*\([^()]*\)$", "", cell)
    return cell.replace("`", "").strip()


def documented_bindings() -> list[tuple[str, str, str, str]]:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    rows = markdown_table(markdown_section(text, IAM_HEADING))
    out = []
    for cells in rows:
        assert len(cells) == 5, f"IAM table row needs 5 cells: {cells}"
        principal, role, resource, condition, why = cells
        assert why, f"no reason given for {cells}"
        condition = "" if condition in ("", "—", "-") else _code(condition)
        out.append((_code(principal), _code(role), _code(resource), condition))
    return out


def test_iam_table_is_exactly_the_module_bindings():
    documented = documented_bindings()
    actual = terraform_bindings()
    assert len(documented) == len(set(documented)), "duplicate rows in the IAM table"
    assert len(actual) == len(set(actual)), "duplicate bindings in terraform/"
    missing_from_doc = sorted(set(actual) - set(documented))
    missing_from_tf = sorted(set(documented) - set(actual))
    assert not missing_from_doc and not missing_from_tf, (
        f"in terraform, not in docs/deploy.md: {missing_from_doc}; "
        f"in docs/deploy.md, not in terraform: {missing_from_tf}"
    )


def test_no_primitive_roles():
    for principal, role, resource, _ in terraform_bindings():
        assert role not in PRIMITIVE_ROLES, (principal, role, resource)


def test_guest_and_callers_hold_only_what_the_issue_allows():
    by_principal: dict[str, set[tuple[str, str]]] = {}
    for principal, role, resource, _ in terraform_bindings():
        by_principal.setdefault(principal, set()).add((role, resource))
    assert by_principal[_account_id("guest")] == {
        ("roles/pubsub.publisher", 'google_pubsub_topic.topic["status"]'),
        ("roles/logging.logWriter", "project"),
        ("roles/monitoring.metricWriter", "project"),
        ("roles/artifactregistry.reader", "google_artifact_registry_repository.images"),
    }
    # A pod may run as one of allowed_service_accounts: each gets exactly the guest's grants.
    assert by_principal["var.allowed_service_accounts"] == by_principal[_account_id("guest")]
    assert by_principal[_account_id("invoker")] == {
        ("roles/run.invoker", "google_cloud_run_v2_service.service"),
    }
    service = by_principal[_account_id("service")]
    assert ("roles/iam.serviceAccountUser", 'google_service_account.account["guest"]') in service
    assert ("roles/storage.objectUser", 'google_storage_bucket.bucket["state"]') in service
    assert ("roles/logging.viewer", "project") in service
    project_roles = {role for role, resource in service if resource == "project"}
    assert project_roles == {"roles/logging.viewer", substitute_name("${var.name}_instance_manager")}


def test_custom_role_permissions_are_documented():
    (role,) = [b for (t, _), b in resources().items() if t == "google_project_iam_custom_role"]
    section = markdown_section(DEPLOY_DOC.read_text(encoding="utf-8"), ROLE_HEADING)
    # The bulleted list (items and their indented continuation lines) is the role.
    listed = "\n".join(line for line in section.splitlines() if line.startswith(("- ", "  ")))
    documented = set(re.findall(r"`(compute\.[A-Za-z]+\.[A-Za-z]+)`", listed))
    assert documented == set(role["permissions"])
