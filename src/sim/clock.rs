//! The simulator's clock: real time in `Auto` mode, or a manual clock that tests advance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Milliseconds since the simulator started, real or manual.
#[derive(Debug)]
pub struct SimClock {
    started: Instant,
    wall_start: jiff::Timestamp,
    manual: Option<AtomicU64>,
}

impl SimClock {
    /// Real time.
    pub fn real() -> Self {
        SimClock {
            started: Instant::now(),
            wall_start: jiff::Timestamp::now(),
            manual: None,
        }
    }

    /// A clock that only moves with [`SimClock::advance`].
    pub fn manual() -> Self {
        SimClock {
            started: Instant::now(),
            wall_start: jiff::Timestamp::now(),
            manual: Some(AtomicU64::new(0)),
        }
    }

    /// Whether tests drive this clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Now, in milliseconds since start.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => self.started.elapsed().as_millis() as u64,
        }
    }

    /// Moves a manual clock forward (no effect on a real one).
    pub fn advance(&self, ms: u64) {
        if let Some(m) = &self.manual {
            m.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// RFC 3339 time of a clock reading, as Compute Engine formats timestamps.
    pub fn rfc3339(&self, ms: u64) -> String {
        let span = jiff::SignedDuration::from_millis(ms as i64);
        let ts = self.wall_start.checked_add(span).unwrap_or(self.wall_start);
        ts.strftime("%Y-%m-%dT%H:%M:%S%.3f-07:00")
            .to_string()
            .replace("-07:00", "+00:00")
    }
}
