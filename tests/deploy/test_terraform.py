"""Terraform: every file parses, and the module builds what docs/deploy.md describes."""

from __future__ import annotations

import re

import pytest

from deploy_helpers import (
    CONFIG_DOC,
    EXAMPLE,
    MODULE,
    TERRAFORM,
    blocks,
    locals_of,
    one,
    parse,
    resources,
    tf_files,
    var_default,
)


def test_terraform_tree_has_module_and_example():
    assert (MODULE / "main.tf").is_file()
    assert (EXAMPLE / "main.tf").is_file()


@pytest.mark.parametrize("path", tf_files(TERRAFORM), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_tf_file_parses(path):
    parsed = parse(path)
    assert parsed, f"{path} is empty"


def test_provider_is_pinned():
    for directory in (MODULE, EXAMPLE):
        terraform = [t for p in tf_files(directory) for t in parse(p).get("terraform", [])]
        assert terraform, f"no terraform block in {directory}"
        google = one(terraform[0]["required_providers"])["google"]
        assert google["source"] == "hashicorp/google"
        assert "<" in google["version"], "upper bound on the provider's major version"


def test_example_root_calls_module_with_its_variables():
    module = blocks(EXAMPLE, "module")["k8sless"]
    assert module["source"] == "../modules/k8sless"
    variables = blocks(MODULE, "variable")
    passed = {k for k in module if k not in ("source", "version", "providers", "depends_on")}
    assert passed <= set(variables), passed - set(variables)
    required = {k for k, v in variables.items() if "default" not in v}
    assert required <= passed, f"example root misses required {required - passed}"


def test_apis_enabled():
    services = resources()[("google_project_service", "enabled")]["for_each"]
    for api in (
        "run",
        "compute",
        "pubsub",
        "cloudscheduler",
        "artifactregistry",
        "storage",
        "logging",
        "cloudbuild",
        "iam",
    ):
        assert f"{api}.googleapis.com" in services, api


def test_bucket_is_private_and_expires_records_logs_and_tombstones():
    bucket = resources()[("google_storage_bucket", "bucket")]
    assert bucket["for_each"] == "${local.buckets}"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    rule = one(one(bucket["dynamic"])["lifecycle_rule"]["content"])
    assert one(rule["action"])["type"] == "Delete"
    cond = one(rule["condition"])
    assert cond["age"] == "${lifecycle_rule.value.age}"
    assert "lifecycle_rule.value.prefixes" in cond["matches_prefix"]
    buckets = locals_of()["buckets"]
    rules = {}
    for expire in buckets["state"]["expire"]:
        (prefix,) = expire["prefixes"]
        rules[prefix] = expire["age"]
    assert rules == {"pods/": "${var.record_retention_days}", "logs/": "${var.log_retention_days}",
                     "tombstones/": 1}
    assert buckets["build"]["expire"] == [{"prefixes": [], "age": 7}]
    assert var_default("record_retention_days") == 30
    assert var_default("log_retention_days") == 30


def assert_invoker_oidc(block: dict) -> None:
    """`block` (a push config, an HTTP target) calls the service with an OIDC token of the
    invoker account, for the service's URL (what Cloud Run's run.invoker check accepts)."""
    oidc = one(block["oidc_token"])
    assert oidc["service_account_email"] == '${google_service_account.account["invoker"].email}'
    assert oidc["audience"] == "${local.service_url}"


def test_push_subscriptions():
    subs = locals_of()["push_subscriptions"]
    assert subs == {
        "status": {"topic": '${google_pubsub_topic.topic["status"].id}', "path": "/pubsub/push"},
        "compute_events": {"topic": '${google_pubsub_topic.topic["compute_events"].id}', "path": "/events/compute"},
    }
    sub = resources()[("google_pubsub_subscription", "push")]
    assert sub["for_each"] == "${local.push_subscriptions}"
    assert sub["topic"] == "${each.value.topic}"
    push = one(sub["push_config"])
    assert push["push_endpoint"] == "${local.service_url}${each.value.path}"
    assert_invoker_oidc(push)
    retry = one(sub["retry_policy"])
    assert retry["minimum_backoff"] and retry["maximum_backoff"]
    dead = one(sub["dead_letter_policy"])
    assert dead["dead_letter_topic"] == '${google_pubsub_topic.topic["dead_letter"].id}'
    assert 5 <= var_default("max_delivery_attempts") <= 100
    assert one(sub["expiration_policy"])["ttl"] == "", "a push subscription must never expire"


def test_compute_events_come_from_a_log_sink_to_the_events_topic():
    sink = resources()[("google_logging_project_sink", "compute_events")]
    assert sink["destination"] == 'pubsub.googleapis.com/${google_pubsub_topic.topic["compute_events"].id}'
    assert sink["unique_writer_identity"] is True
    event_filter = locals_of()["compute_event_filter"]
    # The exact audit log names, never a substring match any log writer can satisfy.
    assert "logName:" not in event_filter
    for log in ("activity", "system_event"):
        assert f'\\"projects/${{var.project_id}}/logs/cloudaudit.googleapis.com%2F{log}\\"' in event_filter
    assert "compute.googleapis.com" in event_filter
    methods = var_default("compute_event_methods")
    assert {"compute.instances.preempted", "compute.instances.hostError"} <= set(methods)
    assert any(m.endswith("compute.instances.delete") for m in methods)


def test_service_compute_grant_is_limited_to_this_deployments_vm_names():
    binding = resources()[("google_project_iam_member", "service_instance_manager")]
    condition = one(binding["condition"])
    expression = condition["expression"]
    for kind, segment in (("Instance", "instances"), ("Disk", "disks")):
        assert f"resource.type != 'compute.googleapis.com/{kind}'" in expression
        assert f"resource.name.extract('/{segment}/{{name}}').startsWith('${{local.vm_name_prefix}}')" in expression
    assert locals_of()["vm_name_prefix"] == "k8s-${substr(sha256(local.deployment), 0, 6)}-"
    env = locals_of()["env"]
    assert "K8SLESS_DEPLOYMENT" in str(env)


def test_scheduler_calls_gc_every_minute_with_oidc():
    job = resources()[("google_cloud_scheduler_job", "gc")]
    assert var_default("gc_schedule") == "* * * * *"
    target = one(job["http_target"])
    assert target["http_method"] == "POST"
    assert target["uri"] == "${local.service_url}/gc"
    assert_invoker_oidc(target)


def test_cloud_run_service():
    svc = resources()[("google_cloud_run_v2_service", "service")]
    assert svc["invoker_iam_disabled"] is False
    template = one(svc["template"])
    assert template["service_account"] == '${google_service_account.account["service"].email}'
    assert template["max_instance_request_concurrency"] == "${var.concurrency}"
    scaling = one(template["scaling"])
    assert scaling == {"min_instance_count": "${var.min_instances}", "max_instance_count": "${var.max_instances}"}
    container = one(template["containers"])
    limits = one(container["resources"])["limits"]
    assert limits == {"cpu": "${var.cpu}", "memory": "${var.memory}"}
    assert one(one(container["startup_probe"])["http_get"])["path"] == "/readyz"
    assert one(one(container["liveness_probe"])["http_get"])["path"] == "/livez"
    assert "${template[0].containers[0].image}" in one(svc["lifecycle"])["ignore_changes"]
    defaults = {k: var_default(k) for k in ("cpu", "memory", "concurrency", "min_instances", "max_instances")}
    assert defaults == {"cpu": "1", "memory": "512Mi", "concurrency": 80, "min_instances": 0, "max_instances": 10}


def _documented_env() -> tuple[set[str], set[str]]:
    """(all environment variables, those required for `serve`) of the configuration table in README.md."""
    names, required = set(), set()
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        found = set(re.findall(r"`((?:K8SLESS_[A-Z_]+)|RUST_LOG)`", cells[1]))
        names |= found
        if "required for `serve`" in cells[2]:
            required |= found
    return names, required


def _module_env() -> set[str]:
    expression = locals_of()["env"]
    return set(re.findall(r"\b((?:K8SLESS_[A-Z_]+)|RUST_LOG) = ", expression))


def test_service_env_uses_only_documented_names():
    documented, required = _documented_env()
    assert "K8SLESS_BUCKET" in required and "K8SLESS_PROJECT" in required
    env = _module_env()
    assert env <= documented, f"undocumented: {env - documented}"
    assert required <= env, f"required settings not wired: {required - env}"
    assert "K8SLESS_LISTEN" not in env, "Cloud Run's $PORT decides the listen address"


def test_service_env_is_wired_from_module_resources():
    expression = locals_of()["env"]
    for name, value in {
        "K8SLESS_BUCKET": 'google_storage_bucket.bucket["state"].name',
        "K8SLESS_TOPIC": 'google_pubsub_topic.topic["status"].id',
        "K8SLESS_SERVICE_URL": "local.service_url",
        "K8SLESS_GUEST_SERVICE_ACCOUNT": 'google_service_account.account["guest"].email',
        "K8SLESS_PUSH_SERVICE_ACCOUNT": 'google_service_account.account["invoker"].email',
    }.items():
        assert f"{name} = {value}" in expression, name


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_nothing_is_public():
    for path in tf_files(TERRAFORM):
        for value in _strings(parse(path)):
            assert "allUsers" not in value and "allAuthenticatedUsers" not in value, (path, value)


def test_kubelet_path_direct_vpc_egress_into_the_vms_network():
    """The service reaches kubelets over the VMs' network: Direct VPC egress from a subnet of its own."""
    svc = resources()[("google_cloud_run_v2_service", "service")]
    template = one(svc["template"])
    vpc = one(template["dynamic"])["vpc_access"]
    assert vpc["for_each"] == "${var.kubelet_access ? [1] : []}"
    content = one(vpc["content"])
    assert content["egress"] == "PRIVATE_RANGES_ONLY"
    nic = one(content["network_interfaces"])
    assert nic["network"] == "${local.network_name}"
    assert nic["subnetwork"] == "${google_compute_subnetwork.egress[0].name}"
    subnet = resources()[("google_compute_subnetwork", "egress")]
    assert subnet["network"] == "${local.network_name}"
    assert subnet["region"] == "${var.region}"
    assert subnet["ip_cidr_range"] == "${var.kubelet_egress_cidr}"
    assert var_default("kubelet_access") is True
    expression = locals_of()["env"]
    assert 'K8SLESS_KUBELET_ACCESS = var.kubelet_access ? "vpc" : "none"' in expression
    assert 'K8SLESS_KUBELET_SOURCE_RANGES = var.kubelet_access ? var.kubelet_egress_cidr : ""' in expression


def test_kubelet_firewall_admits_10250_from_the_egress_subnet_only():
    fw = resources()[("google_compute_firewall", "kubelet")]
    assert fw["direction"] == "INGRESS"
    assert fw["source_ranges"] == ["${google_compute_subnetwork.egress[0].ip_cidr_range}"]
    assert "source_tags" not in fw, "tags would widen the sources (ranges OR tags)"
    assert fw["target_tags"] == ["${local.kubelet_network_tag}"]
    allow = one(fw["allow"])
    assert allow == {"protocol": "tcp", "ports": ["10250"]}
    assert "deny" not in fw
    # The tag is the one src/translate/names.rs gives the VMs: k8sless- and the name's tag.
    assert locals_of()["kubelet_network_tag"] == "k8sless-${substr(sha256(local.deployment), 0, 6)}"
    names = (TERRAFORM.parent / "src" / "translate" / "names.rs").read_text(encoding="utf-8")
    assert 'format!("k8sless-{}", deployment_tag(deployment))' in names
    # The default egress range is private and narrow; the variable refuses /0.
    default = var_default("kubelet_egress_cidr")
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+/2[0-6]", default), default
    validation = one(blocks(MODULE, "variable")["kubelet_egress_cidr"]["validation"])
    assert ">= 8" in validation["condition"] and "<= 26" in validation["condition"]


def test_no_firewall_rule_admits_the_internet():
    rules = [r for (kind, _), r in resources().items() if kind == "google_compute_firewall"]
    rules += [r for path in tf_files(EXAMPLE) for (kind, rs) in
              ((k, v) for b in parse(path).get("resource", []) for k, v in b.items())
              if kind == "google_compute_firewall" for r in rs.values()]
    assert rules, "the kubelet rule exists"
    for rule in rules:
        sources = rule.get("source_ranges", [])
        assert sources, f"a rule without source ranges admits everyone: {rule}"
        for source in sources:
            assert source not in ("0.0.0.0/0", "::/0"), rule
            assert not source.endswith("/0"), rule
        assert rule.get("direction", "INGRESS") == "INGRESS"
