//! Crash injection for tests: `WSO_CRASH_AT=<name>` makes the process abort at the named point,
//! as a SIGKILL would, so tests can prove the operator recovers from a crash at exactly the
//! worst moment (for example between creating an IBM model and recording its ID in status).
//!
//! Points: `after_create` (the IBM model exists, status does not know it yet).

/// Aborts the process when `WSO_CRASH_AT` names this point.
pub fn hit(name: &str) {
    if std::env::var("WSO_CRASH_AT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting the process (WSO_CRASH_AT)");
        std::process::abort();
    }
}
