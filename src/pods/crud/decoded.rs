//! Records decoded from their index, kept by record key and generation, so the pages of the
//! next list of the same records (the next `kubectl get pods -A` on a warm instance) are cut
//! without decoding them again.
//!
//! Decoding 500 indexes through k8s-openapi's `Pod` deserializer was three quarters of a later
//! page's time on the service (docs/benchmarks.md, "A later page cut while the client reads
//! the last one"); every walk decoded every record again although a finished pod's index never
//! changes. A record's index is written in the same upload as its body (`pods::index`), so a
//! generation names one index: the record decoded from it is the same record for as long as
//! that generation is listed, as the Cloud Storage body cache already assumes of bodies.
//!
//! # Guarantees
//! - A record is served from here only for the key and generation it was decoded from; which
//!   keys and generations a page shows is still the listing's (the snapshot's) choice, so the
//!   consistency of paged lists is unchanged.
//! - Bounded: at most [`DECODED_MAX`] records (an estimated 5 KB each in memory, not
//!   measured), cleared when full, as the body cache and the `GET` cache are.

use std::sync::Arc;

use crate::error::Error;
use crate::pods::index;
use crate::pods::record::PodRecord;
use crate::store::{ByGeneration, Entry};

/// Records kept: a walk of 10,000 pods fits, with room for pods created between walks.
pub(crate) const DECODED_MAX: usize = 16_384;

/// Records decoded from their index, by key, with the generation they were decoded at.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    records: ByGeneration<Arc<PodRecord>, DECODED_MAX>,
}

impl Decoded {
    /// The record `entry` stands for: kept when it was decoded from this generation's index,
    /// else decoded (and kept when it came from an index: a full body, listed only for records
    /// without one, is decoded each time, as before).
    pub(crate) fn record(&self, entry: &Entry) -> Result<Arc<PodRecord>, Error> {
        if entry.index.is_none() {
            return index::decode(entry).map(Arc::new);
        }
        if let Some(rec) = self.records.get(&entry.key, entry.generation) {
            return Ok(rec);
        }
        let rec = Arc::new(index::decode(entry)?);
        self.records
            .keep(entry.key.clone(), entry.generation, rec.clone());
        Ok(rec)
    }

    /// How many are kept (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::record::{self, VmState};
    use k8s_openapi::api::core::v1::Pod;

    fn entry(name: &str, phase: &str, generation: i64) -> Entry {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": phase},
        }))
        .expect("pod");
        Entry {
            key: record::key("ns", name),
            generation,
            index: index::of(&PodRecord::new(pod, VmState::default())).map(Into::into),
            data: None,
        }
    }

    fn phase(rec: &PodRecord) -> Option<&str> {
        rec.pod.status.as_ref().and_then(|s| s.phase.as_deref())
    }

    #[test]
    fn a_record_is_kept_for_its_generation_only() {
        let decoded = Decoded::default();
        let first = decoded.record(&entry("a", "Running", 3)).expect("decode");
        let again = decoded.record(&entry("a", "Running", 3)).expect("kept");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same generation is not decoded again"
        );
        assert_eq!(again.pod.metadata.resource_version.as_deref(), Some("3"));

        let changed = decoded.record(&entry("a", "Succeeded", 4)).expect("decode");
        assert_eq!(
            phase(&changed),
            Some("Succeeded"),
            "a new generation is decoded"
        );
        assert_eq!(changed.pod.metadata.resource_version.as_deref(), Some("4"));
        assert_eq!(decoded.len(), 1, "one record per key");

        let mut bare = entry("b", "Running", 5);
        bare.index = None;
        assert!(decoded.record(&bare).is_err(), "no index and no body");
        assert_eq!(decoded.len(), 1, "nothing kept for it");
    }

    #[test]
    fn it_is_bounded() {
        let decoded = Decoded::default();
        for i in 0..=DECODED_MAX {
            decoded
                .record(&entry(&format!("p{i}"), "Running", 1))
                .expect("decode");
        }
        assert!(decoded.len() <= DECODED_MAX);
    }
}
