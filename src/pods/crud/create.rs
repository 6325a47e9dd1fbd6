//! Creating a pod: default, validate, translate, write the record (Pending, scheduled on its
//! deterministic VM), insert the VM, answer. The request never waits for the VM to boot or the
//! insert operation to finish.
//!
//! # Guarantees
//! - One record per name across any number of service instances (`ifGenerationMatch=0`): of
//!   concurrent creates of one name exactly one succeeds, the rest get 409 AlreadyExists.
//! - One VM per pod: the VM name is a function of namespace/name and the insert carries a
//!   requestId derived from the pod's uid, zone and attempt.
//! - The record is written before the VM is inserted, so a VM never exists without a record
//!   that explains it; a crash in between leaves a Pending pod that collection inserts.
//! - Two round trips when all goes well: the record write and the insert. The record is not
//!   written again to say the insert was accepted: collection adopts the VM from its list.
//!
//! # Errors
//! 422 for what Kubernetes or a VM cannot accept; 409 for a taken name; 503 when Cloud Storage
//! stays unavailable. A failed insert is not an error of the request: the pod stays Pending
//! with `PodScheduled=False` and the reason, for collection to retry.

use k8s_openapi::api::core::v1::Pod;

use super::defaults;
use crate::codec::decode::{self, FieldValidation};
use crate::error::{Error, Result};
use crate::gce::{GceError, Inserted};
use crate::pods::index;
use crate::pods::lifecycle::transitions;
use crate::pods::namespaces::policy::Policy;
use crate::pods::record::{self, PodRecord, VmState};
use crate::pods::{DryRun, Pods, k8s_time, now, validate};
use crate::translate::{self, ANNOTATION_INSTANCE, ANNOTATION_MACHINE_REASON, VmPlan, names};

/// Characters Kubernetes uses for generated name suffixes (no vowels, no confusables).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Pods {
    /// Creates a pod in `namespace` (the path's, or the body's for `POST /pods`).
    pub async fn create(
        &self,
        path_namespace: Option<&str>,
        mut pod: Pod,
        dry_run: DryRun,
    ) -> Result<Pod> {
        let namespace = resolve_namespace(path_namespace, pod.metadata.namespace.as_deref())?;
        pod.metadata.namespace = Some(namespace.clone());
        if pod.metadata.name.as_deref().unwrap_or("").is_empty() {
            if let Some(prefix) = pod
                .metadata
                .generate_name
                .as_deref()
                .filter(|p| !p.is_empty())
            {
                pod.metadata.name = Some(generated_name(prefix));
            }
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        // NamespaceLifecycle admission comes first in kube-apiserver: 404 before any 422.
        let ns_object = self
            .admit_namespace(&namespace, "pods", &name, dry_run)
            .await?;
        let policy = Policy::of(&ns_object);
        let settings = policy.settings(&self.settings);
        let at = now();
        set_server_fields(&mut pod, at);
        defaults::apply(&mut pod);
        validate::validate(&pod).map_err(|causes| Error::pod_invalid(&name, causes))?;
        policy.check_service_account(&pod, &settings)?;
        let mut plan = translate::translate(&pod, &settings)
            .map_err(|causes| Error::pod_invalid(&name, causes))?;
        policy.check_plan(&pod, &plan)?;
        self.schedule(&mut pod, &plan, at);
        if dry_run == DryRun::All {
            return Ok(pod);
        }
        let kubelet_pki = self.open_kubelet(&mut plan, None, &name)?;
        // The quota charge is taken before the record exists, so no VM ever runs uncharged.
        let reserved = self.reserve_quota(&namespace, &pod, &plan).await?;

        let mut rec = scheduled_record(pod, &plan, kubelet_pki, at);
        rec.namespace_created = crate::pods::namespaces::stranded::incarnation(&ns_object);
        let generation = match self.write_new_record(&mut rec).await {
            Ok(generation) => generation,
            Err(e) => {
                if reserved {
                    let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
                    self.release_quota(&namespace, &uid).await;
                }
                return Err(e);
            }
        };
        rec.pod.metadata.resource_version = Some(generation.to_string());
        Ok(self.insert_in_admitted(rec, &plan).await)
    }

    /// Writes a new pod's record (bounded: the oldest history may go, with its index); answers
    /// its generation.
    async fn write_new_record(&self, rec: &mut PodRecord) -> Result<i64> {
        let name = rec.pod.metadata.name.clone().unwrap_or_default();
        let bytes = rec.encode_bounded()?;
        self.store
            .create_indexed(&rec.key(), bytes, index::of(rec))
            .await
            .map_err(|e| Error::pod_store(e, &name))
    }

    /// Inserts the VM of a written record. The namespace may have gone Terminating between
    /// admission and the record's write, after its cascade last listed its pods: it is read
    /// again (beside the insert, so it costs no time) and, if it no longer takes new content,
    /// the pod is deleted as the cascade would have. Read after the write, an Active namespace
    /// means any later cascade lists this record (Cloud Storage lists are strongly consistent).
    async fn insert_in_admitted(&self, rec: PodRecord, plan: &VmPlan) -> Pod {
        let meta = &rec.pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let (created, admitted) = tokio::join!(
            self.insert_vm(rec, plan, &namespace, &name),
            self.still_admits(&namespace)
        );
        if !admitted {
            tracing::info!(namespace = %namespace, pod = %name, "the namespace went Terminating during the create; deleting the pod");
            if let Err(e) = self.delete(&namespace, &name, Some(0), DryRun::No).await {
                tracing::warn!(namespace = %namespace, pod = %name, error = %e.chain(), "could not delete a pod created in a namespace being deleted; collection retries");
            }
        }
        created
    }

    /// Assigns the pod to its VM: the instance annotations, `nodeName`, and a Pending status
    /// with `PodScheduled=True`.
    fn schedule(&self, pod: &mut Pod, plan: &VmPlan, at: jiff::Timestamp) {
        let annotations = pod
            .metadata
            .annotations
            .get_or_insert_with(Default::default);
        annotations.insert(
            ANNOTATION_INSTANCE.to_string(),
            format!(
                "projects/{}/zones/{}/instances/{}",
                self.settings.project, plan.zone, plan.name
            ),
        );
        annotations.insert(ANNOTATION_MACHINE_REASON.to_string(), plan.reason.clone());
        let spec = pod.spec.get_or_insert_with(Default::default);
        spec.node_name = Some(plan.name.clone());
        let qos = defaults::qos_class(spec).to_string();
        pod.status = Some(transitions::pending_status(qos, at));
    }

    /// Inserts the pod's VM once its record exists, and records the outcome; answers with the
    /// pod as recorded (a failed insert is not an error of the request).
    async fn insert_vm(&self, rec: PodRecord, plan: &VmPlan, namespace: &str, name: &str) -> Pod {
        let key = record::key(namespace, name);
        let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
        let request_id = names::request_id(&uid, &plan.zone, 0);
        let outcome = self
            .compute
            .insert_idempotent(
                &plan.zone,
                &plan.instance,
                request_id,
                (names::LABEL_UID, &crate::gce::labels::sanitize_value(&uid)),
            )
            .await;
        match outcome {
            // Nothing more to write: the record already says scheduled on this VM, and
            // collection adopts a listed VM whose record does not say it was inserted
            // (`decide`: `Step::Adopt`). A crash before the insert leaves a Pending record
            // with no VM, which collection inserts.
            Ok(Inserted::Started(_)) | Ok(Inserted::AlreadyOwned) => rec.pod,
            Err(err) => {
                tracing::warn!(pod = %key, error = %err, "VM insert failed; the pod stays Pending for collection to retry");
                self.mark_unschedulable(rec, namespace, name, &err).await
            }
        }
    }

    /// Records a failed insert: Pending, `PodScheduled=False`, no nodeName (or Failed when
    /// Compute Engine rejected the VM itself).
    async fn mark_unschedulable(
        &self,
        rec: PodRecord,
        namespace: &str,
        name: &str,
        err: &GceError,
    ) -> Pod {
        let at = now();
        // First a swap on the generation create wrote (no read); if someone wrote since, the
        // read-change-swap loop.
        let mut fresh = rec.clone();
        let key = record::key(namespace, name);
        if transitions::insert_failed(&mut fresh, err, at) {
            if let Ok(bytes) = fresh.encode_bounded() {
                let index = index::of(&fresh);
                let written = self
                    .store
                    .update_indexed(&key, bytes, index, rec.generation())
                    .await;
                if let Ok(generation) = written {
                    fresh.pod.metadata.resource_version = Some(generation.to_string());
                    return fresh.pod;
                }
            }
        }
        let result = record::modify(&self.store, namespace, name, |r| {
            Ok(transitions::insert_failed(r, err, at))
        })
        .await;
        match result {
            Ok(updated) => updated.pod,
            Err(e) => {
                tracing::warn!(pod = %format!("{namespace}/{name}"), error = %e, "could not record the failed insert");
                rec.pod
            }
        }
    }
}

/// The path's namespace and the body's must agree; with no path namespace the body's wins.
fn resolve_namespace(path: Option<&str>, body: Option<&str>) -> Result<String> {
    match (path, body.filter(|b| !b.is_empty())) {
        (Some(p), Some(b)) if p != b => Err(Error::bad_request(format!(
            "the namespace of the provided object does not match the namespace sent on the request ({b:?} vs {p:?})"
        ))),
        (Some(p), _) => Ok(p.to_string()),
        (None, Some(b)) => Ok(b.to_string()),
        (None, None) => Ok("default".to_string()),
    }
}

fn generated_name(prefix: &str) -> String {
    let suffix: String = (0..5)
        .map(|_| SUFFIX_ALPHABET[rand::random_range(0..SUFFIX_ALPHABET.len())] as char)
        .collect();
    // Kubernetes truncates the prefix so the result fits 63 characters (on a character
    // boundary: a multibyte prefix is refused by validation, not a panic here).
    format!("{}{suffix}", crate::codec::text::truncate_bytes(prefix, 58))
}

fn set_server_fields(pod: &mut Pod, at: jiff::Timestamp) {
    let m = &mut pod.metadata;
    m.uid = Some(uuid::Uuid::new_v4().to_string());
    m.creation_timestamp = Some(k8s_time(at));
    m.resource_version = None;
    m.generation = Some(1);
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    m.managed_fields = None;
    m.self_link = None;
    pod.status = None;
}

/// A new pod's record: scheduled on `plan`'s VM (one insert attempt under way), its PKI, and
/// the `Scheduled` event.
fn scheduled_record(
    pod: Pod,
    plan: &VmPlan,
    kubelet_pki: Option<crate::kubelet::PodPki>,
    at: jiff::Timestamp,
) -> PodRecord {
    let vm = VmState {
        name: plan.name.clone(),
        zone: plan.zone.clone(),
        machine_type: plan.machine.name.clone(),
        insert_attempts: 1,
        ..Default::default()
    };
    let (namespace, name) = (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    let mut rec = PodRecord::new(pod, vm);
    rec.kubelet_pki = kubelet_pki;
    rec.event(
        false,
        "Scheduled",
        format!(
            "Successfully assigned {namespace}/{name} to {} ({}, {}): {}",
            plan.name, plan.machine.name, plan.zone, plan.reason
        ),
        at,
    );
    rec
}

/// `k8sless render`: the instance body a pod file becomes (defaulted, validated, translated,
/// with kubelet's certificates when `kubelet` reaches kubelets: new ones each time, as each
/// create makes its own), or the error a create would answer.
pub fn render(
    text: &str,
    vm: &crate::translate::VmSettings,
    kubelet: &crate::kubelet::KubeletAccess,
) -> Result<crate::gce::types::Instance> {
    let value: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| Error::bad_request(format!("the pod is not valid JSON: {e}")))?
    } else {
        decode::parse_yaml(text)?
    };
    let (mut pod, _): (Pod, Vec<String>) =
        decode::decode_object(value, "Pod", FieldValidation::Strict)?;
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    pod.metadata.namespace = Some(namespace);
    if pod.metadata.name.as_deref().unwrap_or("").is_empty() {
        if let Some(prefix) = pod.metadata.generate_name.clone() {
            pod.metadata.name = Some(format!("{prefix}xxxxx"));
        }
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    set_server_fields(&mut pod, now());
    // A fixed uid and no creation time keep the output reproducible.
    pod.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    pod.metadata.creation_timestamp = None;
    defaults::apply(&mut pod);
    validate::validate(&pod).map_err(|c| Error::pod_invalid(&name, c))?;
    let mut plan = translate::translate(&pod, vm).map_err(|c| Error::pod_invalid(&name, c))?;
    crate::pods::kubelet::open_kubelet(&mut plan, None, &name, kubelet, vm)?;
    Ok(plan.instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        assert_eq!(
            resolve_namespace(None, None).ok().as_deref(),
            Some("default")
        );
        assert_eq!(
            resolve_namespace(None, Some("x")).ok().as_deref(),
            Some("x")
        );
        assert_eq!(
            resolve_namespace(Some("a"), None).ok().as_deref(),
            Some("a")
        );
        assert!(resolve_namespace(Some("a"), Some("b")).is_err());
    }

    #[test]
    fn generated_names() {
        let n = generated_name("job-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("job-"));
        // The 58th byte inside a two-byte character: cut before it, no panic.
        let n = generated_name(&format!("{}é-", "a".repeat(57)));
        assert_eq!(n.len(), 62);
        assert!(n.starts_with(&"a".repeat(57)));
    }
}
