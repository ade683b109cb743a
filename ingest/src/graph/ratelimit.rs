//! Our own request budget per tenant: Graph's identity reports allow about 5 requests per 10 s per
//! app per tenant (SPEC §1.1), and staying under it is cheaper than being throttled and backing off.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A sliding-window limiter: at most `max` requests start in any `window`.
///
/// A sliding window (rather than a refilling bucket) matches how Graph counts, so a burst after an
/// idle spell never exceeds what Graph allows either. It runs on tokio's clock, so tests with a
/// paused clock check its decisions without waiting.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    /// Start times of the requests inside the current window, oldest first.
    started: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// `max` of 0 is treated as 1 (a limiter that admits nothing would hang the collector).
    pub fn new(max: u32, window: Duration) -> Self {
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        RateLimiter {
            max,
            window,
            // Grown as requests come: reserving `max` up front would ask for 64 GB when a config
            // says `rate_requests = 4294967295`.
            started: Mutex::new(VecDeque::with_capacity(max.min(64))),
        }
    }

    /// Decides at `now`: `Ok(())` admits a request (and counts it), `Err(wait)` says how long until
    /// one may start.
    pub fn try_acquire_at(&self, now: Instant) -> Result<(), Duration> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(&first) = started.front() {
            if now.saturating_duration_since(first) >= self.window {
                started.pop_front();
            } else {
                break;
            }
        }
        if started.len() < self.max {
            started.push_back(now);
            return Ok(());
        }
        let oldest = started.front().copied().unwrap_or(now);
        Err(self
            .window
            .saturating_sub(now.saturating_duration_since(oldest)))
    }

    /// Waits until a request may start, counts it, and returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let begin = Instant::now();
        loop {
            match self.try_acquire_at(Instant::now()) {
                Ok(()) => return begin.elapsed(),
                Err(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_rate_requests_reserves_nothing_up_front_and_still_limits() {
        let l = RateLimiter::new(u32::MAX, Duration::MAX);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(l.try_acquire_at(now), Ok(()));
        }
        let one = RateLimiter::new(1, Duration::MAX);
        assert_eq!(one.try_acquire_at(now), Ok(()));
        // A window too long to add to the clock: the wait saturates instead of overflowing.
        assert!(one.try_acquire_at(now).is_err());
    }
}
