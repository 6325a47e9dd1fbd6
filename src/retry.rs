//! Retry policy (exponential backoff with full jitter, bounded by a deadline) and the
//! client-side rate limiter that keeps bursts under the project's mutation quota.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long and how often to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff.
    pub initial: Duration,
    /// Largest backoff.
    pub max: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The sleep before attempt `attempt + 1` (attempt counts from 0): a uniform draw in
    /// `[0, min(max, initial * 2^attempt)]` ("full jitter"), so many clients that failed
    /// together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let millis = cap.as_millis() as u64;
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::random_range(0..=millis))
    }
}

/// A token bucket: at most `rate` acquisitions per second on average, bursts up to `burst`.
///
/// Reservations are handed out in order, so a burst of 1,000 mutations is spread over
/// `1000 / rate` seconds instead of hitting the quota and failing.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: u32,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// `rate` per second; 0 disables limiting.
    pub fn new(rate: f64, burst: u32) -> Self {
        let interval = if rate > 0.0 {
            Duration::from_secs_f64(1.0 / rate)
        } else {
            Duration::ZERO
        };
        RateLimiter {
            interval,
            burst: burst.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for a slot.
    pub async fn acquire(&self) {
        if self.interval.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            // Unused capacity accrues up to `burst` slots, never more.
            let earliest = now
                .checked_sub(self.interval * (self.burst - 1))
                .unwrap_or(now);
            let slot = (*next).max(earliest);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            deadline: Duration::from_secs(5),
        };
        for attempt in 0..40 {
            assert!(p.backoff(attempt) <= Duration::from_secs(1));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spreads_a_burst() {
        let limiter = RateLimiter::new(10.0, 1);
        let start = Instant::now();
        for _ in 0..21 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2100), "{elapsed:?}");
    }
}
