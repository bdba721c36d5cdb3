//! The error vocabulary shared by every module.
//!
//! Each module defines its own `thiserror` enum; every one of them implements [`Classified`], so
//! the reconcilers can turn any error into an Event reason, a metric label and a retry decision
//! without knowing where it came from. Categories are short, stable PascalCase strings: they are
//! part of the product (Event reasons, condition reasons, metric label values).

/// How the operator should react to an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// The input is wrong; retrying cannot help until the user changes the spec.
    WaitForSpecChange,
    /// A transient failure (network, 5xx, rate limit): retry with jittered exponential backoff.
    Backoff,
    /// The service is doing something (model busy); not an error, check again later.
    WaitForService,
    /// Credentials are wrong or missing; retry slowly, the user must fix a Secret.
    Credentials,
}

/// Implemented by every error type of the crate.
pub trait Classified {
    /// A short, stable PascalCase string used as Event reason and metric label.
    fn category(&self) -> &'static str;
    /// What to do about it.
    fn retry_class(&self) -> RetryClass;
}
