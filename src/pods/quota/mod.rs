//! ResourceQuota (`v1`), enforced when a pod is created: `pods`, `requests.cpu`,
//! `requests.memory`, `limits.cpu`, `limits.memory`, `requests.nvidia.com/gpu`, and k8sless'
//! `k8sless.dev/hourly-price` (USD per hour of the namespace's VMs at on-demand prices). The
//! quotas are objects ([`crate::objects`], `resourcequotas/<ns>/<name>.json`); what they count
//! is one usage object per namespace ([`usage`]), so a refusal is exact however many instances
//! serve. A pod counts from its create until its VM is gone. docs/namespaces.md.
//!
//! Refusals are kube-apiserver's ResourceQuota admission's, 403 Forbidden:
//! `pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`
//! and `pods "p" is forbidden: failed quota: q: must specify limits.cpu for: c`.

pub(crate) mod charge;
pub(crate) mod objects;
pub(crate) mod repair;
pub(crate) mod usage;

use k8s_openapi::api::core::v1::{Pod, ResourceQuota};

use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::translate::VmPlan;
use charge::Amounts;

/// `k=v,k=v` over `keys`, as kube-apiserver's `prettyPrint` (sorted by name).
fn pretty(keys: &[(String, &'static str)], amounts: impl Fn(&str, &str) -> String) -> String {
    keys.iter()
        .map(|(name, canonical)| format!("{name}={}", amounts(name, canonical)))
        .collect::<Vec<_>>()
        .join(",")
}

fn forbidden(pod: &str, why: String) -> Error {
    let subject = if pod.is_empty() {
        "pods".to_string()
    } else {
        format!("pods \"{pod}\"")
    };
    Error::Forbidden {
        message: format!("{subject} is forbidden: {why}"),
    }
}

/// The hard resources of `q` that k8sless counts: (name as written, what it counts), sorted.
fn hard_keys(q: &ResourceQuota) -> Vec<(String, &'static str)> {
    let mut keys: Vec<(String, &'static str)> = q
        .spec
        .as_ref()
        .and_then(|s| s.hard.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| charge::canonical(k).map(|c| (k.clone(), c)))
        .collect();
    keys.sort();
    keys
}

fn hard_amount(q: &ResourceQuota, name: &str) -> u64 {
    q.spec
        .as_ref()
        .and_then(|s| s.hard.as_ref())
        .and_then(|h| h.get(name))
        .and_then(|v| crate::pods::quantity::parse_milli(&v.0).ok())
        .map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
}

/// The first quota `charge` does not fit, as kube-apiserver checks them (in name order).
fn check(pod: &str, quotas: &[ResourceQuota], used: &Amounts, charge: &Amounts) -> Result<()> {
    for q in quotas {
        let name = q.metadata.name.as_deref().unwrap_or("");
        let exceeded: Vec<(String, &'static str)> = hard_keys(q)
            .into_iter()
            .filter(|(key, c)| {
                let requested = charge.get(*c).copied().unwrap_or(0);
                requested > 0
                    && used.get(*c).copied().unwrap_or(0).saturating_add(requested)
                        > hard_amount(q, key)
            })
            .collect();
        if exceeded.is_empty() {
            continue;
        }
        let amount = |a: &Amounts, c: &str| charge::format(c, a.get(c).copied().unwrap_or(0));
        return Err(forbidden(
            pod,
            format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                pretty(&exceeded, |_, c| amount(charge, c)),
                pretty(&exceeded, |_, c| amount(used, c)),
                pretty(&exceeded, |k, c| charge::format(c, hard_amount(q, k))),
            ),
        ));
    }
    Ok(())
}

/// Kubernetes' "must specify": a quota on CPU or memory needs every container to state it.
fn check_specified(pod: &Pod, quotas: &[ResourceQuota]) -> Result<()> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    for q in quotas {
        let mut missing = Vec::new();
        let mut seen = Vec::new();
        for (_, c) in hard_keys(q) {
            if seen.contains(&c) {
                continue;
            }
            seen.push(c);
            let containers = charge::unspecified(pod, c);
            if !containers.is_empty() {
                missing.push(format!("{c} for: {}", containers.join(",")));
            }
        }
        if !missing.is_empty() {
            missing.sort();
            return Err(forbidden(
                name,
                format!(
                    "failed quota: {}: must specify {}",
                    q.metadata.name.as_deref().unwrap_or(""),
                    missing.join("; ")
                ),
            ));
        }
    }
    Ok(())
}

impl Pods {
    /// Charges the pod to its namespace's usage if the namespace has quotas and the pod fits
    /// them all; true when a charge was taken (to release if the create fails after).
    ///
    /// # Errors
    /// 403 as kube-apiserver's ResourceQuota admission words it; the store's.
    pub(crate) async fn reserve_quota(
        &self,
        namespace: &str,
        pod: &Pod,
        plan: &VmPlan,
    ) -> Result<bool> {
        let quotas = self.quota_objects.list(Some(namespace)).await?.items;
        if quotas.is_empty() {
            return Ok(false);
        }
        check_specified(pod, &quotas)?;
        let amounts = charge::of(pod, plan);
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.modify_usage(namespace, |usage| {
            if usage.pods.contains_key(&uid) {
                return Ok(false);
            }
            check(&name, &quotas, &usage.totals(), &amounts)?;
            usage.pods.insert(
                uid.clone(),
                usage::Charge {
                    pod: name.clone(),
                    at: jiff::Timestamp::now(),
                    amounts: amounts.clone(),
                },
            );
            Ok(true)
        })
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quota(name: &str, hard: serde_json::Value) -> ResourceQuota {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"hard": hard}}))
            .expect("quota")
    }

    #[test]
    fn exceeding_is_worded_as_kube_apiserver_words_it() {
        let quotas = [quota("compute", json!({"pods": "2", "requests.cpu": "4"}))];
        let used = Amounts::from([("pods".into(), 2000), ("requests.cpu".into(), 1000)]);
        let charge = Amounts::from([("pods".into(), 1000), ("requests.cpu".into(), 1000)]);
        let e = check("p3", &quotas, &used, &charge).expect_err("over");
        assert_eq!(e.code(), 403);
        assert_eq!(
            e.to_string(),
            "pods \"p3\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
        );
        let roomy = Amounts::from([("pods".into(), 1000)]);
        assert!(check("p", &quotas, &roomy, &charge).is_ok());
    }

    #[test]
    fn several_exceeded_resources_are_listed_in_name_order() {
        let quotas = [quota(
            "q",
            json!({"requests.cpu": "4", "k8sless.dev/hourly-price": "1"}),
        )];
        let used = Amounts::from([
            ("requests.cpu".into(), 3500),
            (charge::HOURLY_PRICE.into(), 950),
        ]);
        let charge = Amounts::from([
            ("requests.cpu".into(), 1000),
            (charge::HOURLY_PRICE.into(), 95),
        ]);
        let e = check("", &quotas, &used, &charge).expect_err("over");
        assert_eq!(
            e.to_string(),
            "pods is forbidden: exceeded quota: q, requested: k8sless.dev/hourly-price=0.095,requests.cpu=1, used: k8sless.dev/hourly-price=0.95,requests.cpu=3500m, limited: k8sless.dev/hourly-price=1,requests.cpu=4"
        );
    }

    #[test]
    fn a_cpu_quota_needs_every_container_to_state_its_cpu() {
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}),
        )
        .expect("pod");
        let e = check_specified(&pod, &[quota("q", json!({"limits.cpu": "2"}))]).expect_err("must");
        assert_eq!(
            e.to_string(),
            "pods \"p\" is forbidden: failed quota: q: must specify limits.cpu for: c"
        );
        assert!(check_specified(&pod, &[quota("q", json!({"pods": "2"}))]).is_ok());
    }
}
