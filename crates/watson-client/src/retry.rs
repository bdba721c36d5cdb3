//! Retry policy: which failures are retried, and how long to wait. Pure and unit-tested; the
//! transport (`http.rs`) applies it.
//!
//! # What is retried
//!
//! * **Idempotent calls** (every GET and DELETE, PUT of one word, POST of word batches (an upsert),
//!   TTS model update (an upsert), LM/AM reset, and adding a corpus, grammar or audio resource
//!   with `allow_overwrite=true`) are retried on 429, 500, 502, 503, 504 and on transport
//!   failures (connect, timeout, reset).
//! * **Non-idempotent calls** (creates, train, upgrade, adds without `allow_overwrite`) are only
//!   retried when the service provably did not act: a 429 (refused before processing) or a
//!   connection that could not be established. Train and upgrade are deliberately in this group: a
//!   repeat after an unseen success answers 409 (busy) or 400 (`No input data modified since last
//!   training`), which would hide the success from the caller.
//! * A failed IAM token exchange with a transient cause (not 400/401) is retried for every call:
//!   the service request was not sent yet.
//!
//! # How long to wait
//!
//! Exponential backoff with "equal jitter": retry `n` (0-based) waits a random duration in
//! `[c/2, c]` with `c = min(max_backoff, initial_backoff * 2^n)`. A `Retry-After` from the
//! service is a floor: the wait is at least that long (plus a little jitter so that callers do not
//! return together). Retrying stops after `max_retries` retries, or when the next wait would end
//! after `max_elapsed` since the first attempt; the last error is then returned.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Bounds and pacing of automatic retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The backoff ceiling of the first retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling (a larger `Retry-After` is still honoured).
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries, 500 ms initial backoff, 30 s maximum backoff, 60 s in total (close to the IBM
    /// SDK defaults of 4 retries and a 30 s maximum interval).
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

/// The outcome of one attempt, as far as the retry decision is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response with this (non-success) status.
    Status(u16),
    /// The connection could not be established (request never sent).
    Connect,
    /// Timeout or other transport failure (the request may have been processed).
    Transport,
}

/// Whether a failed attempt may be repeated.
pub(crate) fn is_retryable(idempotent: bool, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Status(429) | Outcome::Connect => true,
        Outcome::Status(500 | 502 | 503 | 504) | Outcome::Transport => idempotent,
        Outcome::Status(_) => false,
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The backoff ceiling of retry `retry` (0-based): `min(max_backoff, initial * 2^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait before retry `retry` (0-based), or `None` when the policy is exhausted.
    ///
    /// `elapsed` is the time since the first attempt started; `retry_after` is the service's
    /// `Retry-After`, a lower bound of the wait.
    pub fn next_delay<R: Rng + ?Sized>(
        &self,
        retry: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let ceiling = self.backoff_ceiling(retry);
        let half = ceiling / 2;
        let jittered = half + random_up_to(rng, ceiling - half);
        let delay = match retry_after {
            Some(floor) if floor >= jittered => floor + random_up_to(rng, self.initial_backoff / 2),
            _ => jittered,
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

fn random_up_to<R: Rng + ?Sized>(rng: &mut R, max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Parses a `Retry-After` header value: delay seconds (`"2"`, also `"1.5"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, relative to `now`; a date in the past means zero).
/// Values above one day are capped at one day.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    const CAP: Duration = Duration::from_secs(24 * 3600);
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(CAP));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(CAP.as_secs_f64())));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(CAP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn ceiling_grows_exponentially_and_is_capped() {
        let p = policy();
        let ceilings: Vec<_> = (0..6).map(|n| p.backoff_ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn delay_is_within_equal_jitter_bounds() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 0..5 {
            for _ in 0..200 {
                let d = p
                    .next_delay(retry, Duration::ZERO, None, &mut rng)
                    .expect("delay");
                let c = p.backoff_ceiling(retry);
                assert!(
                    d >= c / 2 && d <= c,
                    "retry {retry}: {d:?} outside [{:?}, {c:?}]",
                    c / 2
                );
            }
        }
    }

    #[test]
    fn same_seed_same_delays() {
        let p = policy();
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..5)
                .map(|n| p.next_delay(n, Duration::ZERO, None, &mut rng))
                .collect()
        };
        let b: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..5)
                .map(|n| p.next_delay(n, Duration::ZERO, None, &mut rng))
                .collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn retry_after_is_a_floor_even_above_max_backoff() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let d = p
                .next_delay(0, Duration::ZERO, Some(Duration::from_secs(2)), &mut rng)
                .expect("delay");
            assert!(d >= Duration::from_secs(2), "{d:?}");
            assert!(d <= Duration::from_secs(2) + p.initial_backoff / 2, "{d:?}");
        }
        // A small Retry-After does not shorten the backoff.
        let d = p
            .next_delay(3, Duration::ZERO, Some(Duration::from_millis(1)), &mut rng)
            .expect("delay");
        assert!(d >= p.backoff_ceiling(3) / 2);
    }

    #[test]
    fn bounded_by_count() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(3);
        assert!(p.next_delay(4, Duration::ZERO, None, &mut rng).is_some());
        assert!(p.next_delay(5, Duration::ZERO, None, &mut rng).is_none());
        assert!(
            RetryPolicy::none()
                .next_delay(0, Duration::ZERO, None, &mut rng)
                .is_none()
        );
    }

    #[test]
    fn bounded_by_total_time() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(3);
        // 9.5 s elapsed + at least 50 ms is fine, but not a 2 s Retry-After.
        assert!(
            p.next_delay(0, Duration::from_millis(9500), None, &mut rng)
                .is_some()
        );
        assert!(
            p.next_delay(
                0,
                Duration::from_millis(9500),
                Some(Duration::from_secs(2)),
                &mut rng
            )
            .is_none()
        );
        assert!(
            p.next_delay(0, Duration::from_secs(10), None, &mut rng)
                .is_none()
        );
    }

    #[test]
    fn retryable_outcomes() {
        for idem in [true, false] {
            assert!(is_retryable(idem, Outcome::Status(429)));
            assert!(is_retryable(idem, Outcome::Connect));
            for s in [400, 401, 404, 409, 415, 501] {
                assert!(!is_retryable(idem, Outcome::Status(s)), "{s}");
            }
        }
        for s in [500, 502, 503, 504] {
            assert!(is_retryable(true, Outcome::Status(s)));
            assert!(!is_retryable(false, Outcome::Status(s)));
        }
        assert!(is_retryable(true, Outcome::Transport));
        assert!(!is_retryable(false, Outcome::Transport));
    }

    #[test]
    fn parses_retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21T07:28:00Z
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999", now),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }
}
