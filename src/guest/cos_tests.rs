//! Unit tests of what the guest does on a real COS VM (issue 15's first-run items): the exec
//! remount, cgroup driver, GPU unit ordering, log severity, node facts, setup failures.

use serde_json::{Value, json};

use super::tests::{config, gpu_pod, value};
use super::*;

/// The text of one file the user-data writes.
fn written(cfg: &GuestConfig, path: &str) -> String {
    render::files(cfg)
        .into_iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not written"))
        .content
}

#[test]
fn setup_makes_the_kubelet_directory_executable() {
    // COS mounts /var noexec: programs in an emptyDir (under /var/lib/kubelet)
    // fail with "permission denied" unless the directory is remounted, as
    // Kubernetes' configure-helper.sh does for COS nodes.
    let setup = written(&config(), "/etc/k8sless/k8sless-setup");
    let bind = setup
        .find(r#"mount --bind "${KUBELET_DIR}" "${KUBELET_DIR}""#)
        .expect("bind mount of /var/lib/kubelet");
    let remount = setup
        .find(r#"mount -B -o remount,exec,suid,dev "${KUBELET_DIR}""#)
        .expect("exec remount of /var/lib/kubelet");
    assert!(bind < remount);
    assert!(setup.contains(r#"KUBELET_DIR="${K8SLESS_KUBELET_DIR:-/var/lib/kubelet}""#));
    // Before kubelet starts: the remount is part of the first step.
    let prepare = &setup[setup.find("prepare_dirs() {").expect("prepare_dirs")..];
    let prepare = &prepare[..prepare.find("\n}\n").expect("end of prepare_dirs")];
    assert!(prepare.contains("remount,exec,suid,dev"));
}

#[test]
fn cgroup_v2_always_gets_the_systemd_driver() {
    let setup = written(&config(), "/etc/k8sless/k8sless-setup");
    assert!(setup.contains(r#"== "cgroup2fs""#), "cgroup v2 is detected");
    assert!(
        setup.contains(r#"if [[ "${cgroups}" == "2" && "${driver}" != "systemd" ]]; then"#),
        "COS's own CRI configuration is replaced when it keeps cgroupfs on cgroup v2"
    );
    assert!(setup.contains(r#"printf 'cgroupDriver: %s\n' "${driver}""#));
    // The configuration k8sless installs uses the systemd driver.
    let containerd = written(&config(), "/etc/k8sless/containerd-config.toml");
    assert!(containerd.contains("SystemdCgroup = true"));
    assert!(!containerd.contains("SystemdCgroup = false"));
}

#[test]
fn gpu_unit_waits_for_the_registry_and_docker() {
    let mut cfg = config();
    cfg.install_gpu_driver = true;
    let unit = written(&cfg, "/etc/systemd/system/k8sless-gpu.service");
    let line = |key: &str| {
        unit.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in the GPU unit"))
            .to_owned()
    };
    for target in [
        "network-online.target",
        "gcr-online.target",
        "docker.socket",
    ] {
        assert!(line("After=").contains(target), "After= lacks {target}");
        assert!(line("Wants=").contains(target), "Wants= lacks {target}");
    }
    let script = written(&cfg, "/etc/k8sless/k8sless-gpu");
    assert!(script.contains(r#"ATTEMPTS="${K8SLESS_GPU_INSTALL_ATTEMPTS:-5}""#));
    assert!(script.contains("docker info"));
    // The unit's time-out covers every attempt and wait (5 installs + 150 s).
    let timeout: u64 = line("TimeoutStartSec=")["TimeoutStartSec=".len()..]
        .parse()
        .expect("seconds");
    assert!(timeout >= 1500, "{timeout}");
    // And kubelet waits for it.
    let dropin = written(
        &cfg,
        "/etc/systemd/system/k8sless-kubelet.service.d/10-gpu.conf",
    );
    assert!(
        dropin.contains("Requires=k8sless-gpu.service")
            && dropin.contains("After=k8sless-gpu.service")
    );
}

#[test]
fn gpu_containers_find_the_driver_libraries() {
    let items = metadata_items(&config(), &gpu_pod());
    let pod: Value = serde_json::from_str(value(&items, "k8sless-manifest")).expect("json");
    let cuda = &pod["spec"]["containers"][0];
    assert_eq!(
        cuda["env"],
        json!([{"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"}])
    );
    assert!(pod["spec"]["containers"][1].get("env").is_none());
    // A container's own LD_LIBRARY_PATH is kept.
    let mut own: Value = serde_json::from_str(&gpu_pod()).expect("json");
    own["spec"]["containers"][0]["env"] = json!([{"name": "LD_LIBRARY_PATH", "value": "/opt/lib"}]);
    let items = metadata_items(&config(), &own.to_string());
    let pod: Value = serde_json::from_str(value(&items, "k8sless-manifest")).expect("json");
    assert_eq!(
        pod["spec"]["containers"][0]["env"],
        json!([{"name": "LD_LIBRARY_PATH", "value": "/opt/lib"}])
    );
}

#[test]
fn live_logs_go_to_cloud_logging_at_a_kept_severity() {
    // COS forwards journal entries only at WARNING and above, so the lines are
    // written with entries:write instead, INFO for stdout and ERROR for stderr.
    let logship = written(&config(), "/etc/k8sless/k8sless-logship");
    assert!(
        !logship.contains("| systemd-cat"),
        "the journal route is gone"
    );
    assert!(logship.contains(r#""${LOGGING_URL}/v2/entries:write""#));
    assert!(logship.contains(r#"sev = (stream == "stderr") ? "ERROR" : "INFO""#));
    assert!(logship.contains(r#"\"SYSLOG_IDENTIFIER\""#));
    assert!(logship.contains(r#""type":"gce_instance""#));
    let unit = written(&config(), "/etc/systemd/system/k8sless-logship.service");
    assert!(unit.contains("After=network-online.target"));
}

#[test]
fn first_report_carries_bounded_node_facts() {
    let reporter = written(&config(), "/etc/k8sless/k8sless-reporter");
    assert!(
        reporter.contains(
            r#"NODE_FACTS_SH="${K8SLESS_NODE_FACTS_SH:-/etc/k8sless/k8sless-node-facts}""#
        )
    );
    assert!(reporter.contains(r#"printf ',"nodeFacts":%s'"#));
    let facts = written(&config(), "/etc/k8sless/k8sless-node-facts");
    assert!(
        facts.contains(r#"json_str "${v:0:200}""#),
        "values are cut to 200 characters"
    );
    for key in [
        "cosMilestone",
        "cosBuildId",
        "loopback",
        "containerdCri",
        "cgroupDriver",
        "containerdConfig",
        "containerdVersion",
        "kubeletVersion",
        "kubeletSource",
        "mounts",
    ] {
        assert!(facts.contains(&format!(r#""{key}":"#)), "{key}");
    }
    // The setup records what it decided for the facts.
    let setup = written(&config(), "/etc/k8sless/k8sless-setup");
    for key in [
        "kubelet_source",
        "cgroup_version",
        "cgroup_driver",
        "containerd_config",
    ] {
        assert!(setup.contains(&format!("fact {key} ")), "{key}");
    }
}

#[test]
fn setup_failures_reach_cloud_logging_as_errors() {
    // COS forwards journal entries at WARNING and above only; systemd reads the <3> prefix.
    let mut cfg = config();
    cfg.install_gpu_driver = true;
    for path in ["/etc/k8sless/k8sless-setup", "/etc/k8sless/k8sless-gpu"] {
        assert!(
            written(&cfg, path).contains("printf '<3>k8sless-"),
            "{path}"
        );
    }
}

#[test]
fn kubelet_serves_10250_with_the_pods_client_ca_and_serving_certificate() {
    // The template: port 10250, x509 client certificates only, AlwaysAllow behind them; the
    // access script fills address, client CA and serving pair (tests/guest/test_kubelet_access.py
    // runs it).
    let kubelet = written(&config(), "/etc/k8sless/kubelet-config.yaml.in");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&kubelet).expect("YAML");
    assert_eq!(doc["port"], 10250);
    assert_eq!(doc["address"], "@KUBELET_ADDRESS@");
    assert_eq!(doc["tlsCertFile"], "@KUBELET_TLS_CERT_FILE@");
    assert_eq!(doc["tlsPrivateKeyFile"], "@KUBELET_TLS_KEY_FILE@");
    let auth = &doc["authentication"];
    assert_eq!(auth["x509"]["clientCAFile"], "@KUBELET_CLIENT_CA_FILE@");
    assert_eq!(auth["anonymous"]["enabled"], false);
    assert_eq!(auth["webhook"]["enabled"], false);
    assert_eq!(doc["authorization"]["mode"], "AlwaysAllow");
    assert_eq!(doc["healthzBindAddress"], "127.0.0.1");
    // Setup runs the access script after writing the configuration, and fails without it.
    let setup = written(&config(), "/etc/k8sless/k8sless-setup");
    let copy = setup
        .find(r#"cp "${CONF_DIR}/kubelet-config.yaml.in""#)
        .expect("the configuration is written");
    let access = setup
        .find(r#""${KUBELET_ACCESS}" || fail"#)
        .expect("the access script runs");
    assert!(copy < access);
    let script = written(&config(), "/etc/k8sless/k8sless-kubelet-access");
    assert!(script.contains("--dport \"${KUBELET_PORT}\" -j ACCEPT"));
    assert!(script.contains("k8sless-kubelet-source-ranges"));
}

#[test]
fn kubelet_tls_items_carry_the_ca_and_serving_pair_never_a_wide_range() {
    let pki = crate::kubelet::PodPki::generate(
        crate::kubelet::pki::serving_names("vm", &["z".into()], "p"),
        3600,
    )
    .expect("PKI");
    let items = kubelet_tls_items(
        &pki.guest(),
        &["10.8.0.0/26".into(), "0.0.0.0/0".into(), "x".into()],
    );
    let value = |k: &str| {
        items
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert_eq!(value(METADATA_KUBELET_CLIENT_CA), pki.ca_cert);
    assert_eq!(value(METADATA_KUBELET_SERVING_CERT), pki.serving_cert);
    assert_eq!(value(METADATA_KUBELET_SERVING_KEY), pki.serving_key);
    assert_eq!(value(METADATA_KUBELET_SOURCE_RANGES), "10.8.0.0/26");
    // The client key never goes to the VM.
    assert!(
        items
            .iter()
            .all(|(_, v)| !v.contains(pki.client_key.trim()))
    );
    assert!(!is_cidr("::/0") && is_cidr("fd20::/64") && !is_cidr("10.0.0.1"));
}
