//! Unit tests of collection's decisions (no I/O).

use super::*;
use crate::pods::record::VmState;
use k8s_openapi::api::core::v1::Pod;

const MIN: Duration = Duration::from_secs(60);

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).expect("time")
}

fn settings() -> CollectSettings {
    CollectSettings::new(MIN, 10 * MIN, 5 * MIN)
}

fn rec(phase: &str, vm: VmState) -> PodRecord {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u1",
                     "creationTimestamp": "2023-11-14T22:13:20Z"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": phase}
    }))
    .expect("pod");
    PodRecord::new(pod, vm)
}

fn vm() -> VmRef {
    VmRef {
        zone: "z-a".into(),
        name: "vm".into(),
        id: Some("1".into()),
        uid: "u1".into(),
        status: Some(InstanceStatus::Running),
        created: Some(t(0)),
    }
}

/// A VM named in the record, its insert not yet accepted.
fn not_inserted() -> VmState {
    VmState {
        name: "vm".into(),
        ..Default::default()
    }
}

/// A record in `phase` whose VM last reported `seq` at `t(at)`.
fn reported(phase: &str, seq: u64, at: i64) -> PodRecord {
    let mut r = rec(phase, inserted());
    r.vm.last_sequence = seq;
    r.vm.last_report_at = Some(t(at));
    r
}

fn inserted() -> VmState {
    VmState {
        name: "vm".into(),
        zone: "z-a".into(),
        inserted: true,
        inserted_at: Some(t(0)),
        ..Default::default()
    }
}

#[test]
fn finished_pods_vm_goes_after_the_grace() {
    let mut r = rec("Succeeded", inserted());
    r.vm.finished_at = Some(t(100));
    let s = settings();
    assert_eq!(decide(&r, &[vm()], t(150), t(150), &s), None);
    assert_eq!(
        decide(&r, &[vm()], t(161), t(161), &s),
        Some(Step::DeleteFinished(vec![vm()]))
    );
    // Recorded as deleted: not again until redelete_after.
    r.vm.deleted_at = Some(t(161));
    assert_eq!(decide(&r, &[vm()], t(200), t(200), &s), None);
    assert!(decide(&r, &[vm()], t(161 + 301), t(0), &s).is_some());
    // VM gone: nothing to do.
    assert_eq!(decide(&r, &[], t(1000), t(1000), &s), None);
}

#[test]
fn running_pods_vm_is_never_deleted() {
    let r = reported("Running", 3, 10);
    let s = settings();
    for at in [t(11), t(700), t(100_000)] {
        assert_eq!(decide(&r, &[vm()], at, at, &s), None);
    }
}

#[test]
fn silent_vm_fails_after_the_boot_timeout() {
    let r = rec("Pending", inserted());
    let s = settings();
    assert_eq!(decide(&r, &[vm()], t(599), t(599), &s), None);
    assert_eq!(
        decide(&r, &[vm()], t(601), t(601), &s),
        Some(Step::Fail(Failure::BootTimeout, vec![vm()]))
    );
}

#[test]
fn pending_pod_without_vm_is_inserted() {
    let s = settings();
    // Crash between record and insert: at once.
    let r = rec("Pending", not_inserted());
    assert_eq!(decide(&r, &[], t(1), t(1), &s), Some(Step::Insert));
    // Accepted insert whose VM is not listed (yet): only after reinsert_after.
    let r = rec("Pending", inserted());
    assert_eq!(decide(&r, &[], t(60), t(60), &s), None);
    assert_eq!(decide(&r, &[], t(121), t(121), &s), Some(Step::Insert));
    // A VM that exists but the record missed it: adopt.
    let r = rec("Pending", not_inserted());
    assert_eq!(decide(&r, &[vm()], t(1), t(1), &s), Some(Step::Adopt(vm())));
}

#[test]
fn reporting_pod_whose_vm_vanished_is_lost() {
    let r = reported("Running", 2, 100);
    let s = settings();
    assert_eq!(decide(&r, &[], t(130), t(130), &s), None);
    assert_eq!(
        decide(&r, &[], t(200), t(200), &s),
        Some(Step::Fail(Failure::NodeLost, vec![]))
    );
}

#[test]
fn deadline_counts_from_start_time() {
    let mut r = reported("Running", 1, 0);
    if let Some(spec) = r.pod.spec.as_mut() {
        spec.active_deadline_seconds = Some(30);
    }
    if let Some(st) = r.pod.status.as_mut() {
        st.start_time = Some(crate::pods::k8s_time(t(0)));
    }
    let s = settings();
    assert_eq!(decide(&r, &[vm()], t(20), t(20), &s), None);
    assert_eq!(
        decide(&r, &[vm()], t(31), t(31), &s),
        Some(Step::Fail(Failure::DeadlineExceeded, vec![vm()]))
    );
}

#[test]
fn named_finds_a_records_vms_by_name_and_uid() {
    let other_uid = VmRef {
        uid: "u2".into(),
        ..vm()
    };
    let other_name = VmRef {
        name: "vm2".into(),
        ..vm()
    };
    let other_zone = VmRef {
        zone: "z-b".into(),
        ..vm()
    };
    let vms = vec![other_name, vm(), other_uid, other_zone];
    let mut by_name: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, v) in vms.iter().enumerate() {
        by_name.entry(v.name.clone()).or_default().push(i);
    }
    let found: Vec<usize> = named(&vms, &by_name, "vm", "u1").collect();
    assert_eq!(found, vec![1, 3]);
    assert_eq!(
        named(&vms, &by_name, "vm2", "u1").collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(named(&vms, &by_name, "vm", "u3").count(), 0);
    assert_eq!(named(&vms, &by_name, "gone", "u1").count(), 0);
}
