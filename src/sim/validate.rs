//! Compute Engine's own input rules, as the simulator enforces them on insert, setLabels and
//! setMetadata, with Google's messages. The shared rules (names, labels) are also used by the
//! Pod → VM translation so the service never sends what Compute Engine would reject.

use std::collections::BTreeMap;

use crate::gce::catalog;
use crate::gce::types::{Instance, Metadata};

/// Largest metadata value, 256 KiB.
pub const METADATA_VALUE_MAX: usize = 256 * 1024;
/// Largest total metadata, 512 KiB.
pub const METADATA_TOTAL_MAX: usize = 512 * 1024;

/// RFC 1035 label, at most 63 characters: Compute Engine's resource names.
pub fn valid_resource_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Label key: starts with a lowercase letter; lowercase letters, digits, `_`, `-`; at most 63.
pub fn valid_label_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || !b[0].is_ascii())
        && key.chars().all(label_char)
}

/// Label value: empty or lowercase letters, digits, `_`, `-`; at most 63.
pub fn valid_label_value(value: &str) -> bool {
    value.len() <= 63 && value.chars().all(label_char)
}

fn label_char(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || c == '_'
        || c == '-'
        || (!c.is_ascii() && c.is_lowercase())
}

/// Checks labels; returns Google's message on the first problem.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > 64 {
        return Err(
            "Invalid value for field 'resource.labels': too many labels (maximum 64)".into(),
        );
    }
    for (k, v) in labels {
        if !valid_label_key(k) {
            return Err(format!(
                "Invalid value for field 'resource.labels': '{k}'. Label key is invalid."
            ));
        }
        if !valid_label_value(v) {
            return Err(format!(
                "Invalid value for field 'resource.labels': '{v}'. Label value is invalid."
            ));
        }
    }
    Ok(())
}

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
    fn names() {
        assert!(valid_resource_name("k8s-default-hello-1a2b3c"));
        assert!(!valid_resource_name("1abc"));
        assert!(!valid_resource_name("abc-"));
        assert!(!valid_resource_name(&"a".repeat(64)));
        assert!(valid_resource_name(&"a".repeat(63)));
    }

    #[test]
    fn labels() {
        let mut l = BTreeMap::new();
        l.insert("k8sless".to_string(), "true".to_string());
        assert!(check_labels(&l).is_ok());
        l.insert("Bad".to_string(), "x".to_string());
        assert!(check_labels(&l).is_err());
    }

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
