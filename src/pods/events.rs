//! Kubernetes `Event`s derived from each pod record's history, so `kubectl describe pod`
//! and `kubectl get events` show Scheduled, Started, Completed, Failed, Preempted, Deleted
//! with their times. Filtered by a field selector on `involvedObject.*`, `reason`, `type`,
//! `source` and `metadata.*`; a selector naming the pod reads only that record.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::Pods;
use super::crud::read::ListOptions;
use super::record::PodRecord;
use crate::error::{Error, Result};

/// The fields an event field selector may name.
const SELECTABLE: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "type",
    "source",
    "metadata.namespace",
    "metadata.name",
];

/// One `field=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    value: String,
}

/// A field selector on events (`=` and `==` terms, all of which must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventFilter {
    terms: Vec<Term>,
}

impl EventFilter {
    /// Parses `fieldSelector`.
    ///
    /// # Errors
    /// 400 for a term that is not `field=value` or names a field events cannot be selected by.
    pub(crate) fn parse(selector: &str) -> Result<Self> {
        let mut terms = Vec::new();
        for term in selector.split(',').filter(|t| !t.trim().is_empty()) {
            let (k, v) = term
                .split_once("==")
                .or_else(|| term.split_once('='))
                .ok_or_else(|| Error::bad_request(format!("invalid field selector {term:?}")))?;
            let k = k.trim();
            if !SELECTABLE.contains(&k) {
                return Err(Error::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
            terms.push(Term {
                field: k.to_string(),
                value: v.trim().to_string(),
            });
        }
        Ok(EventFilter { terms })
    }

    fn pinned(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field)
            .map(|t| t.value.as_str())
    }

    /// Whether `e` satisfies every term.
    pub(crate) fn matches(&self, e: &Event) -> bool {
        self.terms.iter().all(|t| {
            field(e, &t.field).as_deref() == Some(t.value.as_str())
                || (t.field == "source" && t.value == "k8sless")
        })
    }
}

/// A selectable field's value, as the selector compares it.
fn field(e: &Event, name: &str) -> Option<String> {
    let o = &e.involved_object;
    match name {
        "involvedObject.kind" => o.kind.clone(),
        "involvedObject.namespace" => o.namespace.clone(),
        "involvedObject.name" => o.name.clone(),
        "involvedObject.uid" => o.uid.clone(),
        "involvedObject.apiVersion" => o.api_version.clone(),
        "involvedObject.resourceVersion" => o.resource_version.clone(),
        "involvedObject.fieldPath" => o.field_path.clone(),
        "reason" => e.reason.clone(),
        "type" => e.type_.clone(),
        "source" => e
            .source
            .as_ref()
            .and_then(|s| serde_json::to_string(s).ok()),
        "metadata.namespace" => e.metadata.namespace.clone(),
        "metadata.name" => e.metadata.name.clone(),
        _ => None,
    }
}

/// The record's history as Kubernetes Events about its pod.
pub(crate) fn pod_events(rec: &PodRecord) -> Vec<Event> {
    let meta = &rec.pod.metadata;
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    let rv = meta.resource_version.clone().unwrap_or_default();
    let involved = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(ns.clone()),
        name: Some(name.clone()),
        uid: Some(uid.clone()),
        resource_version: Some(rv.clone()),
        field_path: None,
    };
    rec.events
        .iter()
        .enumerate()
        .map(|(i, e)| Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}{i:02}", e.first.as_microsecond())),
                namespace: Some(ns.clone()),
                uid: Some(format!("{uid}-{i}")),
                resource_version: Some(rv.clone()),
                creation_timestamp: Some(Time(e.first)),
                ..Default::default()
            },
            involved_object: involved.clone(),
            reason: Some(e.reason.clone()),
            message: Some(e.message.clone()),
            type_: Some(e.event_type.clone()),
            count: Some(i32::try_from(e.count).unwrap_or(i32::MAX)),
            first_timestamp: Some(Time(e.first)),
            last_timestamp: Some(Time(e.last)),
            source: Some(EventSource {
                component: Some("k8sless".into()),
                host: None,
            }),
            reporting_component: Some("k8sless".into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        })
        .collect()
}

impl Pods {
    /// The events of the pods in `namespace` (or all) that `filter` selects.
    pub(crate) async fn list_events(
        &self,
        namespace: Option<&str>,
        filter: &EventFilter,
    ) -> Result<Vec<Event>> {
        let ns = namespace.or(filter.pinned("involvedObject.namespace"));
        let records: Vec<PodRecord> = match (ns, filter.pinned("involvedObject.name")) {
            (Some(ns), Some(name)) => match self.get_record(ns, name).await {
                Ok(r) => vec![r],
                Err(Error::NotFound { .. }) => vec![],
                Err(e) => return Err(e),
            },
            _ => self.list(ns, &ListOptions::default()).await?.items,
        };
        Ok(records
            .iter()
            .flat_map(pod_events)
            .filter(|e| filter.matches(e))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn rec() -> PodRecord {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
        }))
        .expect("pod");
        let mut rec = PodRecord::new(pod, Default::default());
        let at: jiff::Timestamp = "2025-06-01T11:00:00.5Z".parse().expect("ts");
        rec.event(false, "Scheduled", "m", at);
        rec
    }

    #[test]
    fn history_becomes_events() {
        let events = pod_events(&rec());
        let v = serde_json::to_value(&events[0]).expect("json");
        assert_eq!(v["kind"], "Event");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["involvedObject"]["name"], "p");
        assert_eq!(v["firstTimestamp"], "2025-06-01T11:00:00Z");
        assert_eq!(v["metadata"]["uid"], "u-0");
        assert_eq!(v["source"]["component"], "k8sless");
        assert_eq!(v["count"], 1);
    }

    #[test]
    fn field_selectors() {
        let e = &pod_events(&rec())[0];
        let pick = |s: &str| EventFilter::parse(s).expect("selector").matches(e);
        assert!(pick("involvedObject.name=p,reason==Scheduled"));
        assert!(pick("source=k8sless"));
        assert!(!pick("type=Warning"));
        assert!(!pick("involvedObject.fieldPath=x"));
        assert!(EventFilter::parse("count=1").is_err());
        assert!(EventFilter::parse("reason").is_err());
    }
}
