//! Property-based fuzzing of everything a request body goes through: JSON/YAML decoding, pod
//! decoding with field validation, defaults, validation and translation. Whatever the input,
//! no panic, and every rejection is a Kubernetes Status with a 4xx code.
//!
//! CI runs the default number of cases; `PROPTEST_CASES=200000 cargo test --release --test fuzz`
//! is the longer run recorded in docs/benchmarks.md.

use axum::http::{HeaderMap, HeaderValue, header};
use k8s_openapi::api::core::v1::Pod;
use k8sless::testing::Error;
use k8sless::testing::default_args;
use k8sless::testing::render;
use k8sless::testing::{FieldValidation, decode_object, parse_value};
use proptest::prelude::*;
use serde_json::{Value, json};

/// 2,000 cases per target in CI; `PROPTEST_CASES` for longer runs.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

fn settings() -> k8sless::testing::VmSettings {
    default_args().vm_settings()
}

fn check_status(e: &Error) {
    let s = e.to_status();
    let code = s["code"].as_u64().unwrap_or(0);
    assert!(
        (400..500).contains(&code),
        "user input must not be a {code}: {s}"
    );
    assert_eq!(s["kind"], "Status");
    assert!(s["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(s["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// JSON values with pod-ish keys at every level, so decoding reaches deep.
fn podish() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "apiVersion",
        "kind",
        "metadata",
        "name",
        "namespace",
        "labels",
        "annotations",
        "generateName",
        "spec",
        "containers",
        "initContainers",
        "image",
        "command",
        "args",
        "env",
        "value",
        "valueFrom",
        "resources",
        "requests",
        "limits",
        "cpu",
        "memory",
        "nvidia.com/gpu",
        "ephemeral-storage",
        "ports",
        "containerPort",
        "hostPort",
        "protocol",
        "volumes",
        "emptyDir",
        "configMap",
        "volumeMounts",
        "mountPath",
        "nodeSelector",
        "restartPolicy",
        "hostNetwork",
        "activeDeadlineSeconds",
        "affinity",
        "tolerations",
        "bogus",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9.\\-/]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "500m",
            "1Gi",
            "2",
            "-1",
            "1e400",
            "0.0001",
            "Pod",
            "v1",
            "Never",
            "busybox",
            "nvidia-l4",
            "true"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn through_everything(value: Value) {
    for validation in [
        FieldValidation::Strict,
        FieldValidation::Warn,
        FieldValidation::Ignore,
    ] {
        match decode_object::<Pod>(value.clone(), "Pod", validation) {
            Ok(_) => {}
            Err(e) => check_status(&e),
        }
    }
    if let Ok(text) = serde_json::to_string(&value) {
        if let Err(e) = render(&text, &settings()) {
            check_status(&e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), yaml in any::<bool>()) {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(if yaml { "application/yaml" } else { "application/json" }));
        match parse_value(&h, &bytes) {
            Ok(v) => through_everything(v),
            Err(e) => check_status(&e),
        }
    }

    #[test]
    fn podish_json_never_panics(v in podish()) {
        through_everything(v);
    }

    #[test]
    fn mutated_valid_pods_never_panic(
        cpu in "[0-9]{0,3}(m|Gi|Mi|k|)?",
        mem in "[0-9]{0,4}(Mi|Gi|G|M|e3|)?",
        gpus in 0u32..10,
        accel in prop::sample::select(vec!["nvidia-l4", "nvidia-tesla-t4", "nvidia-h100-80gb", "nope", ""]),
        spot in any::<bool>(),
        zone in prop::sample::select(vec!["us-central1-a", "us-central1-b", "europe-west1-b", ""]),
        deadline in prop::option::of(-5i64..100_000),
        name in "[a-zA-Z0-9.\\-]{0,70}",
        mt in prop::option::of(prop::sample::select(vec!["e2-small", "g2-standard-4", "n1-standard-4", "e2-custom-2-4096", "x"])),
    ) {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu, "memory": mem}}}], "nodeSelector": {}}
        });
        if gpus > 0 {
            pod["spec"]["containers"][0]["resources"]["limits"] = json!({"nvidia.com/gpu": gpus.to_string()});
        }
        if !accel.is_empty() { pod["spec"]["nodeSelector"]["cloud.google.com/gke-accelerator"] = accel.into(); }
        if spot { pod["spec"]["nodeSelector"]["cloud.google.com/gke-spot"] = "true".into(); }
        if !zone.is_empty() { pod["spec"]["nodeSelector"]["topology.kubernetes.io/zone"] = zone.into(); }
        if let Some(d) = deadline { pod["spec"]["activeDeadlineSeconds"] = d.into(); }
        if let Some(m) = mt { pod["metadata"]["annotations"] = json!({"k8sless.dev/machine-type": m}); }
        through_everything(pod);
    }
}
