//! Operator behaviour on one shared operator and simulator (`support::operator::start`, the
//! options below): every module here runs against the same operator, each test in a namespace of
//! its own, and only looks at what its own models caused (`recreate.rs` points its namespace's
//! SpeechService at a simulator of its own on the `ibm-cloud` profile).
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
mod evaluation;
mod gate;
mod identity;
mod recreate;
mod verdicts;

use support::operator;

/// How the shared operator and simulator of this binary run (the first test to start them wins,
/// so every module uses these).
pub const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: Some(operator::CLUSTER_NAME),
};

/// A yes/no ABNF grammar.
pub const ABNF_YES_NO: &str =
    "#ABNF 1.0 ISO-8859-1;\nlanguage en-US;\nmode voice;\nroot $yesno;\n$yesno = yes | no ;\n";

/// Server-side applies `m` (field manager `e2e`, forced), as `kubectl apply --server-side` does.
pub async fn apply<K>(api: &kube::Api<K>, m: &K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    use kube::ResourceExt;
    api.patch(
        &m.name_any(),
        &kube::api::PatchParams::apply("e2e").force(),
        &kube::api::Patch::Apply(m),
    )
    .await
    .expect("apply");
}

/// Whether the model is Available on its current spec: Ready, the status of this generation,
/// phase Available.
pub fn is_available<K: operator::HasModelStatus + kube::Resource>(m: &K) -> bool {
    operator::is_ready(m)
        && m.model().and_then(|s| s.observed_generation) == m.meta().generation
        && m.model().and_then(|s| s.phase.clone())
            == Some(watson_speech_operator::crd::Phase::Available)
}

/// The model's customization ID (the test fails without one).
pub fn id_of(m: &impl operator::HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id")
}
