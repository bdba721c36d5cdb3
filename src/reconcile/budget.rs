//! The request budget of one SpeechService: every call any model makes to that service goes
//! through it. Two parts:
//!
//! - an optional token bucket (`spec.requestBudget`: requests per second and burst);
//! - a **gate** that stops hammering a failing service. A 429 closes it until its `Retry-After`
//!   has passed; 5xx answers and missing responses close it for an exponential pause (1 s, 2 s,
//!   4 s, ... capped). While the service is failing, the gate is *half-open* after each pause:
//!   exactly one probe goes through and everybody else waits for its verdict, so a storm costs
//!   at most one request per pause per service, however many models wait. The first success
//!   opens it fully.
//!
//! The gate's logic is a pure state machine over `Instant`s ([`Gate`]), unit-tested without
//! sleeping; [`ServiceBudget`] wraps it for the client.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::watson::{Attempt, RequestBudget};

/// Longest pause between probes of a failing service.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);
/// The longest an IBM call of a reconcile waits for the budget or before a retry
/// ([`crate::watson::ClientConfig::patience`]): a longer wait ends the reconcile, which requeues
/// for when the wait ends, so no wait on one service holds a reconcile slot (issue 26).
pub const PATIENCE: Duration = Duration::from_secs(1);
/// How long a waiter sleeps before looking at the gate again while a probe is in flight.
const PROBE_POLL: Duration = Duration::from_millis(100);

/// The gate's state.
#[derive(Debug, Default)]
pub struct Gate {
    closed_until: Option<Instant>,
    failures: u32,
    probe_in_flight: bool,
}

/// What a caller must do before sending.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send now.
    Go,
    /// Look again after this long.
    Wait(Duration),
}

impl Gate {
    /// Asks to send at `now`. A `Go` while the service is failing makes the caller the probe.
    pub fn admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.closed_until
            && until > now
        {
            return Admission::Wait(until - now);
        }
        if self.failures == 0 {
            return Admission::Go;
        }
        if self.probe_in_flight {
            return Admission::Wait(PROBE_POLL);
        }
        self.probe_in_flight = true;
        Admission::Go
    }

    /// Records how an admitted attempt ended.
    pub fn record(&mut self, attempt: Attempt, now: Instant) {
        self.probe_in_flight = false;
        let pause = match attempt {
            Attempt::NotSent => return,
            Attempt::Status(429, retry_after) => {
                self.failures = self.failures.saturating_add(1);
                retry_after.unwrap_or_else(|| self.backoff())
            }
            Attempt::Status(s, _) if s >= 500 => {
                self.failures = self.failures.saturating_add(1);
                self.backoff()
            }
            Attempt::NoResponse => {
                self.failures = self.failures.saturating_add(1);
                self.backoff()
            }
            Attempt::Status(_, _) => {
                self.failures = 0;
                self.closed_until = None;
                return;
            }
        };
        let until = now + pause;
        self.closed_until = Some(self.closed_until.map_or(until, |u| u.max(until)));
    }

    fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(16);
        Duration::from_secs(1u64 << exp).min(MAX_PAUSE)
    }

    /// True while the service is considered failing.
    pub fn failing(&self) -> bool {
        self.failures > 0
    }
}

/// The budget shared by every client of one SpeechService.
pub struct ServiceBudget {
    limiter: Option<governor::DefaultDirectRateLimiter>,
    gate: Mutex<Gate>,
}

impl ServiceBudget {
    /// A budget with an optional token bucket.
    pub fn new(limiter: Option<governor::DefaultDirectRateLimiter>) -> Self {
        ServiceBudget {
            limiter,
            gate: Mutex::new(Gate::default()),
        }
    }
}

#[async_trait]
impl RequestBudget for ServiceBudget {
    async fn acquire(&self) {
        loop {
            // tokio's clock (paused in tests), as a std Instant.
            let admission = self
                .gate
                .lock()
                .admit(tokio::time::Instant::now().into_std());
            match admission {
                Admission::Go => break,
                Admission::Wait(d) => tokio::time::sleep(d).await,
            }
        }
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }

    /// Never sleeps past `patience`: a closed gate (a `Retry-After`, a failing service's pause)
    /// or an empty bucket that would hold the caller longer says how long instead, so the
    /// reconcile requeues for that time and frees its slot (issue 26, fair share).
    async fn acquire_within(&self, patience: Duration) -> Result<(), Duration> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let now = tokio::time::Instant::now();
            let admission = self.gate.lock().admit(now.into_std());
            match admission {
                Admission::Go => break,
                Admission::Wait(d) if now + d <= deadline => tokio::time::sleep(d).await,
                // A probe still in flight: look again soon (its verdict decides the pause).
                Admission::Wait(d) => return Err(d.max(PROBE_POLL)),
            }
        }
        if let Some(l) = &self.limiter
            && let Err(not_until) = l.check()
        {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(l.clock().now());
            if wait > patience {
                // The gate admitted this caller (maybe as the probe): nothing was sent.
                self.feedback(Attempt::NotSent);
                return Err(wait);
            }
            l.until_ready().await;
        }
        Ok(())
    }

    fn feedback(&self, attempt: Attempt) {
        self.gate
            .lock()
            .record(attempt, tokio::time::Instant::now().into_std());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_service_is_never_held_back() {
        let mut g = Gate::default();
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(g.admit(t), Admission::Go);
            g.record(Attempt::Status(200, None), t);
        }
        // A 4xx is the caller's problem, not the service's.
        g.record(Attempt::Status(409, None), t);
        assert_eq!(g.admit(t), Admission::Go);
    }

    #[test]
    fn failures_pause_exponentially_with_a_single_probe() {
        let mut g = Gate::default();
        let t0 = Instant::now();
        assert_eq!(g.admit(t0), Admission::Go);
        g.record(Attempt::Status(503, None), t0);
        assert_eq!(g.admit(t0), Admission::Wait(Duration::from_secs(1)));
        // After the pause: one probe, everybody else waits for it.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(g.admit(t1), Admission::Go);
        assert_eq!(g.admit(t1), Admission::Wait(PROBE_POLL));
        g.record(Attempt::NoResponse, t1);
        assert_eq!(g.admit(t1), Admission::Wait(Duration::from_secs(2)));
        // The pauses grow to the cap.
        let mut t = t1;
        for _ in 0..10 {
            t += MAX_PAUSE;
            assert_eq!(g.admit(t), Admission::Go);
            g.record(Attempt::Status(500, None), t);
        }
        assert_eq!(g.admit(t), Admission::Wait(MAX_PAUSE));
        // One success opens it fully.
        t += MAX_PAUSE;
        assert_eq!(g.admit(t), Admission::Go);
        g.record(Attempt::Status(200, None), t);
        assert!(!g.failing());
        assert_eq!(g.admit(t), Admission::Go);
        assert_eq!(g.admit(t), Admission::Go);
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let mut g = Gate::default();
        let t0 = Instant::now();
        assert_eq!(g.admit(t0), Admission::Go);
        g.record(Attempt::Status(429, Some(Duration::from_secs(7))), t0);
        assert_eq!(
            g.admit(t0 + Duration::from_secs(3)),
            Admission::Wait(Duration::from_secs(4))
        );
        assert_eq!(g.admit(t0 + Duration::from_secs(7)), Admission::Go);
        // A shorter pause never shortens a Retry-After already promised.
        g.record(
            Attempt::Status(429, Some(Duration::from_secs(9))),
            t0 + Duration::from_secs(7),
        );
        let t2 = t0 + Duration::from_secs(8);
        g.record(Attempt::Status(503, None), t2);
        assert_eq!(g.admit(t2), Admission::Wait(Duration::from_secs(8)));
    }

    #[test]
    fn a_request_that_was_never_sent_releases_the_probe() {
        let mut g = Gate::default();
        let t0 = Instant::now();
        g.record(Attempt::Status(503, None), t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(g.admit(t1), Admission::Go);
        g.record(Attempt::NotSent, t1);
        assert_eq!(g.admit(t1), Admission::Go, "the next caller may probe");
    }

    /// Issue 26 (fair share): a wait longer than the caller's patience is reported, not slept.
    #[tokio::test(start_paused = true)]
    async fn a_long_wait_is_reported_not_slept() {
        let budget = ServiceBudget::new(None);
        let patience = Duration::from_secs(1);
        assert_eq!(budget.acquire_within(patience).await, Ok(()));
        budget.feedback(Attempt::Status(429, Some(Duration::from_secs(86_400))));
        let before = tokio::time::Instant::now();
        let wait = budget.acquire_within(patience).await.expect_err("closed");
        assert_eq!(wait, Duration::from_secs(86_400));
        assert_eq!(tokio::time::Instant::now(), before, "no time passed");
        // A short pause is waited out.
        let budget = ServiceBudget::new(None);
        assert_eq!(budget.acquire_within(patience).await, Ok(()));
        budget.feedback(Attempt::Status(429, Some(Duration::from_millis(500))));
        assert_eq!(budget.acquire_within(patience).await, Ok(()));
        // An empty bucket that refills later than the patience: reported, and the probe freed.
        let quota = governor::Quota::per_minute(std::num::NonZeroU32::MIN);
        let budget = ServiceBudget::new(Some(governor::RateLimiter::direct(quota)));
        assert_eq!(budget.acquire_within(patience).await, Ok(()));
        let wait = budget.acquire_within(patience).await.expect_err("empty");
        assert!(wait > patience, "{wait:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_share_one_probe_per_pause() {
        let budget = std::sync::Arc::new(ServiceBudget::new(None));
        budget.acquire().await;
        budget.feedback(Attempt::Status(503, None));
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (b, sent) = (budget.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire().await;
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                b.feedback(Attempt::Status(503, None));
            }));
        }
        // In 10 s of a storm: pauses of 1, 2, 4 s → at most 3 probes (plus the first request).
        tokio::time::sleep(Duration::from_secs(10)).await;
        let n = sent.load(std::sync::atomic::Ordering::SeqCst);
        assert!((2..=4).contains(&n), "{n} requests in 10 s of a storm");
        for t in tasks {
            t.abort();
        }
    }
}
