//! Rendering of the `#cloud-config` document.
//!
//! The document is assembled here rather than templated: a list of files
//! (path, mode, text) becomes `write_files` entries with literal block
//! scalars, so no file's text needs YAML escaping, and `runcmd` starts the
//! units. Values from the configuration go only into `/etc/k8sless/guest.env`
//! (single-quoted, characters outside a safe set removed), and only those of the
//! variant (the GPU switch, the kubelet source): nothing in the document is the
//! pod's own, so it is rendered and encoded once per variant ([`super::encoding`]);
//! the scripts read the pod's identity from the `k8sless-config` metadata value.

use std::fmt::Write as _;

use super::GuestConfig;

pub(super) const SETUP_SH: &str = include_str!("files/k8sless-setup.sh");
pub(super) const REPORTER_SH: &str = include_str!("files/k8sless-reporter.sh");
pub(super) const GPU_SH: &str = include_str!("files/k8sless-gpu.sh");
pub(super) const GCR_CREDENTIALS_SH: &str = include_str!("files/k8sless-gcr-credentials.sh");
pub(super) const LOGSHIP_SH: &str = include_str!("files/k8sless-logship.sh");
pub(super) const NODE_FACTS_SH: &str = include_str!("files/k8sless-node-facts.sh");
pub(super) const JSON_AWK: &str = include_str!("files/k8sless-json.awk");
pub(super) const LIB_SH: &str = include_str!("files/k8sless-lib.sh");
pub(super) const KUBELET_ACCESS_SH: &str = include_str!("files/k8sless-kubelet-access.sh");
const KUBELET_CONFIG: &str = include_str!("files/kubelet-config.yaml");
const CREDENTIAL_PROVIDER_CONFIG: &str = include_str!("files/credential-provider-config.yaml");
const CONTAINERD_CONFIG: &str = include_str!("files/containerd-config.toml");
const SETUP_UNIT: &str = include_str!("files/k8sless-setup.service");
const GPU_UNIT: &str = include_str!("files/k8sless-gpu.service");
const KUBELET_UNIT: &str = include_str!("files/k8sless-kubelet.service");
const KUBELET_GPU_DROPIN: &str = include_str!("files/k8sless-kubelet-gpu.conf");
const REPORTER_UNIT: &str = include_str!("files/k8sless-reporter.service");
const SHUTDOWN_UNIT: &str = include_str!("files/k8sless-shutdown.service");
const LOGSHIP_UNIT: &str = include_str!("files/k8sless-logship.service");

/// Units started by cloud-init, in order (kubelet pulls in setup, and the GPU
/// unit for GPU pods, through its own dependencies).
const UNITS: &[&str] = &[
    "k8sless-shutdown.service",
    "k8sless-setup.service",
    "k8sless-kubelet.service",
    "k8sless-reporter.service",
    "k8sless-logship.service",
];

/// One file written by cloud-init.
pub(super) struct GuestFile {
    pub(super) path: &'static str,
    pub(super) mode: &'static str,
    pub(super) content: String,
}

fn file(path: &'static str, mode: &'static str, content: &str) -> GuestFile {
    GuestFile {
        path,
        mode,
        content: content.to_owned(),
    }
}

/// The files the VM gets, in the order cloud-init writes them (tests check each).
pub(super) fn files(cfg: &GuestConfig) -> Vec<GuestFile> {
    let mut files = vec![GuestFile {
        path: "/etc/k8sless/guest.env",
        mode: "0644",
        content: guest_env(cfg),
    }];
    files.extend(static_files(cfg.install_gpu_driver));
    files
}

/// The files that are the same for every pod (with or without the GPU driver), in order.
fn static_files(install_gpu_driver: bool) -> Vec<GuestFile> {
    let mut files = vec![
        file("/etc/k8sless/k8sless-json.awk", "0644", JSON_AWK),
        file("/etc/k8sless/k8sless-lib.sh", "0644", LIB_SH),
        file("/etc/k8sless/k8sless-setup", "0755", SETUP_SH),
        file("/etc/k8sless/k8sless-reporter", "0755", REPORTER_SH),
        file("/etc/k8sless/k8sless-logship", "0755", LOGSHIP_SH),
        file("/etc/k8sless/k8sless-node-facts", "0755", NODE_FACTS_SH),
        file(
            "/etc/k8sless/k8sless-kubelet-access",
            "0755",
            KUBELET_ACCESS_SH,
        ),
        file(
            "/etc/k8sless/credential-providers/k8sless-gcr-credentials",
            "0755",
            GCR_CREDENTIALS_SH,
        ),
        file(
            "/etc/k8sless/credential-provider-config.yaml",
            "0644",
            CREDENTIAL_PROVIDER_CONFIG,
        ),
        file(
            "/etc/k8sless/kubelet-config.yaml.in",
            "0644",
            KUBELET_CONFIG,
        ),
        file(
            "/etc/k8sless/containerd-config.toml",
            "0644",
            CONTAINERD_CONFIG,
        ),
        file(
            "/etc/systemd/system/k8sless-setup.service",
            "0644",
            SETUP_UNIT,
        ),
        file(
            "/etc/systemd/system/k8sless-kubelet.service",
            "0644",
            KUBELET_UNIT,
        ),
        file(
            "/etc/systemd/system/k8sless-reporter.service",
            "0644",
            REPORTER_UNIT,
        ),
        file(
            "/etc/systemd/system/k8sless-shutdown.service",
            "0644",
            SHUTDOWN_UNIT,
        ),
        file(
            "/etc/systemd/system/k8sless-logship.service",
            "0644",
            LOGSHIP_UNIT,
        ),
    ];
    if install_gpu_driver {
        files.push(file("/etc/k8sless/k8sless-gpu", "0755", GPU_SH));
        files.push(file(
            "/etc/systemd/system/k8sless-gpu.service",
            "0644",
            GPU_UNIT,
        ));
        files.push(file(
            "/etc/systemd/system/k8sless-kubelet.service.d/10-gpu.conf",
            "0644",
            KUBELET_GPU_DROPIN,
        ));
    }
    files
}

/// Keeps characters that are safe inside a single-quoted value of both a
/// systemd `EnvironmentFile` and a shell, and on one line.
fn env_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '\'' | '"' | '\\' | '`' | '$'))
        .collect()
}

fn guest_env(cfg: &GuestConfig) -> String {
    let vars = [
        ("K8SLESS_KUBELET_VERSION", cfg.kubelet.version.as_str()),
        ("K8SLESS_KUBELET_URL", cfg.kubelet.url.as_str()),
        ("K8SLESS_KUBELET_SHA256", cfg.kubelet.sha256.as_str()),
        (
            "K8SLESS_INSTALL_GPU_DRIVER",
            if cfg.install_gpu_driver {
                "true"
            } else {
                "false"
            },
        ),
        ("K8SLESS_JSON_AWK", "/etc/k8sless/k8sless-json.awk"),
    ];
    let mut out = String::from("# Written by cloud-init from the k8sless service's user-data.\n");
    for (key, value) in vars {
        let _ = writeln!(out, "{key}='{}'", env_safe(value));
    }
    out
}

/// Appends `text` as a YAML literal block scalar indented by `indent` spaces.
fn push_block(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            out.push_str(&pad);
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn push_file(out: &mut String, f: &GuestFile) {
    let _ = writeln!(out, "  - path: {}", f.path);
    let _ = writeln!(out, "    permissions: \"{}\"", f.mode);
    out.push_str("    owner: root:root\n");
    out.push_str("    content: |\n");
    push_block(out, 6, &f.content);
}

/// The `#cloud-config` document: a header, the files, then `runcmd`. It depends only on
/// `cfg`'s GPU switch and kubelet source, never on which pod it is for.
pub(super) fn user_data(cfg: &GuestConfig) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("#cloud-config\n");
    out.push_str(
        "# k8sless guest, the same for every pod; the pod is in the k8sless-config and \
         k8sless-manifest metadata values (docs/guest.md).\n",
    );
    out.push_str("write_files:\n");
    for f in files(cfg) {
        push_file(&mut out, &f);
    }
    out.push_str("runcmd:\n");
    out.push_str("  - [systemctl, daemon-reload]\n");
    out.push_str("  - [systemctl, start, --no-block");
    for unit in UNITS {
        out.push_str(", ");
        out.push_str(unit);
    }
    out.push_str("]\n");
    out
}
