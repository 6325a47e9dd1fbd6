//! Table-driven and property tests of the Pod → VM translation.
//!
//! Each table row (tests/table.rs) is a pod, optional settings changes, and either the exact
//! instance body expected (built here field by field from the row's few facts) or the exact
//! 422 causes. Every body produced is also checked against the Compute discovery document
//! (`../shared/fixtures/compute-v1.json`, skipped with a printed reason where absent) and the
//! simulator's insert checks.

mod table;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::gce::types::{
    AccessConfig, AttachedDisk, AttachedDiskInitializeParams, MetadataItem, NetworkInterface,
    Scheduling,
};
use crate::guest::GuestConfig;
use crate::sim::schema::Discovery;
use crate::testing::fixture;
use instance::guest_metadata;

const UID: &str = "9f1c2d3e-0000-4000-8000-00000000abcd";

fn settings() -> VmSettings {
    let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    VmSettings {
        project: "proj".into(),
        zone: "us-central1-a".into(),
        zones: list(&[
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f",
        ]),
        machine_families: list(&["e2", "n2d", "n2", "c3", "c4"]),
        default_machine_type: "e2-standard-2".into(),
        custom_machine_types: false,
        max_runtime: Duration::from_secs(4 * 3600),
        boot_allowance: Duration::from_secs(300),
        guest_service_account: Some("guest@proj.iam.gserviceaccount.com".into()),
        allowed_service_accounts: list(&["batch@proj.iam.gserviceaccount.com"]),
        network: "global/networks/default".into(),
        subnetwork: None,
        external_ip: true,
        image: "projects/cos-cloud/global/images/family/cos-121-lts".into(),
        disk_type: "pd-balanced".into(),
        default_accelerator: None,
        topic: "projects/proj/topics/k8sless".into(),
        bucket: "proj-k8sless".into(),
        deployment: "proj-k8sless".into(),
        service_url: "https://k8sless.test".into(),
        user_data_encoding: Default::default(),
    }
}

/// A pod named `p` in `default`, defaulted and validated as `create` does.
fn make_pod(v: Value) -> Pod {
    let mut v = v;
    v["apiVersion"] = "v1".into();
    v["kind"] = "Pod".into();
    v["metadata"]["name"] = "p".into();
    v["metadata"]["namespace"] = "default".into();
    v["metadata"]["uid"] = UID.into();
    let mut pod: Pod = serde_json::from_value(v).expect("pod");
    crate::pods::crud::defaults::apply(&mut pod);
    if let Err(c) = crate::pods::validate::validate(&pod) {
        panic!("table pod is not a valid pod: {c:?}");
    }
    pod
}

/// The facts a row states about its VM; everything else is the default below.
#[derive(Debug, Clone)]
struct Vm {
    machine: &'static str,
    zones: Vec<&'static str>,
    spot: bool,
    attach: Option<(&'static str, i32)>,
    gpu: bool,
    disk_gb: u64,
    disk_type: &'static str,
    max_run: u64,
    account: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    reason: Option<&'static str>,
    external_ip: bool,
    subnetwork: Option<&'static str>,
}

fn vm(machine: &'static str) -> Vm {
    Vm {
        machine,
        zones: vec![
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f",
        ],
        spot: false,
        attach: None,
        gpu: false,
        disk_gb: 10,
        disk_type: "pd-balanced",
        max_run: 14_400,
        account: "guest@proj.iam.gserviceaccount.com",
        labels: Vec::new(),
        reason: None,
        external_ip: true,
        subnetwork: None,
    }
}

/// The instance a row expects. The reason metadata item carries `reason` (the row's exact
/// reason where it states one).
fn expected(pod: &Pod, s: &VmSettings, v: &Vm, reason: &str) -> Instance {
    let zone = v.zones[0];
    let labels: BTreeMap<String, String> = [
        ("k8sless", "true"),
        ("k8sless-deployment", "proj-k8sless"),
        ("k8sless-namespace", "default"),
        ("k8sless-pod", "p"),
        ("k8sless-uid", UID),
    ]
    .iter()
    .chain(v.labels.iter())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Instance {
        name: names::vm_name("proj-k8sless", "default", "p"),
        description: Some("k8sless pod default/p".into()),
        machine_type: format!("zones/{zone}/machineTypes/{}", v.machine),
        labels,
        metadata: Some(Metadata {
            kind: None,
            fingerprint: None,
            items: expected_metadata(pod, v, reason),
        }),
        disks: vec![AttachedDisk {
            boot: Some(true),
            auto_delete: Some(true),
            disk_type: Some("PERSISTENT".into()),
            initialize_params: Some(AttachedDiskInitializeParams {
                source_image: Some(s.image.clone()),
                disk_size_gb: Some(v.disk_gb.to_string()),
                disk_type: Some(format!("zones/{zone}/diskTypes/{}", v.disk_type)),
            }),
        }],
        network_interfaces: vec![expected_nic(v)],
        service_accounts: vec![ServiceAccount {
            email: v.account.into(),
            scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
        }],
        scheduling: Some(expected_scheduling(v)),
        guest_accelerators: v
            .attach
            .map(|(a, n)| {
                vec![AcceleratorConfig {
                    accelerator_type: format!("zones/{zone}/acceleratorTypes/{a}"),
                    accelerator_count: n,
                }]
            })
            .unwrap_or_default(),
        shielded_instance_config: Some(ShieldedInstanceConfig {
            enable_secure_boot: true,
            enable_vtpm: true,
            enable_integrity_monitoring: true,
        }),
        ..Default::default()
    }
}

/// The metadata items a row expects, sorted by key.
fn expected_metadata(pod: &Pod, v: &Vm, reason: &str) -> Vec<MetadataItem> {
    let mut cfg = GuestConfig::new(
        "proj",
        "projects/proj/topics/k8sless",
        "proj-k8sless",
        "https://k8sless.test",
        "default",
        "p",
        UID,
    );
    cfg.install_gpu_driver = v.gpu;
    let items = guest_metadata(&cfg, pod, reason);
    assert!(
        items
            .iter()
            .any(|i| i.key == "k8sless-machine-type-reason" && i.value.as_deref() == Some(reason)),
        "the machine-type reason is in the metadata"
    );
    items
}

fn expected_nic(v: &Vm) -> NetworkInterface {
    NetworkInterface {
        network: Some("global/networks/default".into()),
        subnetwork: v.subnetwork.map(str::to_string),
        network_ip: None,
        access_configs: if v.external_ip {
            vec![AccessConfig {
                access_type: Some("ONE_TO_ONE_NAT".into()),
                name: Some("External NAT".into()),
                nat_ip: None,
            }]
        } else {
            Vec::new()
        },
    }
}

fn expected_scheduling(v: &Vm) -> Scheduling {
    Scheduling {
        provisioning_model: Some(if v.spot { "SPOT" } else { "STANDARD" }.into()),
        instance_termination_action: Some("DELETE".into()),
        on_host_maintenance: Some(
            if v.spot || v.gpu {
                "TERMINATE"
            } else {
                "MIGRATE"
            }
            .into(),
        ),
        automatic_restart: Some(false),
        preemptible: None,
        max_run_duration: Some(crate::gce::types::Duration {
            seconds: v.max_run.to_string(),
        }),
    }
}

fn discovery() -> Option<&'static Discovery> {
    static DOC: OnceLock<Option<Discovery>> = OnceLock::new();
    DOC.get_or_init(|| {
        fixture("compute-v1.json")
            .map(|p| Discovery::load(&p).expect("the Compute discovery fixture loads"))
    })
    .as_ref()
}

/// Checks an instance body as Compute Engine would: the discovery schema and the simulator's
/// insert rules. Returns the problems.
fn check_body(zone: &str, instance: &Instance) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(doc) = discovery() {
        let value = serde_json::to_value(instance).expect("json");
        problems.extend(doc.validate("Instance", &value, Some("compute.instances.insert")));
    }
    if let Err(e) = crate::sim::validate::check_insert(zone, instance) {
        problems.push(e);
    }
    problems
}

#[test]
fn every_instance_body_validates_against_the_discovery_schema() {
    // The rows check each body; this names the skip once when the fixture is missing.
    let pod = make_pod(json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}}));
    let plan = translate(&pod, &settings()).expect("plan");
    assert_eq!(check_body(&plan.zone, &plan.instance), Vec::<String>::new());
}

#[test]
fn zone_fallback_bodies_stay_valid() {
    let pod = make_pod(
        json!({"spec": {"containers": [{"name": "c", "image": "busybox",
        "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
        "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}}}),
    );
    let plan = translate(&pod, &settings()).expect("plan");
    for zone in &plan.zones {
        let body = plan.instance_in(zone);
        assert!(body.machine_type.starts_with(&format!("zones/{zone}/")));
        assert_eq!(check_body(zone, &body), Vec::<String>::new(), "{zone}");
    }
}

/// Brute force: every shape the settings allow that fits `r`, predefined or custom.
fn all_fitting(s: &VmSettings, r: &sizing::Request) -> Vec<MachineType> {
    let mut out: Vec<MachineType> = catalog::all()
        .iter()
        .filter(|m| m.accelerator.is_none())
        .filter(|m| s.machine_families.iter().any(|f| f == m.family))
        .filter(|m| sizing::fits(m, r))
        .cloned()
        .collect();
    if s.custom_machine_types {
        for family in s
            .machine_families
            .iter()
            .filter(|f| ["e2", "n2", "n2d"].contains(&f.as_str()))
        {
            for cpus in (2..=96u32).filter(|c| catalog::custom_vcpus_valid(family, *c)) {
                if u64::from(cpus) * 1000 < r.need_millicpu() {
                    continue;
                }
                let lo = (u64::from(cpus) * 512).max(r.need_memory_mib().div_ceil(256) * 256);
                // Price grows with memory: the least memory is the cheapest of this vCPU count.
                if let Some(m) = catalog::custom_of(family, cpus, lo) {
                    out.push(m);
                }
            }
        }
    }
    out
}

fn container(cpu: Option<u32>, mem_mib: Option<u32>, limits: bool, sidecar: bool) -> Value {
    let mut amounts = serde_json::Map::new();
    if let Some(c) = cpu {
        amounts.insert("cpu".into(), format!("{c}m").into());
    }
    if let Some(m) = mem_mib {
        amounts.insert("memory".into(), format!("{m}Mi").into());
    }
    let key = if limits { "limits" } else { "requests" };
    let mut c = json!({"name": "x", "image": "busybox", "resources": {key: amounts}});
    if sidecar {
        c["restartPolicy"] = "Always".into();
    }
    c
}

fn arb_container() -> impl Strategy<Value = (Option<u32>, Option<u32>, bool, bool)> {
    (
        proptest::option::of(0u32..70_000),
        proptest::option::of(0u32..300_000),
        any::<bool>(),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The chosen type fits the effective request, and no cheaper allowed type does.
    #[test]
    fn the_choice_fits_and_nothing_cheaper_does(
        apps in proptest::collection::vec(arb_container(), 1..4),
        inits in proptest::collection::vec(arb_container(), 0..3),
        spot in any::<bool>(),
        custom in any::<bool>(),
        families in proptest::sample::subsequence(vec!["e2", "n2d", "n2", "c3", "c4", "n1"], 1..=6),
    ) {
        let mut s = settings();
        s.custom_machine_types = custom;
        s.machine_families = families.iter().map(|f| f.to_string()).collect();
        let named = |v: Vec<Value>, prefix: &str| -> Vec<Value> {
            v.into_iter().enumerate().map(|(i, mut c)| { c["name"] = format!("{prefix}{i}").into(); c }).collect()
        };
        let apps: Vec<Value> = apps.into_iter().map(|(c, m, l, _)| container(c, m, l, false)).collect();
        let inits: Vec<Value> = inits.into_iter().map(|(c, m, l, side)| container(c, m, l, side)).collect();
        let mut spec = json!({"containers": named(apps, "app"), "initContainers": named(inits, "init")});
        if spot {
            spec["nodeSelector"] = json!({"cloud.google.com/gke-spot": "true"});
        }
        let pod = make_pod(json!({"spec": spec}));
        let r = sizing::effective_request(pod.spec.as_ref().expect("spec"));
        let fitting = all_fitting(&s, &r);
        match translate(&pod, &s) {
            Ok(plan) => {
                prop_assert!(sizing::fits(&plan.machine, &r), "{} does not fit {r:?}", plan.machine.name);
                prop_assert_eq!(plan.spot, spot);
                if r.stated {
                    let price = plan.machine.price(spot);
                    let cheaper: Vec<&MachineType> = fitting.iter().filter(|m| m.price(spot) < price).collect();
                    prop_assert!(cheaper.is_empty(), "{} at {price} but {:?} fit for less", plan.machine.name,
                        cheaper.iter().map(|m| (&m.name, m.price(spot))).collect::<Vec<_>>());
                    if plan.machine.is_custom() {
                        prop_assert!(fitting.iter().filter(|m| !m.is_custom()).all(|m| m.price(spot) > price),
                            "a custom type only when strictly cheaper");
                    }
                } else {
                    prop_assert_eq!(plan.machine.name.as_str(), "e2-standard-2");
                }
                prop_assert_eq!(check_body(&plan.zone, &plan.instance), Vec::<String>::new());
            }
            Err(causes) => {
                prop_assert!(r.stated && fitting.is_empty(), "{causes:?} for {r:?}");
                prop_assert_eq!(causes.len(), 1);
                prop_assert!(causes[0].message.starts_with("no machine type of the families"));
            }
        }
    }
}
