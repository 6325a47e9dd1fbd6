//! The service's clock for lifecycle decisions (grace periods, boot timeouts, deadlines,
//! token expiry): the real clock plus an offset that only tests move, so a test can say "a
//! minute passes" to the collector and the simulator together ([`crate::testing::Stack::advance`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Real time plus a test-controlled offset. Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real clock.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Now, as this clock sees it.
    pub(crate) fn now(&self) -> Timestamp {
        let real = Timestamp::now();
        let offset = SignedDuration::from_millis(self.offset_ms.load(Ordering::SeqCst));
        real.checked_add(offset).unwrap_or(real)
    }

    /// Moves this clock (and its clones) forward.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

/// `since` to `now` as a std duration (zero when `since` is later).
pub(crate) fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let c = Clock::new();
        let other = c.clone();
        let before = other.now();
        c.advance(Duration::from_secs(120));
        assert!(elapsed(before, other.now()) >= Duration::from_secs(120));
        assert_eq!(elapsed(other.now(), before), Duration::ZERO);
    }
}
