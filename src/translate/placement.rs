//! Placement: what the pod's `nodeSelector` and required node affinity ask of its VM.
//!
//! k8sless does not pick a node, it makes one, so the question is which labels the new VM can
//! carry to satisfy the pod. The labels it understands are GKE's: zone and region
//! (`topology.kubernetes.io/*` and the legacy `failure-domain.beta.kubernetes.io/*`), Spot
//! (`cloud.google.com/gke-spot: "true"`, `cloud.google.com/gke-provisioning: spot`), the
//! accelerator (`cloud.google.com/gke-accelerator`), the machine type
//! (`node.kubernetes.io/instance-type`), and `kubernetes.io/os: linux`,
//! `kubernetes.io/arch: amd64`. Other keys (node pools, custom node labels) are ignored: there
//! is no node to carry them.
//!
//! `nodeSelector` and each `nodeSelectorTerms` entry are ANDed; terms are ORed, so the first
//! term k8sless can satisfy wins (the first term's problems are reported when none can).
//! `In`, `NotIn`, `Exists` and `DoesNotExist` are understood; `Gt` and `Lt` never match these
//! labels. Tolerations need no translation: the VM has no taints, so every toleration (GKE's
//! `cloud.google.com/gke-spot=true:NoSchedule`, `nvidia.com/gpu`) is accepted as is. Preferred
//! affinity is a preference and is ignored.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PodSpec};

use super::VmSettings;
use crate::error::Cause;
use crate::gce::catalog;

const ZONE_KEYS: &[&str] = &[
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.gke.io/zone",
];
const REGION_KEYS: &[&str] = &[
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/region",
];
/// GKE's Spot node label.
pub(crate) const SPOT_KEY: &str = "cloud.google.com/gke-spot";
const PROVISIONING_KEY: &str = "cloud.google.com/gke-provisioning";
/// GKE's accelerator node label.
pub(crate) const ACCELERATOR_KEY: &str = "cloud.google.com/gke-accelerator";
/// The well-known machine type node label.
pub(crate) const INSTANCE_TYPE_KEY: &str = "node.kubernetes.io/instance-type";
const INSTANCE_TYPE_KEYS: &[&str] = &[INSTANCE_TYPE_KEY, "beta.kubernetes.io/instance-type"];
const OS_KEYS: &[&str] = &["kubernetes.io/os", "beta.kubernetes.io/os"];
const ARCH_KEYS: &[&str] = &["kubernetes.io/arch", "beta.kubernetes.io/arch"];
const AFFINITY: &str = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";

/// What the pod asks of its VM's placement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placement {
    /// Zones the pod may run in, in the configured fallback order (default zone first).
    pub zones: Vec<String>,
    /// Where the zone constraint came from, if any.
    pub zone_field: Option<String>,
    /// Spot VM.
    pub spot: bool,
    /// The accelerator named, with its field.
    pub accelerator: Option<(String, String)>,
    /// The machine type named by a node label, with its field.
    pub instance_type: Option<(String, String)>,
}

/// One requirement on one label.
#[derive(Debug, Clone)]
struct Rule {
    field: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Never,
}

impl Rule {
    /// Whether a VM whose label is `value` (`None`: no such label) satisfies the rule.
    fn allows(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::In(vs), Some(v)) => vs.iter().any(|x| x == v),
            (Op::In(_), None) => false,
            (Op::NotIn(vs), v) => v.is_none_or(|v| !vs.iter().any(|x| x == v)),
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Never, _) => false,
        }
    }

    fn named(&self) -> &[String] {
        match &self.op {
            Op::In(vs) => vs,
            _ => &[],
        }
    }
}

/// The pod's placement, or why no VM k8sless can make satisfies it.
pub(crate) fn place(spec: &PodSpec, s: &VmSettings) -> Result<Placement, Vec<Cause>> {
    let selector = spec.node_selector.clone().unwrap_or_default();
    let terms: Vec<&NodeSelectorTerm> = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.iter().collect())
        .unwrap_or_default();
    if terms.is_empty() {
        return place_term(&selector, None, s);
    }
    let mut first_err = None;
    for (i, term) in terms.iter().enumerate() {
        match place_term(&selector, Some((i, term)), s) {
            Ok(p) => return Ok(p),
            Err(c) => {
                first_err.get_or_insert(c);
            }
        }
    }
    Err(first_err.unwrap_or_default())
}

fn rules(
    selector: &BTreeMap<String, String>,
    term: Option<(usize, &NodeSelectorTerm)>,
) -> BTreeMap<String, Vec<Rule>> {
    let mut out: BTreeMap<String, Vec<Rule>> = BTreeMap::new();
    for (k, v) in selector {
        out.entry(k.clone()).or_default().push(Rule {
            field: format!("spec.nodeSelector[{k}]"),
            op: Op::In(vec![v.clone()]),
        });
    }
    let Some((i, term)) = term else { return out };
    for (j, e) in term.match_expressions.iter().flatten().enumerate() {
        let values = e.values.clone().unwrap_or_default();
        let op = match e.operator.as_str() {
            "In" => Op::In(values),
            "NotIn" => Op::NotIn(values),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            _ => Op::Never,
        };
        out.entry(e.key.clone()).or_default().push(Rule {
            field: format!("{AFFINITY}.nodeSelectorTerms[{i}].matchExpressions[{j}]"),
            op,
        });
    }
    out
}

type Rules = BTreeMap<String, Vec<Rule>>;

/// The rules on any of `keys`.
fn on<'a>(all: &'a Rules, keys: &[&str]) -> Vec<&'a Rule> {
    keys.iter().filter_map(|k| all.get(*k)).flatten().collect()
}

fn place_term(
    selector: &BTreeMap<String, String>,
    term: Option<(usize, &NodeSelectorTerm)>,
    s: &VmSettings,
) -> Result<Placement, Vec<Cause>> {
    let all = rules(selector, term);
    let mut causes = Vec::new();
    let (zones, zone_field) = place_zones(&all, s, &mut causes);
    let spot = place_spot(&all, &mut causes);
    let accelerator = place_accelerator(&all, &mut causes);
    let instance_type = place_instance_type(&all);
    check_platform(&all, &mut causes);
    if !causes.is_empty() {
        return Err(causes);
    }
    Ok(Placement {
        zones,
        zone_field,
        spot,
        accelerator,
        instance_type,
    })
}

/// The zones the pod may run in, with the field that restricts them.
fn place_zones(
    all: &Rules,
    s: &VmSettings,
    causes: &mut Vec<Cause>,
) -> (Vec<String>, Option<String>) {
    // Zones: the allowed ones, default first, that every zone and region rule admits.
    let mut allowed = vec![s.zone.clone()];
    allowed.extend(s.zones.iter().filter(|z| **z != s.zone).cloned());
    let zone_rules = on(all, ZONE_KEYS);
    let region_rules = on(all, REGION_KEYS);
    let zones: Vec<String> = allowed
        .iter()
        .filter(|z| zone_rules.iter().all(|r| r.allows(Some(z))))
        .filter(|z| {
            region_rules
                .iter()
                .all(|r| r.allows(Some(catalog::region_of(z))))
        })
        .cloned()
        .collect();
    let zone_field = zone_rules
        .first()
        .or(region_rules.first())
        .map(|r| r.field.clone());
    if zones.is_empty() {
        // Report the rule that admits no allowed zone; else (rules that only together
        // exclude every zone) the first one.
        let rule = zone_rules
            .iter()
            .find(|r| !allowed.iter().any(|z| r.allows(Some(z))))
            .or_else(|| {
                region_rules.iter().find(|r| {
                    !allowed
                        .iter()
                        .any(|z| r.allows(Some(catalog::region_of(z))))
                })
            })
            .or(zone_rules.first())
            .or(region_rules.first());
        if let Some(rule) = rule {
            let supported = if region_rules.iter().any(|r| std::ptr::eq(*r, *rule)) {
                vec![catalog::region_of(&s.zone).to_string()]
            } else {
                allowed.clone()
            };
            causes.push(Cause::not_supported(
                rule.field.clone(),
                format!(
                    "{}: supported values: {}",
                    quoted(rule.named()),
                    quoted(&supported)
                ),
            ));
        }
    }
    (zones, zone_field)
}

/// Whether the VM is Spot.
fn place_spot(all: &Rules, causes: &mut Vec<Cause>) -> bool {
    // Spot: a Spot VM carries gke-spot=true and gke-provisioning=spot; a standard VM no
    // gke-spot label (or "false", as users write) and gke-provisioning=standard.
    let spot_rules = on(all, &[SPOT_KEY]);
    let prov_rules = on(all, &[PROVISIONING_KEY]);
    let spot_ok = spot_rules.iter().all(|r| r.allows(Some("true")))
        && prov_rules.iter().all(|r| r.allows(Some("spot")));
    let standard_ok = spot_rules
        .iter()
        .all(|r| r.allows(None) || r.allows(Some("false")))
        && prov_rules.iter().all(|r| r.allows(Some("standard")));
    if !spot_ok && !standard_ok {
        if let Some(r) = spot_rules.iter().chain(&prov_rules).next() {
            let supported = if r.field.contains(PROVISIONING_KEY) {
                "\"spot\", \"standard\""
            } else {
                "\"true\", \"false\""
            };
            causes.push(Cause::not_supported(
                r.field.clone(),
                format!("{}: supported values: {supported}", quoted(r.named())),
            ));
        }
    }
    spot_ok && !standard_ok
}

/// The GPU model the node labels ask for, with its field.
fn place_accelerator(all: &Rules, causes: &mut Vec<Cause>) -> Option<(String, String)> {
    // Accelerator: the first value named that every rule admits.
    let acc_rules = on(all, &[ACCELERATOR_KEY]);
    let accelerator = acc_rules
        .iter()
        .flat_map(|r| r.named().iter().map(move |v| (v, r)))
        .find(|(v, _)| acc_rules.iter().all(|r| r.allows(Some(v))))
        .map(|(v, r)| (v.clone(), r.field.clone()));
    if let Some((name, field)) = &accelerator {
        if catalog::accelerator(name).is_none() {
            let known: Vec<String> = catalog::ACCELERATORS
                .iter()
                .map(|a| a.name.to_string())
                .collect();
            causes.push(Cause::not_supported(
                field.clone(),
                format!("{:?}: supported values: {}", name, quoted(&known)),
            ));
        }
    }
    accelerator
}

/// The machine type the node labels name, with its field.
fn place_instance_type(all: &Rules) -> Option<(String, String)> {
    // Machine type named by label.
    let type_rules = on(all, INSTANCE_TYPE_KEYS);
    type_rules
        .iter()
        .flat_map(|r| r.named().iter().map(move |v| (v, r)))
        .find(|(v, _)| type_rules.iter().all(|r| r.allows(Some(v))))
        .map(|(v, r)| (v.clone(), r.field.clone()))
}

/// The VM is linux/amd64: rules asking for anything else cannot be met.
fn check_platform(all: &Rules, causes: &mut Vec<Cause>) {
    // The VM is linux/amd64.
    for (keys, value) in [(OS_KEYS, "linux"), (ARCH_KEYS, "amd64")] {
        if let Some(r) = on(all, keys).into_iter().find(|r| !r.allows(Some(value))) {
            causes.push(Cause::not_supported(
                r.field.clone(),
                format!("{}: supported values: \"{value}\"", quoted(r.named())),
            ));
        }
    }
}

/// `"a", "b"` (Kubernetes' style for values in messages).
pub(crate) fn quoted(values: &[String]) -> String {
    if values.is_empty() {
        return "\"\"".into();
    }
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
