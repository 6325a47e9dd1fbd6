//! Property-based fuzzing of everything a request body goes through: JSON/YAML decoding, pod
//! decoding with field validation, defaults, validation and translation, and the whole HTTP
//! stack (create, patch, `PUT .../status`) with hostile strings in every field: multibyte
//! characters (cut at every byte), very long strings, control characters. Whatever the input,
//! no panic, and every rejection is a Kubernetes Status with a 4xx code.
//!
//! CI runs 2,000 cases per target; `PROPTEST_CASES=100000 cargo test --release --test fuzz`
//! is the longer run recorded in docs/security.md.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use k8s_openapi::api::core::v1::Pod;
use k8sless::testing::Error;
use k8sless::testing::default_args;
use k8sless::testing::{FieldValidation, decode_object, parse_value};
use k8sless::testing::{KubeletAccess, render};
use k8sless::testing::{Stack, StackBuilder, router};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

/// 2,000 cases per target in CI; `PROPTEST_CASES` for longer runs.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

/// The HTTP target runs a quarter as many by default (each case is four requests).
fn http_cases() -> u32 {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        cases()
    } else {
        cases() / 4
    }
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

/// Strings an attacker would send: short ASCII, any printable Unicode, control characters,
/// a multibyte character at every byte offset (the cuts at 58 and 63 bytes included), and
/// very long runs of multibyte characters.
fn hostile_string() -> impl Strategy<Value = String> {
    let multibyte = prop::sample::select(vec!["é", "日", "😀", "e\u{301}", "\u{202e}", "ß"]);
    prop_oneof![
        3 => "[a-z0-9.\\-/]{0,12}",
        2 => "\\PC{0,24}",
        1 => "[\\x00-\\x1f\\x7f]{1,8}",
        2 => ("[a-z0-9-]{50,66}", multibyte.clone(), "[a-z]{0,3}")
            .prop_map(|(a, m, b)| format!("{a}{m}{b}")),
        1 => (1usize..400, multibyte.clone()).prop_map(|(n, m)| m.repeat(n)),
        1 => (10_000usize..80_000, multibyte).prop_map(|(n, m)| m.repeat(n)),
    ]
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
        hostile_string().prop_map(Value::from),
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
            prop::collection::btree_map(
                prop_oneof![4 => keys.clone().prop_map(String::from), 1 => hostile_string()],
                inner,
                0..6
            )
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
        if let Err(e) = render(&text, &settings(), &KubeletAccess::None) {
            check_status(&e);
        }
    }
}

/// One service for the HTTP targets, on a runtime that outlives every case.
fn service() -> &'static (tokio::runtime::Runtime, Stack) {
    static SERVICE: OnceLock<(tokio::runtime::Runtime, Stack)> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let stack = rt.block_on(async {
            let stack = StackBuilder::new(default_args())
                .start()
                .await
                .expect("stack");
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
            let (code, _) = call(
                &stack,
                "POST",
                "/api/v1/namespaces/default/pods",
                "application/json",
                pod.to_string(),
            )
            .await;
            assert_eq!(code, 201, "the target pod is created");
            stack
        });
        (rt, stack)
    })
}

/// Sends one request through the router; answers the code and the body.
async fn call(
    stack: &Stack,
    method: &str,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    let response = router(stack.state.clone())
        .oneshot(request)
        .await
        .expect("answered");
    let code = response.status().as_u16();
    assert!(
        response.headers().len() < 100,
        "{} headers",
        response.headers().len()
    );
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body");
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Every answer is a success or a 4xx Status; never a 500, never a dropped connection.
fn check_answer(what: &str, (code, body): (u16, Value)) {
    if code >= 300 {
        assert!(
            (400..500).contains(&code),
            "{what}: user input must not be a {code}: {body}"
        );
        assert_eq!(body["kind"], "Status", "{what}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
}

/// A pod whose every string field is hostile.
fn hostile_pod(s: &[String]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": s[0], "generateName": s[1], "namespace": s[2],
            "labels": {s[3].clone(): s[4], "app": s[5]},
            "annotations": {s[6].clone(): s[7]},
        },
        "spec": {
            "containers": [{"name": s[8], "image": s[9], "command": [s[10]], "args": [s[11]],
                "env": [{"name": s[12], "value": s[13]}],
                "resources": {"requests": {"cpu": s[14], "memory": s[15]}}}],
            "nodeSelector": {s[16].clone(): s[17]},
            "restartPolicy": s[18],
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(http_cases()))]

    #[test]
    fn hostile_strings_through_http_never_panic(
        s in prop::collection::vec(hostile_string(), 19),
        drop_name in any::<bool>(),
        yaml in any::<bool>(),
    ) {
        let (rt, stack) = service();
        let mut pod = hostile_pod(&s);
        if drop_name {
            pod["metadata"].as_object_mut().expect("metadata").remove("name");
        }
        rt.block_on(async {
            let (ct, body) = if yaml {
                ("application/yaml", serde_yaml_ng::to_string(&pod).expect("yaml"))
            } else {
                ("application/json", pod.to_string())
            };
            let create = call(stack, "POST", "/api/v1/namespaces/default/pods?dryRun=All", ct, body).await;
            check_answer("create", create);
            let merge = json!({"metadata": {"labels": {s[3].clone(): s[4]}, "annotations": {s[6].clone(): s[7]}}});
            let patch = call(stack, "PATCH", "/api/v1/namespaces/default/pods/target?dryRun=All",
                "application/merge-patch+json", merge.to_string()).await;
            check_answer("merge patch", patch);
            let ops = json!([{"op": "add", "path": format!("/metadata/labels/{}", s[3].replace('~', "~0").replace('/', "~1")), "value": s[4]}]);
            let patch = call(stack, "PATCH", "/api/v1/namespaces/default/pods/target?dryRun=All",
                "application/json-patch+json", ops.to_string()).await;
            check_answer("json patch", patch);
            let unknown: serde_json::Map<String, Value> = s.iter().map(|k| (k.clone(), Value::from(1))).collect();
            let status = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target"},
                "status": Value::Object(unknown)});
            let put = call(stack, "PUT", "/api/v1/namespaces/default/pods/target/status?dryRun=All",
                "application/json", status.to_string()).await;
            check_answer("status", put);
        });
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
        name in hostile_string(),
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
