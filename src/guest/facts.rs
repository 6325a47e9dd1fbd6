//! Node facts: what a pod's VM found about itself on first boot, and what the service shows
//! of them.
//!
//! The guest's `k8sless-node-facts` gathers them once and the reporter sends them as
//! `nodeFacts` in the VM's first report (docs/guest-protocol.md, "Node facts"). They are the
//! assumptions of docs/guest.md that only a real VM can confirm: the COS milestone, whether
//! containerd serves the CRI and with which cgroup driver and configuration, kubelet's
//! version and source, the firewall's loopback rule, the mount options of `/var`,
//! `/var/lib/kubelet` and the binary directory.
//!
//! Pure functions only: [`NodeFacts::from_report`] reads them from a decoded report,
//! [`NodeFacts::event_message`] renders the message of the `NodeFacts` Event that
//! `kubectl describe pod` shows, and [`NodeFacts::failed_assumptions`] names what
//! contradicts docs/guest.md (a `Warning` Event, [`FAILED_ASSUMPTIONS_REASON`]).
//! [`NodeFacts::simulated`] is what the simulated guest reports, marked as such.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Reason of the `Normal` Event that carries the facts.
pub(crate) const NODE_FACTS_REASON: &str = "NodeFacts";

/// Reason of the `Warning` Event made when a fact contradicts an assumption.
pub(crate) const FAILED_ASSUMPTIONS_REASON: &str = "NodeAssumptionFailed";

/// Largest `nodeFacts` object accepted, as serialized JSON (the guest stays under it).
pub(crate) const MAX_NODE_FACTS_BYTES: usize = 4096;

/// Longest Event message made from the facts (Kubernetes truncates Event messages at 1 KiB).
pub(crate) const MAX_MESSAGE_CHARS: usize = 1024;

/// The `nodeFacts` member of a report. Every value is a string as the VM found it
/// (`"unknown"` when it could not), so the service never fails on a fact it did not foresee;
/// members it does not know are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeFacts {
    /// `true` when the service's simulated guest made them up (dev mode, tests).
    pub simulated: bool,
    /// When the VM gathered them (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gathered_at: Option<String>,
    /// `ID` of `/etc/os-release` (`cos`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_id: Option<String>,
    /// `VERSION_ID` of `/etc/os-release`: the COS milestone (`121`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cos_milestone: Option<String>,
    /// `BUILD_ID` of `/etc/os-release`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cos_build_id: Option<String>,
    /// `uname -r`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Whether an iptables `INPUT` rule accepts loopback traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<String>,
    /// `serving`, `not serving` or `unknown (...)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd_cri: Option<String>,
    /// `1` or `2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_version: Option<String>,
    /// `systemd` or `cgroupfs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_driver: Option<String>,
    /// Which containerd configuration runs, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd_config: Option<String>,
    /// `containerd --version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd_version: Option<String>,
    /// `kubelet --version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubelet_version: Option<String>,
    /// `image PATH` or `download URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubelet_source: Option<String>,
    /// Path → `"MOUNTPOINT OPTIONS"` of the mount the path lives on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mounts: BTreeMap<String, String>,
}

/// The directories whose mount options the facts carry.
const KUBELET_DIR: &str = "/var/lib/kubelet";
const BIN_DIR: &str = "/var/lib/k8sless/bin";

fn shown(v: Option<&String>) -> &str {
    v.map_or("unknown", String::as_str)
}

/// Whether `"MOUNTPOINT OPTIONS"` has the option `opt`.
fn has_option(mount: &str, opt: &str) -> bool {
    mount
        .split_once(' ')
        .is_some_and(|(_, opts)| opts.split(',').any(|o| o == opt))
}

impl NodeFacts {
    /// The facts of a decoded report (the PodReport JSON), if it carries them and they are
    /// an object within [`MAX_NODE_FACTS_BYTES`]; anything else is `None` (a report without
    /// facts, or with unreadable ones, is still a good report).
    #[cfg(test)]
    #[must_use]
    pub(crate) fn from_report(report: &Value) -> Option<Self> {
        Self::from_value(report.get("nodeFacts")?)
    }

    /// The facts from the `nodeFacts` value itself (what a `Report` keeps as a raw
    /// `serde_json::Value`): `None` unless an object within [`MAX_NODE_FACTS_BYTES`].
    #[must_use]
    pub(crate) fn from_value(facts: &Value) -> Option<Self> {
        if !facts.is_object() || facts.to_string().len() > MAX_NODE_FACTS_BYTES {
            return None;
        }
        serde_json::from_value(facts.clone()).ok()
    }

    /// What the simulated guest reports: the assumptions of docs/guest.md as if they held,
    /// every value saying it is simulated.
    #[must_use]
    pub(crate) fn simulated(kubelet_version: &str) -> Self {
        let sim = |v: &str| Some(format!("{v} (simulated)"));
        Self {
            simulated: true,
            gathered_at: None,
            os_id: sim("cos"),
            cos_milestone: sim("121"),
            cos_build_id: sim("0.0.0"),
            kernel: sim("6.6"),
            loopback: sim("accepted"),
            containerd_cri: sim("serving"),
            cgroup_version: sim("2"),
            cgroup_driver: sim("systemd"),
            containerd_config: sim("/etc/containerd/config.toml (COS's)"),
            containerd_version: sim("containerd"),
            kubelet_version: sim(&format!("Kubernetes {kubelet_version}")),
            kubelet_source: sim("download"),
            mounts: [
                ("/var", "/var rw,nosuid,nodev,noexec,relatime"),
                (KUBELET_DIR, "/var/lib/kubelet rw,relatime"),
                (BIN_DIR, "/var/lib/k8sless/bin rw,nosuid,nodev,relatime"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), format!("{v} (simulated)")))
            .collect(),
        }
    }

    /// The message of the `NodeFacts` Event: every fact on one line, at most
    /// [`MAX_MESSAGE_CHARS`] characters, starting with `simulated:` for simulated ones.
    #[must_use]
    pub(crate) fn event_message(&self) -> String {
        let [
            milestone,
            build,
            os,
            kernel,
            cri,
            cgroup,
            driver,
            config,
            containerd,
            kubelet,
            source,
            loopback,
        ] = [
            &self.cos_milestone,
            &self.cos_build_id,
            &self.os_id,
            &self.kernel,
            &self.containerd_cri,
            &self.cgroup_version,
            &self.cgroup_driver,
            &self.containerd_config,
            &self.containerd_version,
            &self.kubelet_version,
            &self.kubelet_source,
            &self.loopback,
        ]
        .map(|v| shown(v.as_ref()));
        let mut parts = vec![
            format!("COS {milestone} build {build} ({os}), kernel {kernel}"),
            format!(
                "containerd CRI {cri}, cgroup v{cgroup} driver {driver}, config {config}, {containerd}"
            ),
            format!("kubelet {kubelet} from {source}"),
            format!("loopback {loopback}"),
        ];
        for (path, mount) in &self.mounts {
            parts.push(format!("{path} on {mount}"));
        }
        let mut message = parts.join("; ");
        if self.simulated {
            message.insert_str(0, "simulated: ");
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
            message.push('…');
        }
        message
    }

    /// What contradicts the assumptions of docs/guest.md, one sentence each (empty when
    /// nothing does, or nothing could be read). Simulated facts contradict nothing.
    #[must_use]
    pub(crate) fn failed_assumptions(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if self.simulated {
            return failed;
        }
        let is = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
        if is(&self.cgroup_version, "2") && !is(&self.cgroup_driver, "systemd") {
            failed.push(format!(
                "cgroup v2 with the {} cgroup driver (Kubernetes requires systemd)",
                shown(self.cgroup_driver.as_ref())
            ));
        }
        if is(&self.containerd_cri, "not serving") {
            failed.push("containerd does not serve the CRI".to_owned());
        }
        if self
            .loopback
            .as_deref()
            .is_some_and(|l| l.starts_with("no INPUT rule"))
        {
            failed.push(format!(
                "the firewall may drop loopback traffic ({})",
                shown(self.loopback.as_ref())
            ));
        }
        for dir in [KUBELET_DIR, BIN_DIR] {
            if self
                .mounts
                .get(dir)
                .is_some_and(|m| has_option(m, "noexec"))
            {
                failed.push(format!("{dir} is mounted noexec ({})", self.mounts[dir]));
            }
        }
        if let Some(m) = self.cos_milestone.as_deref()
            && m != "unknown"
            && !super::COS_IMAGE_FAMILY.contains(&format!("-{m}-"))
        {
            failed.push(format!(
                "COS milestone {m}, not the {} family the guest was built for",
                super::COS_IMAGE_FAMILY
            ));
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn real() -> Value {
        json!({"apiVersion": "k8sless.dev/v1", "kind": "PodReport", "sequence": 1, "nodeFacts": {
            "simulated": false, "gatheredAt": "2026-11-30T10:41:07.412Z", "osId": "cos",
            "cosMilestone": "121", "cosBuildId": "18867.90.23", "kernel": "6.6.72+",
            "loopback": "accepted (-A INPUT -i lo -j ACCEPT)", "containerdCri": "serving",
            "cgroupVersion": "2", "cgroupDriver": "systemd",
            "containerdConfig": "/etc/containerd/config.toml (COS's)",
            "containerdVersion": "containerd github.com/containerd/containerd v1.7.24",
            "kubeletVersion": "Kubernetes v1.33.8", "kubeletSource": "download https://dl.k8s.io/x",
            "mounts": {"/var": "/var rw,nosuid,nodev,noexec,relatime",
                       "/var/lib/kubelet": "/var/lib/kubelet rw,relatime",
                       "/var/lib/k8sless/bin": "/var/lib/k8sless/bin rw,relatime"},
            "somethingNew": "ignored"}})
    }

    #[test]
    fn reads_the_facts_of_a_first_report() {
        let facts = NodeFacts::from_report(&real()).expect("facts");
        assert!(!facts.simulated);
        assert_eq!(facts.cos_milestone.as_deref(), Some("121"));
        assert_eq!(facts.mounts.len(), 3);
        assert!(
            facts.failed_assumptions().is_empty(),
            "{:?}",
            facts.failed_assumptions()
        );
        let m = facts.event_message();
        assert!(m.starts_with("COS 121 build 18867.90.23 (cos), kernel 6.6.72+; containerd CRI serving, cgroup v2 driver systemd"), "{m}");
        assert!(
            m.contains("/var/lib/kubelet on /var/lib/kubelet rw,relatime"),
            "{m}"
        );
    }

    #[test]
    fn no_facts_or_bad_facts_are_none() {
        assert_eq!(NodeFacts::from_report(&json!({"sequence": 2})), None);
        assert!(NodeFacts::from_value(&real()["nodeFacts"]).is_some());
        assert_eq!(NodeFacts::from_report(&json!({"nodeFacts": "text"})), None);
        assert_eq!(
            NodeFacts::from_report(&json!({"nodeFacts": {"kernel": 5}})),
            None
        );
        let big = "x".repeat(MAX_NODE_FACTS_BYTES);
        assert_eq!(
            NodeFacts::from_report(&json!({"nodeFacts": {"kernel": big}})),
            None
        );
    }

    #[test]
    fn failed_assumptions_are_named() {
        let mut report = real();
        let f = &mut report["nodeFacts"];
        f["cgroupDriver"] = json!("cgroupfs");
        f["containerdCri"] = json!("not serving");
        f["loopback"] = json!("no INPUT rule accepts lo (-P INPUT DROP)");
        f["cosMilestone"] = json!("117");
        f["mounts"]["/var/lib/kubelet"] = json!("/var rw,nosuid,nodev,noexec,relatime");
        let failed = NodeFacts::from_report(&report)
            .expect("facts")
            .failed_assumptions();
        assert_eq!(failed.len(), 5, "{failed:?}");
        assert!(failed[0].starts_with("cgroup v2 with the cgroupfs cgroup driver"));
        assert!(
            failed
                .iter()
                .any(|f| f.starts_with("/var/lib/kubelet is mounted noexec"))
        );
        assert!(failed.iter().any(|f| f.contains("COS milestone 117")));
    }

    #[test]
    fn simulated_facts_say_so_and_fail_nothing() {
        let facts = NodeFacts::simulated("v1.33.8");
        assert!(facts.simulated);
        assert!(facts.failed_assumptions().is_empty());
        assert!(
            facts
                .event_message()
                .starts_with("simulated: COS 121 (simulated)")
        );
        let round: NodeFacts =
            serde_json::from_value(serde_json::to_value(&facts).expect("json")).expect("back");
        assert_eq!(round, facts);
        assert!(serde_json::to_string(&facts).expect("json").len() < MAX_NODE_FACTS_BYTES);
    }

    #[test]
    fn the_message_is_bounded() {
        let mut facts = NodeFacts::simulated("v1.33.8");
        facts.containerd_config = Some("y".repeat(5000));
        let m = facts.event_message();
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS);
        assert!(m.ends_with('…'));
    }
}
