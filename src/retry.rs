//! Retry policy (exponential backoff with full jitter, bounded by a deadline), the one retry
//! loop every cloud client runs its attempts through (`RetryPolicy::run`), and the
//! client-side rate limiter that keeps bursts under the project's mutation quota.
//!
//! The clients decide what is transient (each API has its own codes); this module decides
//! how long to wait and when to stop. It never logs a failure: the caller's error reaches the
//! request middleware, which logs it once.

use std::future::Future;
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

    /// Runs `attempt` until it succeeds, fails with an error `is_transient` rejects, or the
    /// next backoff would end past the deadline (counted from the first attempt); returns the
    /// last result. `attempt` receives the attempt number, from 0.
    pub(crate) async fn run<T, E, Fut>(
        &self,
        mut attempt: impl FnMut(u32) -> Fut,
        is_transient: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let started = Instant::now();
        let mut n = 0u32;
        loop {
            let err = match attempt(n).await {
                Ok(value) => return Ok(value),
                Err(err) if is_transient(&err) => err,
                Err(err) => return Err(err),
            };
            let backoff = self.backoff(n);
            if started.elapsed() + backoff >= self.deadline {
                tracing::debug!(error = %err, attempts = n + 1, "retries exhausted");
                return Err(err);
            }
            tracing::debug!(error = %err, attempt = n, ?backoff, "retrying");
            tokio::time::sleep(backoff).await;
            n += 1;
        }
    }
}

/// A token bucket: at most `rate` acquisitions per second on average, bursts up to `burst`.
///
/// Reservations are handed out in order, so a burst of 1,000 mutations is spread over
/// `1000 / rate` seconds instead of hitting the quota and failing.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    burst: u32,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// `rate` per second; 0 disables limiting.
    pub(crate) fn new(rate: f64, burst: u32) -> Self {
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
    pub(crate) async fn acquire(&self) {
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
    async fn run_retries_transient_failures_until_the_deadline() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(100),
            deadline: Duration::from_secs(1),
        };
        let mut calls = 0;
        let ok: Result<u32, String> = p
            .run(
                |n| {
                    calls += 1;
                    async move {
                        if n < 3 {
                            Err("busy".to_string())
                        } else {
                            Ok(n)
                        }
                    }
                },
                |_| true,
            )
            .await;
        assert_eq!((ok, calls), (Ok(3), 4));

        let mut calls = 0;
        let permanent: Result<(), String> = p
            .run(
                |_| {
                    calls += 1;
                    async { Err("no".to_string()) }
                },
                |e| e != "no",
            )
            .await;
        assert_eq!((permanent, calls), (Err("no".to_string()), 1));

        let start = Instant::now();
        let gave_up: Result<(), String> =
            p.run(|_| async { Err("busy".to_string()) }, |_| true).await;
        assert!(gave_up.is_err());
        assert!(start.elapsed() <= Duration::from_secs(1));
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
