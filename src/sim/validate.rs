//! Compute Engine's own input rules, as the simulator enforces them on insert and setMetadata,
//! with Google's messages. The rules the translation shares (resource names, labels) live in
//! [`crate::gce::labels`].

use crate::gce::catalog;
use crate::gce::labels::{check_labels, valid_resource_name};
use crate::gce::types::{Instance, Metadata};

/// Largest metadata value, 256 KiB.
pub const METADATA_VALUE_MAX: usize = 256 * 1024;
/// Largest total metadata, 512 KiB.
pub const METADATA_TOTAL_MAX: usize = 512 * 1024;

/// Checks metadata keys and sizes.
pub fn check_metadata(metadata: &Metadata) -> Result<(), String> {
    let mut total = 0usize;
    let mut seen = std::collections::HashSet::new();
    for item in &metadata.items {
        let key_ok = !item.key.is_empty()
            && item.key.len() <= 128
            && item
                .key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !key_ok {
            return Err(format!(
                "Invalid value for field 'resource.metadata.items.key': '{}'.",
                item.key
            ));
        }
        if !seen.insert(item.key.as_str()) {
            return Err(format!(
                "Invalid value for field 'resource.metadata': duplicate key '{}'.",
                item.key
            ));
        }
        let len = item.value.as_deref().map_or(0, str::len);
        if len > METADATA_VALUE_MAX {
            return Err(format!(
                "Invalid value for field 'resource.metadata.items.value': value of key '{}' exceeds 262144 bytes.",
                item.key
            ));
        }
        total += len + item.key.len();
    }
    if total > METADATA_TOTAL_MAX {
        return Err(
            "Invalid value for field 'resource.metadata': metadata exceeds the limit of 512 KB."
                .into(),
        );
    }
    Ok(())
}

/// Checks an insert body for `zone`.
pub fn check_insert(zone: &str, instance: &Instance) -> Result<(), String> {
    if !catalog::zones_of(catalog::region_of(zone))
        .iter()
        .any(|z| z == zone)
    {
        return Err(format!(
            "Invalid value for field 'zone': '{zone}'. Unknown zone."
        ));
    }
    if !valid_resource_name(&instance.name) {
        return Err(format!(
            "Invalid value for field 'resource.name': '{}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'",
            instance.name
        ));
    }
    let machine_type = instance.machine_type.as_str();
    let (mt_zone, mt_name) = parse_machine_type(machine_type)
        .ok_or_else(|| format!("Invalid value for field 'resource.machineType': '{machine_type}'. Must be a URL to a valid Compute resource of the correct type."))?;
    if mt_zone != zone {
        return Err(format!(
            "Invalid value for field 'resource.machineType': '{machine_type}'. Machine type must be in zone '{zone}'."
        ));
    }
    let mt = catalog::lookup(mt_name).ok_or_else(|| {
        format!("Invalid value for field 'resource.machineType': '{machine_type}'. Machine type with name '{mt_name}' does not exist in zone '{zone}'.")
    })?;
    check_labels(&instance.labels)?;
    if let Some(md) = &instance.metadata {
        check_metadata(md)?;
    }
    if instance
        .disks
        .iter()
        .filter(|d| d.boot == Some(true))
        .count()
        != 1
    {
        return Err(
            "Invalid value for field 'resource.disks': exactly one boot disk is required.".into(),
        );
    }
    for acc in &instance.guest_accelerators {
        let name = acc.accelerator_type.rsplit('/').next().unwrap_or("");
        let known = catalog::accelerator(name).is_some_and(|a| a.attachable_to_n1);
        if !known || mt.family != "n1" {
            return Err(format!(
                "Invalid value for field 'resource.guestAccelerators[0].acceleratorType': '{}'. Accelerator type not available for machine type '{mt_name}'.",
                acc.accelerator_type
            ));
        }
        if !(1..=8).contains(&acc.accelerator_count) {
            return Err(
                "Invalid value for field 'resource.guestAccelerators[0].acceleratorCount'.".into(),
            );
        }
    }
    let has_gpus = !instance.guest_accelerators.is_empty() || mt.accelerator.is_some();
    if has_gpus {
        let terminate = instance
            .scheduling
            .as_ref()
            .and_then(|s| s.on_host_maintenance.as_deref())
            == Some("TERMINATE");
        if !terminate {
            return Err("Instances with guest accelerators do not support live migration: set scheduling.onHostMaintenance to TERMINATE.".into());
        }
    }
    Ok(())
}

/// `zones/Z/machineTypes/T` or a full URL ending so → `(Z, T)`.
pub fn parse_machine_type(url: &str) -> Option<(&str, &str)> {
    let idx = url.find("zones/")?;
    let rest = &url[idx + "zones/".len()..];
    let (zone, rest) = rest.split_once('/')?;
    let name = rest.strip_prefix("machineTypes/")?;
    (!name.is_empty() && !name.contains('/')).then_some((zone, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_type_urls() {
        assert_eq!(
            parse_machine_type("zones/us-central1-a/machineTypes/e2-small"),
            Some(("us-central1-a", "e2-small"))
        );
        assert_eq!(
            parse_machine_type("https://x/compute/v1/projects/p/zones/z/machineTypes/e2-small"),
            Some(("z", "e2-small"))
        );
        assert_eq!(parse_machine_type("e2-small"), None);
    }
}
