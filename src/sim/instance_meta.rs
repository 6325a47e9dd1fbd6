//! `instances.setLabels` and `instances.setMetadata`: Compute Engine's input rules, then the
//! fingerprint check that makes concurrent writers conflict (412) instead of losing updates.

use std::collections::BTreeMap;

use super::encoding::{fingerprint, items_fingerprint};
use super::operations::NewOperation;
use super::{Sim, SimError, validate};
use crate::gce::labels;
use crate::gce::types::{Instance, Metadata, Operation};

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
        self.change_instance(project, zone, name, "setLabels", |body| {
            if fp != body.label_fingerprint.as_deref() {
                return Err(SimError::stale_fingerprint(
                    "Supplied fingerprint does not match current fingerprint.",
                ));
            }
            body.label_fingerprint = Some(fingerprint(&labels));
            body.labels = labels;
            Ok(())
        })
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
        self.change_instance(project, zone, name, "setMetadata", |body| {
            let current = body.metadata.as_ref().and_then(|m| m.fingerprint.clone());
            if md.fingerprint != current {
                return Err(SimError::stale_fingerprint(
                    "Supplied fingerprint does not match current metadata fingerprint.",
                ));
            }
            md.kind = Some("compute#metadata".into());
            md.fingerprint = Some(items_fingerprint(&md.items));
            body.metadata = Some(md);
            Ok(())
        })
    }

    /// Lets `change` check and change the body of instance `name` in `zone` (under the lock),
    /// then answers a finished operation of `kind` on it.
    fn change_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        kind: &str,
        change: impl FnOnce(&mut Instance) -> Result<(), SimError>,
    ) -> Result<Operation, SimError> {
        let mut st = self.lock();
        let inst = st.instance_mut(zone, name)?;
        change(&mut inst.body)?;
        let body = inst.body.clone();
        Ok(self.new_operation(&mut st, quick(project, zone, kind, &body)))
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
