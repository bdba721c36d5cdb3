//! Operator behaviour on one shared operator and simulator (`support::operator::start`, the
//! options below): every module here runs against the same operator, each test in a namespace of
//! its own, and only looks at what its own models caused.
//!
//! A test that needs other operator options (time scale, drift interval, quota, dry run, the
//! controller-manager), counts every request the simulator or the API server saw, or runs the
//! operator as a process goes to `isolated/` (a binary of its own): see `tests/README.md`.

#[path = "../support/mod.rs"]
mod support;

mod auth_modes;
mod bad_input;
mod decisions;
mod drift;

use support::operator;

/// How the shared operator and simulator of this binary run (the first test to start them wins,
/// so every module uses these).
pub const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
};
