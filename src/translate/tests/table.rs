//! The table: pods and the exact instance (or 422 causes) each becomes.

use serde_json::{Value, json};

use super::*;

mod placement;
mod sizing;
mod vm;

enum Want {
    Vm(Vm),
    Causes(Vec<(&'static str, &'static str, &'static str)>),
}

struct Row {
    name: &'static str,
    pod: Value,
    tweak: fn(&mut VmSettings),
    want: Want,
}

fn same(_: &mut VmSettings) {}

/// A row with the default settings.
fn r(name: &'static str, pod: Value, want: Want) -> Row {
    rt(name, pod, same, want)
}

/// A row whose settings `tweak` changes first.
fn rt(name: &'static str, pod: Value, tweak: fn(&mut VmSettings), want: Want) -> Row {
    Row {
        name,
        pod,
        tweak,
        want,
    }
}

fn causes(c: Vec<(&'static str, &'static str, &'static str)>) -> Want {
    Want::Causes(c)
}

/// One 422 cause: its reason, field and message.
fn cause(reason: &'static str, field: &'static str, message: &'static str) -> Want {
    Want::Causes(vec![(reason, field, message)])
}

fn ctr(name: &str, resources: Value) -> Value {
    json!({"name": name, "image": "busybox:1.36", "resources": resources})
}

fn req(cpu: &str, mem: &str) -> Value {
    json!({"requests": {"cpu": cpu, "memory": mem}})
}

fn one(resources: Value) -> Value {
    json!({"spec": {"containers": [ctr("app", resources)]}})
}

fn with(mut pod: Value, path: &str, v: Value) -> Value {
    let mut at = &mut pod;
    for part in path.split('.') {
        at = match part.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[part],
        };
    }
    *at = v;
    pod
}

/// `pod` with its `spec.nodeSelector` set to `labels`.
fn selector(pod: Value, labels: Value) -> Value {
    with(pod, "spec.nodeSelector", labels)
}

/// `pod` with the `k8sless.dev/machine-type` annotation naming `machine`.
fn machine_type(pod: Value, machine: &str) -> Value {
    with(
        pod,
        "metadata.annotations",
        json!({"k8sless.dev/machine-type": machine}),
    )
}

fn gpus(n: &str, accelerator: Option<&str>) -> Value {
    let mut p = one(json!({"limits": {"nvidia.com/gpu": n}}));
    if let Some(a) = accelerator {
        p["spec"]["nodeSelector"] = json!({"cloud.google.com/gke-accelerator": a});
    }
    p
}

/// `pod` with a required node affinity: any one of `terms` must match.
fn affinity(pod: Value, terms: &[Value]) -> Value {
    with(
        pod,
        "spec.affinity",
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}),
    )
}

/// A node selector term of one expression: `key` `operator` (`In`, `NotIn`) `values`.
fn term(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"matchExpressions": [{"key": key, "operator": operator, "values": values}]})
}

/// `pod` tolerating the taint of GKE's Spot nodes, as GKE's own Spot pods do.
fn spot_toleration(pod: Value) -> Value {
    with(
        pod,
        "spec.tolerations",
        json!([{"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]),
    )
}

/// `pod` with the `iam.gke.io/gcp-service-account` annotation naming `account`.
fn service_account(pod: Value, account: &str) -> Value {
    with(
        pod,
        "metadata.annotations",
        json!({"iam.gke.io/gcp-service-account": account}),
    )
}

fn small() -> Value {
    one(req("500m", "1Gi"))
}

const ALL: [&str; 4] = [
    "us-central1-a",
    "us-central1-b",
    "us-central1-c",
    "us-central1-f",
];
const ABC: [&str; 3] = ["us-central1-a", "us-central1-b", "us-central1-c"];
const ZONE: &str = "topology.kubernetes.io/zone";
const GPU_FIELD: &str = "spec.containers[0].resources.limits[nvidia.com/gpu]";
const ANNOTATION: &str = "metadata.annotations[k8sless.dev/machine-type]";
const INV: &str = "FieldValueInvalid";
const UNSUPPORTED: &str = "FieldValueNotSupported";

/// The e2-medium VM of a small pod, with what `change` sets: most rows expect it but for one
/// or two fields.
fn medium(change: fn(&mut Vm)) -> Want {
    let mut v = vm("e2-medium");
    change(&mut v);
    Want::Vm(v)
}

fn gpu_vm(machine: &'static str, zones: &[&'static str]) -> Vm {
    Vm {
        gpu: true,
        zones: zones.to_vec(),
        ..vm(machine)
    }
}

fn rows() -> Vec<Row> {
    let groups = sizing::GROUPS
        .iter()
        .chain(&placement::GROUPS)
        .chain(&vm::GROUPS);
    groups.flat_map(|group| group()).collect()
}

#[test]
fn table() {
    let rows = rows();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let mut failures = Vec::new();
    for row in rows {
        let mut s = settings();
        (row.tweak)(&mut s);
        let pod = make_pod(row.pod.clone());
        let got = translate(&pod, &s);
        match (&row.want, got) {
            (Want::Vm(v), Ok(plan)) => {
                if let Some(reason) = v.reason {
                    if plan.reason != reason {
                        failures.push(format!(
                            "{}: reason\n  got  {}\n  want {reason}",
                            row.name, plan.reason
                        ));
                    }
                }
                let want = expected(&pod, &s, v, &plan.reason);
                if plan.instance != want {
                    let g = serde_json::to_value(&plan.instance).unwrap_or_default();
                    let w = serde_json::to_value(&want).unwrap_or_default();
                    let mut g2 = g.clone();
                    let mut w2 = w.clone();
                    g2["metadata"] = Value::Null;
                    w2["metadata"] = Value::Null;
                    failures.push(format!(
                        "{}: instance differs ({})\n  got  {g2}\n  want {w2}",
                        row.name, plan.reason
                    ));
                }
                let zones: Vec<&str> = plan.zones.iter().map(String::as_str).collect();
                if zones != v.zones
                    || plan.zone != v.zones[0]
                    || plan.spot != v.spot
                    || plan.machine.name != v.machine
                {
                    failures.push(format!(
                        "{}: plan {zones:?} spot={} {}",
                        row.name, plan.spot, plan.machine.name
                    ));
                }
                let problems = check_body(&plan.zone, &plan.instance);
                if !problems.is_empty() {
                    failures.push(format!("{}: invalid body: {problems:?}", row.name));
                }
            }
            (Want::Causes(want), Err(causes)) => {
                let got: Vec<(&str, &str, &str)> = causes
                    .iter()
                    .map(|c| (c.reason.as_str(), c.field.as_str(), c.message.as_str()))
                    .collect();
                if got != *want {
                    failures.push(format!(
                        "{}: causes\n  got  {got:?}\n  want {want:?}",
                        row.name
                    ));
                }
            }
            (Want::Vm(_), Err(c)) => failures.push(format!("{}: unexpected 422 {c:?}", row.name)),
            (Want::Causes(_), Ok(plan)) => failures.push(format!(
                "{}: expected 422, got {} ({})",
                row.name, plan.machine.name, plan.reason
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
