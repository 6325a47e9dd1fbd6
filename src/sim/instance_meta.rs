//! `instances.setLabels` and `instances.setMetadata`: Compute Engine's input rules, then the
//! fingerprint check that makes concurrent writers conflict (412) instead of losing updates.

use std::collections::BTreeMap;

use super::encoding::fingerprint;
use super::operations::NewOperation;
use super::{Sim, SimError, validate};
use crate::gce::labels;
use crate::gce::types::{Metadata, Operation};

impl Sim {
    /// `instances.setLabels` with fingerprint check.
    pub fn set_labels(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        labels: BTreeMap<String, String>,
        fp: Option<&str>,
    ) -> Result<Operation, SimError> {
        labels::check_labels(&labels).map_err(SimError::invalid)?;
        let mut st = self.lock();
        let inst = st
            .zones
            .get_mut(zone)
            .and_then(|z| z.get_mut(name))
            .ok_or_else(|| SimError::instance_not_found(zone, name))?;
        if fp != inst.body.label_fingerprint.as_deref() {
            return Err(SimError::stale_fingerprint(
                "Supplied fingerprint does not match current fingerprint.",
            ));
        }
        inst.body.label_fingerprint = Some(fingerprint(&labels));
        inst.body.labels = labels;
        let body = inst.body.clone();
        Ok(self.new_operation(&mut st, quick(project, zone, "setLabels", &body)))
    }

    /// `instances.setMetadata` with fingerprint check.
    pub fn set_metadata(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        mut md: Metadata,
    ) -> Result<Operation, SimError> {
        validate::check_metadata(&md).map_err(SimError::invalid)?;
        let mut st = self.lock();
        let inst = st
            .zones
            .get_mut(zone)
            .and_then(|z| z.get_mut(name))
            .ok_or_else(|| SimError::instance_not_found(zone, name))?;
        let current = inst
            .body
            .metadata
            .as_ref()
            .and_then(|m| m.fingerprint.clone());
        if md.fingerprint != current {
            return Err(SimError::stale_fingerprint(
                "Supplied fingerprint does not match current metadata fingerprint.",
            ));
        }
        md.kind = Some("compute#metadata".into());
        md.fingerprint = Some(fingerprint(&md.items));
        inst.body.metadata = Some(md);
        let body = inst.body.clone();
        Ok(self.new_operation(&mut st, quick(project, zone, "setMetadata", &body)))
    }
}

/// An operation that is DONE at once.
fn quick<'a>(
    project: &'a str,
    zone: &'a str,
    kind: &'a str,
    target: &'a crate::gce::types::Instance,
) -> NewOperation<'a> {
    NewOperation {
        project,
        zone,
        kind,
        target,
        delay_ms: 0,
        error: None,
    }
}
