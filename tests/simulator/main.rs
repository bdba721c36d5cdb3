//! The IBM simulator: over HTTP (`http`: status codes, error shapes, IAM, the admin API, TLS, the
//! state file) and its quirks driving an operator process (`quirks`: each test runs a simulator
//! and an operator of its own, watching only the test's namespace); `profiles`: the `ibm-cloud`
//! and `legacy` profiles and their admin knobs.

#[path = "../support/mod.rs"]
mod support;

mod http;
mod profiles;
mod quirks;
