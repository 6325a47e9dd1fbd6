//! The simulator's control side, behind `/sim/...` and used by tests directly: the clock and
//! its driver, fault rules and their injection into each call, counters, and the view of every
//! instance.

use std::time::Duration;

use super::faults::{FaultRule, Injected};
use super::{Sim, SimStats};
use crate::gce::types::Instance;

impl Sim {
    /// Advances instances on a timer (Auto mode). Stops when the simulator is dropped.
    pub fn spawn_driver(&self) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Sim { inner }.step();
            }
        })
    }

    /// Moves a manual clock forward and applies due transitions.
    pub fn advance(&self, by: Duration) {
        self.inner.clock.advance(by.as_millis() as u64);
        self.step();
    }

    /// Applies due transitions and runs hooks.
    pub fn step(&self) {
        let changes = self.step_locked(&mut self.lock());
        self.emit(changes);
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        if let Ok(mut f) = self.inner.faults.lock() {
            *f = rules;
        }
    }

    /// Current fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.inner
            .faults
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }

    /// Every instance, all zones (tests and `/sim/instances`).
    pub fn instances(&self) -> Vec<Instance> {
        let st = self.lock();
        let mut all: Vec<Instance> = st
            .zones
            .values()
            .flat_map(|z| z.values().map(|i| i.body.clone()))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Decides the faults for one call; counts it.
    pub(crate) fn inject(&self, method: &str, zone: &str) -> Injected {
        let mut injected = Injected::default();
        let mut faults = match self.inner.faults.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        for rule in faults.iter_mut().filter(|r| r.matches(method, zone)) {
            self.apply_rule(rule, method, &mut injected);
        }
        drop(faults);
        let mut st = self.lock();
        *st.stats.calls.entry(method.to_string()).or_default() += 1;
        if injected.error.is_some() {
            *st.stats.injected.entry(method.to_string()).or_default() += 1;
        }
        injected
    }

    /// Adds what one matching rule does to this call; the first error wins.
    fn apply_rule(&self, rule: &mut FaultRule, method: &str, injected: &mut Injected) {
        injected.delay_ms += rule.latency_ms;
        if rule.stockout && method == "insert" {
            injected.stockout = true;
        }
        if injected.error.is_some() {
            return;
        }
        if rule.fail_next > 0 {
            rule.fail_next -= 1;
            injected.error = Some(rule.codes.first().copied().unwrap_or(503));
            return;
        }
        if rule.timeout_rate > 0.0 && rand::random::<f64>() < rule.timeout_rate {
            injected.delay_ms += rule.hang_ms.max(1);
            injected.error = Some(504);
            injected.after_effect = rand::random::<bool>();
            return;
        }
        if rule.error_rate > 0.0 && rand::random::<f64>() < rule.error_rate {
            let codes = if rule.codes.is_empty() {
                vec![503]
            } else {
                rule.codes.clone()
            };
            injected.error = Some(codes[rand::random_range(0..codes.len())]);
            // Half of injected mutation errors happen after the work is done: a lost
            // response, which only requestId deduplication makes safe to retry.
            injected.after_effect = rand::random::<bool>();
        }
        if rule.quota_per_second > 0 && method == "insert" && self.over_quota(rule) {
            injected.error = Some(403);
            injected.after_effect = false;
        }
    }

    /// Counts an insert in the current one-second window; true past the rule's quota.
    fn over_quota(&self, rule: &FaultRule) -> bool {
        let mut window = self
            .inner
            .quota_window
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (std::time::Instant::now(), 0);
        }
        window.1 += 1;
        window.1 > rule.quota_per_second
    }
}
