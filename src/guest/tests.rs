//! Unit tests of the guest rendering (no network, no tools).

use serde_json::{Value, json};

use super::*;

pub(super) fn config() -> GuestConfig {
    GuestConfig::new(
        "k8sless-test",
        "projects/k8sless-test/topics/k8sless-pods",
        "k8sless-test-pods",
        "https://k8sless-abc123-uc.a.run.app",
        "default",
        "demo",
        "0c5c2f5e-8d4e-4bde-9a55-3c0b0f6e2a11",
    )
}

pub(super) fn plain_pod() -> String {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {"restartPolicy": "Never",
                 "containers": [{"name": "main", "image": "busybox:1.36", "command": ["echo", "hello"]}]}
    })
    .to_string()
}

pub(super) fn multi_pod() -> String {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "demo", "namespace": "default", "labels": {"app": "pair"}},
        "spec": {
            "restartPolicy": "OnFailure",
            "initContainers": [{"name": "prepare", "image": "busybox:1.36", "command": ["sh", "-c", "echo ready > /work/flag"],
                                "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
            "containers": [
                {"name": "app", "image": "us-docker.pkg.dev/k8sless-test/app/server:1.0",
                 "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}},
                 "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "30"]}
            ],
            "volumes": [{"name": "work", "emptyDir": {}}]
        }
    })
    .to_string()
}

pub(super) fn gpu_pod() -> String {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
            "containers": [
                {"name": "cuda", "image": "nvidia/cuda:12.4.1-base-ubuntu22.04", "command": ["nvidia-smi"],
                 "resources": {"limits": {"nvidia.com/gpu": "1", "memory": "8Gi"}}},
                {"name": "helper", "image": "busybox:1.36"}
            ]
        }
    })
    .to_string()
}

pub(super) fn rendered() -> Vec<(&'static str, Vec<(String, String)>)> {
    let cfg = config();
    vec![
        ("plain", metadata_items(&cfg, &plain_pod())),
        ("multi", metadata_items(&cfg, &multi_pod())),
        ("gpu", metadata_items(&cfg, &gpu_pod())),
    ]
}

/// The `user-data` of `items` as cloud-init runs it (decoded per `user-data-encoding`).
pub(super) fn decoded_user_data(items: &[(String, String)]) -> String {
    let encoding = items
        .iter()
        .find(|(k, _)| k == USER_DATA_ENCODING_KEY)
        .map(|(_, v)| v.as_str());
    decode_user_data(value(items, "user-data"), encoding).expect("user-data decodes")
}

pub(super) fn value<'a>(items: &'a [(String, String)], key: &str) -> &'a str {
    &items
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key}"))
        .1
}

#[test]
fn keys_are_the_contract_and_sorted() {
    for (pod, items) in rendered() {
        let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "block-project-ssh-keys",
                "cos-update-strategy",
                "enable-oslogin",
                "google-logging-enabled",
                "google-monitoring-enabled",
                "k8sless-config",
                "k8sless-manifest",
                "user-data",
                "user-data-encoding"
            ],
            "{pod}"
        );
        assert_eq!(value(&items, "google-logging-enabled"), "true");
        // COS runs its Node Problem Detector (node metrics, the reason the guest
        // holds roles/monitoring.metricWriter) only with this key.
        assert_eq!(value(&items, "google-monitoring-enabled"), "true");
        assert_eq!(value(&items, "block-project-ssh-keys"), "true");
        assert_eq!(value(&items, "enable-oslogin"), "TRUE");
        assert_eq!(value(&items, "user-data-encoding"), "base64");
    }
}

/// `--user-data-encoding plain`: the same document as text, no `user-data-encoding` key,
/// still within the limits.
#[test]
fn plain_user_data_is_the_same_document_as_text() {
    let mut plain = config();
    plain.user_data_encoding = UserDataEncoding::Plain;
    for pod in [plain_pod(), gpu_pod()] {
        let encoded = metadata_items(&config(), &pod);
        let items = metadata_items(&plain, &pod);
        assert!(items.iter().all(|(k, _)| k != USER_DATA_ENCODING_KEY));
        let text = value(&items, "user-data");
        assert!(text.starts_with("#cloud-config"), "{}", &text[..40]);
        assert_eq!(text, decoded_user_data(&encoded));
        assert_eq!(decoded_user_data(&items), text);
        check_metadata_limits(&items).expect("within limits");
    }
}

#[test]
fn sizes_are_within_compute_engine_limits() {
    for (pod, items) in rendered() {
        check_metadata_limits(&items).unwrap_or_else(|e| panic!("{pod}: {e}"));
        let user_data = value(&items, "user-data");
        // Leave most of the budget to the manifest: compressed, the ~72 KB document is ~27 KB
        // of base64 (docs/benchmarks.md, issue 18's seventh part).
        assert!(
            user_data.len() < 32 * 1024,
            "{pod}: user-data is {} bytes",
            user_data.len()
        );
        let doc = decoded_user_data(&items);
        assert!(
            doc.len() > 2 * user_data.len(),
            "{pod}: {} bytes decoded",
            doc.len()
        );
    }
}

#[test]
fn limits_are_enforced() {
    let big = "x".repeat(MAX_METADATA_VALUE_BYTES + 1);
    let err = check_metadata_limits(&[("k8sless-manifest".into(), big)]).unwrap_err();
    assert!(
        matches!(err, GuestError::MetadataValueTooLarge { ref key, .. } if key == "k8sless-manifest")
    );
    let half = "x".repeat(MAX_METADATA_VALUE_BYTES - 10);
    let items = vec![
        ("a".into(), half.clone()),
        ("b".into(), half.clone()),
        ("c".into(), half),
    ];
    assert!(matches!(
        check_metadata_limits(&items),
        Err(GuestError::MetadataTooLarge { .. })
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "metadata value \"k8sless-manifest\" is {} bytes, over the limit of 262144 bytes",
            MAX_METADATA_VALUE_BYTES + 1
        )
    );
}

#[test]
fn config_json_is_camel_case_and_round_trips() {
    let cfg = config();
    let v: Value = serde_json::from_str(&cfg.to_json()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bucket",
            "installGpuDriver",
            "kubelet",
            "name",
            "namespace",
            "project",
            "reportIntervalSeconds",
            "serviceUrl",
            "topic",
            "uid"
        ]
    );
    assert_eq!(
        v["kubelet"],
        json!({"version": DEFAULT_KUBELET_VERSION, "url": DEFAULT_KUBELET_URL, "sha256": DEFAULT_KUBELET_SHA256})
    );
    assert_eq!(v["reportIntervalSeconds"], 1);
    let back: GuestConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn default_kubelet_is_pinned_consistently() {
    let k = KubeletSource::default();
    assert!(
        k.url
            .contains(&format!("/release/{}/bin/linux/amd64/kubelet", k.version))
    );
    assert_eq!(k.sha256.len(), 64);
    assert!(
        k.sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[test]
fn user_data_writes_every_file_and_starts_the_units() {
    let cfg = config();
    let ud = user_data(&cfg);
    assert!(ud.starts_with("#cloud-config\n"));
    for path in [
        "/etc/k8sless/guest.env",
        "/etc/k8sless/k8sless-setup",
        "/etc/k8sless/k8sless-reporter",
        "/etc/k8sless/k8sless-node-facts",
        "/etc/k8sless/k8sless-json.awk",
        "/etc/k8sless/k8sless-lib.sh",
        "/etc/k8sless/credential-providers/k8sless-gcr-credentials",
        "/etc/k8sless/kubelet-config.yaml.in",
        "/etc/systemd/system/k8sless-kubelet.service",
        "/etc/systemd/system/k8sless-reporter.service",
        "/etc/systemd/system/k8sless-shutdown.service",
    ] {
        assert!(ud.contains(&format!("  - path: {path}\n")), "{path}");
    }
    assert!(!ud.contains("k8sless-gpu"), "no GPU unit for a plain pod");
    assert!(ud.contains("  - [systemctl, start, --no-block, k8sless-shutdown.service, k8sless-setup.service, k8sless-kubelet.service, k8sless-reporter.service, k8sless-logship.service]\n"));
    assert!(ud.contains(&format!(
        "      K8SLESS_KUBELET_SHA256='{DEFAULT_KUBELET_SHA256}'\n"
    )));
    // Every file's text is inside the document, indented.
    for f in render::files(&cfg) {
        let first = f.content.lines().next().unwrap();
        assert!(
            !first.starts_with(' '),
            "{}: a literal block may not start more indented",
            f.path
        );
        assert!(ud.contains(&format!("      {first}\n")), "{}", f.path);
    }
    assert!(ud.contains("readOnlyPort: 10255") && ud.contains("address: \"@KUBELET_ADDRESS@\""));
}

#[test]
fn user_data_is_the_same_for_every_pod() {
    let a = config();
    let mut b = GuestConfig::new(
        "another-project",
        "projects/another-project/topics/t",
        "another-bucket",
        "https://svc-q7x.example",
        "team-b",
        "trainer-7",
        "6f1c0e8e-0000-4000-8000-000000000001",
    );
    b.report_interval_seconds = 2;
    let ud = user_data(&b);
    assert_eq!(user_data(&a), ud);
    for own in ["another", "team-b", "trainer-7", "6f1c0e8e", "svc-q7x"] {
        assert!(!ud.contains(own), "the document names the pod: {own}");
    }
    // What the scripts need of the pod is in k8sless-config, which the service writes per pod.
    let items = metadata_items(&b, &plain_pod());
    let config: GuestConfig = serde_json::from_str(value(&items, "k8sless-config")).unwrap();
    assert_eq!(
        (config.namespace.as_str(), config.name.as_str()),
        ("team-b", "trainer-7")
    );
    assert_eq!(decoded_user_data(&items), ud);
}

#[test]
fn env_values_cannot_break_out() {
    let mut cfg = config();
    cfg.kubelet.url = "https://example.com/kubelet'\n$(reboot)\"`x`".into();
    let ud = user_data(&cfg);
    assert!(ud.contains("      K8SLESS_KUBELET_URL='https://example.com/kubelet(reboot)x'\n"));
}

#[test]
fn plain_manifest_keeps_uid_and_gets_host_network() {
    let cfg = config();
    let items = metadata_items(&cfg, &plain_pod());
    let pod: Value = serde_json::from_str(value(&items, "k8sless-manifest")).unwrap();
    assert_eq!(pod["metadata"]["uid"], cfg.uid.as_str());
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert_eq!(pod["spec"]["hostNetwork"], true);
    assert_eq!(
        pod["spec"]["containers"][0]["command"],
        json!(["echo", "hello"])
    );
    let config: GuestConfig = serde_json::from_str(value(&items, "k8sless-config")).unwrap();
    assert!(!config.install_gpu_driver);
}

#[test]
fn multi_container_manifest_is_unchanged_but_for_identity() {
    let cfg = config();
    let items = metadata_items(&cfg, &multi_pod());
    let mut pod: Value = serde_json::from_str(value(&items, "k8sless-manifest")).unwrap();
    let mut original: Value = serde_json::from_str(&multi_pod()).unwrap();
    pod["metadata"].as_object_mut().unwrap().remove("uid");
    pod["spec"].as_object_mut().unwrap().remove("hostNetwork");
    original["metadata"].as_object_mut().unwrap().remove("uid");
    assert_eq!(pod, original);
    assert!(!pod_requests_gpus(&multi_pod()));
}

#[test]
fn gpu_manifest_is_wired_for_the_driver() {
    let cfg = config();
    assert!(pod_requests_gpus(&gpu_pod()));
    let items = metadata_items(&cfg, &gpu_pod());
    let config: GuestConfig = serde_json::from_str(value(&items, "k8sless-config")).unwrap();
    assert!(
        config.install_gpu_driver,
        "asking for GPUs switches the driver install on"
    );
    let ud = decoded_user_data(&items);
    assert!(ud.contains("  - path: /etc/systemd/system/k8sless-gpu.service\n"));
    assert!(ud.contains("  - path: /etc/systemd/system/k8sless-kubelet.service.d/10-gpu.conf\n"));
    assert!(ud.contains("cos-extensions install gpu"));
    let pod: Value = serde_json::from_str(value(&items, "k8sless-manifest")).unwrap();
    let cuda = &pod["spec"]["containers"][0];
    assert_eq!(cuda["resources"], json!({"limits": {"memory": "8Gi"}}));
    assert_eq!(cuda["securityContext"]["privileged"], true);
    assert_eq!(
        cuda["volumeMounts"],
        json!([
            {"name": "k8sless-nvidia-lib64", "mountPath": "/usr/local/nvidia/lib64", "readOnly": true},
            {"name": "k8sless-nvidia-bin", "mountPath": "/usr/local/nvidia/bin", "readOnly": true}
        ])
    );
    let helper = &pod["spec"]["containers"][1];
    assert!(helper.get("securityContext").is_none() && helper.get("volumeMounts").is_none());
    assert_eq!(
        pod["spec"]["volumes"],
        json!([
            {"name": "k8sless-nvidia-lib64", "hostPath": {"path": "/var/lib/nvidia/lib64", "type": "Directory"}},
            {"name": "k8sless-nvidia-bin", "hostPath": {"path": "/var/lib/nvidia/bin", "type": "Directory"}}
        ])
    );
    assert!(!pod_requests_gpus(value(&items, "k8sless-manifest")));
}

#[test]
fn gpu_switch_alone_installs_the_driver() {
    let mut cfg = config();
    cfg.install_gpu_driver = true;
    let ud = user_data(&cfg);
    assert!(ud.contains("/etc/k8sless/k8sless-gpu"));
    assert!(ud.contains("      K8SLESS_INSTALL_GPU_DRIVER='true'\n"));
}

#[test]
fn a_manifest_that_is_not_json_passes_through() {
    let items = metadata_items(&config(), "not json");
    assert_eq!(value(&items, "k8sless-manifest"), "not json");
    assert!(!pod_requests_gpus("not json"));
}

#[test]
fn scripts_are_listed() {
    let names: Vec<&str> = SCRIPTS.iter().map(|(n, _)| *n).collect();
    assert!(names.contains(&"k8sless-reporter.sh") && names.contains(&"k8sless-json.awk"));
    for (name, text) in SCRIPTS {
        if name.ends_with(".sh") {
            assert!(text.starts_with("#!/bin/bash\n"), "{name}");
        }
    }
}
