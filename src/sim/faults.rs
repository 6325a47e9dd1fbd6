//! Fault injection: per method and zone, a rate of HTTP errors, added latency, hangs longer than
//! a client's timeout, stockouts, and "fail the next N calls". Set by `gce-sim --fault` flags
//! or `POST /sim/faults`.

use serde::{Deserialize, Serialize};

/// One rule. Empty `method`/`zone` match everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// `insert`, `get`, `list`, `delete`, `stop`, `setLabels`, `setMetadata`, `operations`.
    #[serde(default)]
    pub method: Option<String>,
    /// A zone name.
    #[serde(default)]
    pub zone: Option<String>,
    /// Fraction of matching calls answered with one of `codes` (0.0..=1.0).
    #[serde(default)]
    pub error_rate: f64,
    /// HTTP codes to inject: 429, 403 (rateLimitExceeded), 500, 502, 503, 504.
    #[serde(default)]
    pub codes: Vec<u16>,
    /// Fraction of matching calls that hang for `hang_ms` before answering (client timeouts).
    #[serde(default)]
    pub timeout_rate: f64,
    /// How long a hang lasts.
    #[serde(default)]
    pub hang_ms: u64,
    /// Latency added to every matching call.
    #[serde(default)]
    pub latency_ms: u64,
    /// Inserts in this zone end with `ZONE_RESOURCE_POOL_EXHAUSTED`.
    #[serde(default)]
    pub stockout: bool,
    /// Fail exactly the next N matching calls (with the first of `codes`, default 503).
    #[serde(default)]
    pub fail_next: u32,
    /// Inserts beyond this many per second get 403 rateLimitExceeded (a mutation quota).
    #[serde(default)]
    pub quota_per_second: u32,
}

impl FaultRule {
    /// Whether the rule applies to a call.
    pub fn matches(&self, method: &str, zone: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.zone.as_deref().is_none_or(|z| z == zone)
    }

    /// Parses the `gce-sim --fault` syntax: `method=insert,zone=us-central1-a,rate=0.3,codes=429;503,latency=20`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut rule = FaultRule::default();
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("fault {spec:?}: expected key=value in {part:?}"))?;
            let num = |v: &str| {
                v.parse::<f64>()
                    .map_err(|e| format!("fault {spec:?}: {key}: {e}"))
            };
            match key {
                "method" => rule.method = Some(value.to_string()),
                "zone" => rule.zone = Some(value.to_string()),
                "rate" => rule.error_rate = num(value)?,
                "codes" => {
                    rule.codes = value
                        .split(';')
                        .map(|c| {
                            c.parse::<u16>()
                                .map_err(|e| format!("fault {spec:?}: code {c:?}: {e}"))
                        })
                        .collect::<Result<_, _>>()?
                }
                "timeout-rate" => rule.timeout_rate = num(value)?,
                "hang" => rule.hang_ms = num(value)? as u64,
                "latency" => rule.latency_ms = num(value)? as u64,
                "stockout" => rule.stockout = value == "true",
                "fail-next" => rule.fail_next = num(value)? as u32,
                "quota" => rule.quota_per_second = num(value)? as u32,
                other => return Err(format!("fault {spec:?}: unknown key {other:?}")),
            }
        }
        if !(0.0..=1.0).contains(&rule.error_rate) || !(0.0..=1.0).contains(&rule.timeout_rate) {
            return Err(format!("fault {spec:?}: rates must be within 0..1"));
        }
        Ok(rule)
    }
}

/// What the simulator does to one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injected {
    /// Sleep first.
    pub delay_ms: u64,
    /// Answer with this error code instead of doing the call.
    pub error: Option<u16>,
    /// For mutations: do the work, then answer with `error` anyway (a lost response).
    pub after_effect: bool,
    /// Inserts fail with a stockout.
    pub stockout: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let r = FaultRule::parse("method=insert,rate=0.3,codes=429;503,latency=5").expect("parse");
        assert_eq!(r.method.as_deref(), Some("insert"));
        assert_eq!(r.codes, vec![429, 503]);
        assert!(r.matches("insert", "any"));
        assert!(!r.matches("get", "any"));
        assert!(FaultRule::parse("rate=2").is_err());
        assert!(FaultRule::parse("bogus=1").is_err());
    }
}
