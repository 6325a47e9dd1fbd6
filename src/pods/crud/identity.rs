//! Which VM sent a report, and whether that VM may speak for the pod.
//!
//! The push handler verifies the instance identity token inside a report (a Google-signed JWT
//! that only the VM itself can obtain) and hands the claims here as a [`VmIdentity`]. A report
//! is applied only when that VM is the one the record says runs the pod: same project, same
//! instance name (deterministic from namespace/name), same zone, and, once known, the same
//! instance id (so a later VM of the same name cannot speak for an earlier one).
//!
//! # Guarantees
//! A report whose identity does not match changes nothing (the check runs inside the
//! compare-and-swap, against the record being written) and fails with 403.

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::lifecycle;
use crate::pods::lifecycle::report::{Merge, Report, ReportInstance, merge};
use crate::pods::record::{self, PodRecord};

pub(crate) use crate::auth::oidc::VmIdentity;

/// Why `identity` may not report for the pod of `rec`, if it may not: the report names
/// another VM than its token does (checked where the token is of this project), or
/// [`vm_mismatch`].
pub(crate) fn mismatch(
    rec: &PodRecord,
    report: &Report,
    identity: &VmIdentity,
    project: &str,
) -> Option<String> {
    if identity.project_id == project
        && let Some(why) = claim_mismatch(&report.instance, identity)
    {
        return Some(why);
    }
    let pod = format!("{}/{}", report.namespace, report.name);
    vm_mismatch(rec, identity, project, &pod)
}

/// Why the VM a report says it comes from (`claimed`, fields it leaves empty aside) is not the
/// one its identity token proves, if it is not.
fn claim_mismatch(claimed: &ReportInstance, identity: &VmIdentity) -> Option<String> {
    let differs = |said: &str, proven: &str| !said.is_empty() && said != proven;
    let differ = differs(&claimed.name, &identity.instance_name)
        || differs(&claimed.id, &identity.instance_id)
        || differs(&claimed.zone, &identity.zone);
    differ.then(|| {
        format!(
            "the report says it comes from {}/{} ({}), its identity token is for {}/{} ({})",
            claimed.zone,
            claimed.name,
            claimed.id,
            identity.zone,
            identity.instance_name,
            identity.instance_id
        )
    })
}

/// Why `identity` is not the VM that runs `pod` (the pod of `rec`), if it is not: another
/// project, instance name, zone, or (once the record knows it) instance id. Reports and log
/// uploads both pass through here.
pub(crate) fn vm_mismatch(
    rec: &PodRecord,
    identity: &VmIdentity,
    project: &str,
    pod: &str,
) -> Option<String> {
    let vm = &identity.instance_name;
    if identity.project_id != project {
        return Some(format!(
            "the identity token is for project {:?}, not {project:?}",
            identity.project_id
        ));
    }
    if rec.vm.name != *vm || rec.vm.zone != identity.zone {
        return Some(format!(
            "pod {pod} runs on {}/{}, not on {}/{vm}",
            rec.vm.zone, rec.vm.name, identity.zone
        ));
    }
    match &rec.vm.instance_id {
        Some(known) if *known != identity.instance_id => Some(format!(
            "pod {pod} runs on instance id {known}, not {}",
            identity.instance_id
        )),
        _ => None,
    }
}

impl Pods {
    /// Merges a pushed report. With `identity` (token verification on) the report must come
    /// from the pod's own VM, else 403 and nothing changes. A report for a pod that no longer
    /// exists, or for an earlier pod of the same name, is acknowledged and ignored.
    ///
    /// # Errors
    /// 403 for a report from another VM; 503 when the store is unavailable.
    pub async fn apply_pushed_report(
        &self,
        report: &Report,
        identity: Option<&VmIdentity>,
        at: Timestamp,
    ) -> Result<Merge> {
        let mut outcome = Merge::Ignored("not applied");
        let project = self.settings.project.clone();
        let result = record::modify(&self.store, &report.namespace, &report.name, |rec| {
            if rec.pod.metadata.uid.as_deref() != Some(report.uid.as_str()) {
                outcome = Merge::Ignored("report for another pod with the same name");
                return Ok(false);
            }
            if let Some(identity) = identity {
                if let Some(why) = mismatch(rec, report, identity, &project) {
                    return Err(Error::Forbidden { message: why });
                }
            }
            outcome = merge(rec, report, at);
            Ok(outcome == Merge::Applied)
        })
        .await;
        lifecycle::once_stored(result, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::record::VmState;
    use k8s_openapi::api::core::v1::Pod;

    fn rec(instance_id: Option<&str>) -> PodRecord {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"}
        }))
        .expect("pod");
        PodRecord::new(
            pod,
            VmState {
                name: "k8s-default-p-1".into(),
                zone: "z-a".into(),
                instance_id: instance_id.map(str::to_string),
                ..Default::default()
            },
        )
    }

    fn id(name: &str, zone: &str, instance_id: &str) -> VmIdentity {
        VmIdentity {
            project_id: "proj".into(),
            zone: zone.into(),
            instance_id: instance_id.into(),
            instance_name: name.into(),
        }
    }

    fn report(name: &str, id: &str) -> Report {
        Report {
            uid: "u1".into(),
            namespace: "default".into(),
            name: "p".into(),
            instance: ReportInstance {
                name: name.into(),
                id: id.into(),
                zone: "z-a".into(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_pods_own_vm_may_report() {
        let r = report("k8s-default-p-1", "7");
        assert_eq!(
            mismatch(&rec(None), &r, &id("k8s-default-p-1", "z-a", "7"), "proj"),
            None
        );
        assert_eq!(
            mismatch(
                &rec(Some("7")),
                &r,
                &id("k8s-default-p-1", "z-a", "7"),
                "proj"
            ),
            None
        );
    }

    #[test]
    fn another_vm_project_zone_or_instance_may_not() {
        let r = report("k8s-default-p-1", "7");
        let ok = id("k8s-default-p-1", "z-a", "7");
        assert!(mismatch(&rec(None), &r, &ok, "other").is_some());
        assert!(mismatch(&rec(Some("8")), &r, &ok, "proj").is_some());
        let other_vm = id("k8s-default-q-2", "z-a", "9");
        assert!(
            mismatch(
                &rec(None),
                &report("k8s-default-q-2", "9"),
                &other_vm,
                "proj"
            )
            .is_some()
        );
        assert!(mismatch(&rec(None), &r, &id("k8s-default-p-1", "z-b", "7"), "proj").is_some());
        // The report's own claim must agree with its token.
        assert!(mismatch(&rec(None), &report("k8s-default-p-1", "8"), &ok, "proj").is_some());
    }
}
