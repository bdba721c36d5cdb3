//! Issue 11, calls per lifecycle: what one language model costs once its SpeechService is Ready.
//! The quota check before the create and the SpeechService's recount after it take the model
//! count from the shared listing plus the operator's own creates and deletes, so they make no
//! call (before: a LIST of language models before each create, and a LIST of both kinds at each
//! recount). The drift interval is long, so every call after the mark belongs to the lifecycle.

#[path = "../../support/mod.rs"]
mod support;

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::control_plane;
use support::operator::{self, HasModelStatus, is_ready, wait_for};
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 600,
    model_quota: 1024,
    cluster_name: None,
};

/// Operations of `requests`, in order.
fn operations(requests: &[watson_speech_operator::simulator::api::RequestRecord]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.operation.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_lifecycle_makes_no_count_calls_and_the_service_counts_at_once() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "calls").await;
    let services: Api<SpeechService> = ns.api();
    let ready_service = |name: &'static str| {
        let services = services.clone();
        async move {
            support::eventually(
                "the SpeechService Ready",
                std::time::Duration::from_secs(60),
                || {
                    let services = services.clone();
                    async move {
                        let s = services.get(name).await.ok()?.status?;
                        s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                            .then_some(s)
                    }
                },
            )
            .await
        }
    };
    let before = ready_service("stt").await;
    assert_eq!(before.models_in_use, Some(0));
    ready_service("tts").await;
    let mark = admin.requests(0).await.expect("log").next_seq;
    // The shared listing is now older than the in-flight age (500 ms) whatever the machine's
    // speed: no look at the new model may take that for a reason to list. Before, the first
    // look (for a model carrying the marker) and the look after the create (for marked
    // duplicates) each listed when the listing was that old, which a slow machine made so
    // (CI, stop 31).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    let api: Api<CustomLanguageModel> = ns.api();
    let model: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "counted"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c1", "source": {"text": "calls are counted per lifecycle"}}],
                 "words": [{"word": "tomato", "soundsLike": ["tomahto"]}]}
    }))
    .expect("lm");
    api.patch(
        "counted",
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&model),
    )
    .await
    .expect("apply");
    let m = wait_for(&api, "counted", "Ready", 120, is_ready).await;
    assert!(
        m.model().and_then(|s| s.customization_id.clone()).is_some(),
        "a customization ID"
    );
    // The SpeechService counts the new model at once, without a LIST.
    support::eventually(
        "modelsInUse 1",
        std::time::Duration::from_secs(30),
        || {
            let services = services.clone();
            async move {
                (services.get("stt").await.ok()?.status?.models_in_use == Some(1)).then_some(())
            }
        },
    )
    .await;

    let after = admin.requests(mark).await.expect("log").requests;
    let ops = operations(&after);
    let start = after.first().map(|r| r.at_ms).unwrap_or_default();
    let timeline: Vec<String> = after
        .iter()
        .map(|r| {
            format!(
                "+{}ms {}",
                r.at_ms - start,
                r.operation.as_deref().unwrap_or("?")
            )
        })
        .collect();
    eprintln!(
        "calls of one lifecycle: {}\n{}",
        ops.len(),
        timeline.join("\n")
    );
    let n = |op: &str| ops.iter().filter(|o| *o == op).count();
    assert_eq!(n("list_acoustic_models"), 0, "no recount LIST: {ops:?}");
    assert_eq!(n("list_models"), 0, "no credentials probe again: {ops:?}");
    assert_eq!(
        (n("create_language_model"), n("add_corpus"), n("add_words")),
        (1, 1, 1),
        "{ops:?}"
    );
    assert_eq!(n("train_language_model"), 1, "{ops:?}");
    // The create comes before any LIST: the quota count came from the listing the
    // SpeechService's check made before the mark.
    let first_list = ops.iter().position(|o| o == "list_language_models");
    let create = ops.iter().position(|o| o == "create_language_model");
    assert!(
        create < first_list || first_list.is_none(),
        "no LIST before the create: {ops:?}"
    );
    // No LIST between the create and the corpus: the create's answer says the new model is
    // pending and empty (it took a LIST before).
    let add_corpus = ops.iter().position(|o| o == "add_corpus");
    assert!(
        first_list > add_corpus,
        "no LIST before the corpus upload: {ops:?}"
    );
    // The corpora are read once, after the words and before the training (they were read after
    // the corpus analysis too). The words are not listed at all: the operator sent exactly the
    // spec's words, and status.wordsDigest remembers it (it listed them before the training).
    assert_eq!(
        (n("list_corpora"), n("list_words")),
        (1, 0),
        "one data read, no word listing: {ops:?}"
    );
    let train = ops.iter().position(|o| o == "train_language_model");
    let reads = |op: &str| ops.iter().rposition(|o| o == op);
    assert!(
        reads("list_corpora") < train,
        "the data read comes before the training: {ops:?}"
    );
}
