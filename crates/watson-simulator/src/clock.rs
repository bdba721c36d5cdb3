//! Time for the simulator.
//!
//! Every state transition is computed lazily from deadlines expressed in Unix milliseconds:
//! when a model is read or modified, the simulator "settles" it against [`Clock::now_ms`]. No
//! background task drives the state machines, so 10,000 idle models cost nothing and tests are
//! deterministic with a [`ManualClock`].
//!
//! Scaling happens where a deadline is computed (nominal seconds × time scale), not in the
//! clock: timestamps shown to clients (`created`, `updated`) stay real wall-clock times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of "now", in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for unit tests.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock starting at `start_ms` (Unix milliseconds).
    pub fn new(start_ms: u64) -> Self {
        Self {
            now: AtomicU64::new(start_ms),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// Starts at 2025-01-01T00:00:00Z.
    fn default() -> Self {
        Self::new(1_735_689_600_000)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Formats Unix milliseconds as IBM does: ISO 8601 UTC with milliseconds
/// (`2016-06-01T14:21:26.894Z`).
pub fn iso8601(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// Nominal seconds scaled to real milliseconds (rounded up so that an operation is never
/// instantaneous unless the scale is 0).
pub fn scaled_ms(nominal_seconds: f64, time_scale: f64) -> u64 {
    let ms = (nominal_seconds * time_scale * 1000.0).ceil();
    if ms.is_finite() && ms > 0.0 {
        // Saturating float-to-int conversion is the intent here.
        ms as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_advances_only_when_told() {
        let c = ManualClock::new(1000);
        assert_eq!(c.now_ms(), 1000);
        c.advance(Duration::from_millis(250));
        assert_eq!(c.now_ms(), 1250);
    }

    #[test]
    fn iso_format_has_milliseconds_and_z() {
        assert_eq!(iso8601(1_464_790_886_894), "2016-06-01T14:21:26.894Z");
    }

    #[test]
    fn scaling_rounds_up() {
        assert_eq!(scaled_ms(300.0, 0.001), 300);
        assert_eq!(scaled_ms(1.0, 0.0001), 1);
        assert_eq!(scaled_ms(5.0, 0.0), 0);
    }
}
