//! Issue 15: where IBM is stricter than a lenient fake, end to end on the real API server. Each
//! test switches on the simulator's knob for one behaviour IBM users met (docs/simulator.md,
//! "Quirks") and asserts the simulator's request log, the resources' status and their Events.
//!
//! Knobs that change a whole service instance run on a simulator of the test's own (the
//! SpeechServices of its namespace point there), so tests of this binary run side by side with
//! the shared operator.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::operator::{self, HasModelStatus, condition, is_ready, wait_for};
use support::{TestNamespace, control_plane};
use watson_speech_operator::crd::{CustomLanguageModel, Phase, SpeechService};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::simulator::api::RequestRecord;
use watson_speech_operator::simulator::{self, Quirks, RunningSimulator, SimulatorConfig};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
};

/// A namespace whose Secret `creds` and SpeechServices `stt`/`tts` point at a simulator of the
/// test's own, with `quirks` switched on.
struct Own {
    ns: TestNamespace,
    sim: RunningSimulator,
    admin: AdminClient,
}

async fn own(prefix: &str, quirks: Quirks, token_ttl: Duration) -> Option<Own> {
    let cp = control_plane()?;
    operator::start(cp, OPTIONS);
    let sim = simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![operator::API_KEY.to_string()],
        auth_required: true,
        time_scale: OPTIONS.time_scale,
        token_ttl,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let admin = sim.admin();
    admin.set_quirks(&quirks).await.expect("quirks");
    let ns = cp.namespace(prefix).await;
    secret(&ns, "creds", "apikey", operator::API_KEY).await;
    for (name, kind, url) in [
        ("stt", "SpeechToText", sim.stt_url()),
        ("tts", "TextToSpeech", sim.tts_url()),
    ] {
        service(
            &ns,
            name,
            kind,
            &url,
            json!({"type": "IAM", "iamUrl": sim.base_url(), "secretRef": {"name": "creds"}}),
        )
        .await;
    }
    Some(Own { ns, sim, admin })
}

async fn secret(ns: &TestNamespace, name: &str, key: &str, value: &str) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        string_data: Some([(key.to_string(), value.to_string())].into()),
        ..Default::default()
    };
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret");
}

async fn service(ns: &TestNamespace, name: &str, kind: &str, url: &str, auth: serde_json::Value) {
    let svc: SpeechService = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "SpeechService",
        "metadata": {"name": name},
        "spec": {"service": kind, "url": url, "auth": auth}
    }))
    .expect("service");
    ns.api::<SpeechService>()
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
}

fn lm(name: &str, service: &str, spec: serde_json::Value) -> CustomLanguageModel {
    let mut full =
        json!({"serviceRef": {"name": service}, "baseModelName": "en-US_BroadbandModel"});
    if let (Some(f), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
        f.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": name}, "spec": full
    }))
    .expect("lm")
}

async fn apply(api: &Api<CustomLanguageModel>, m: &CustomLanguageModel) {
    api.patch(
        &m.name_any(),
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(m),
    )
    .await
    .expect("apply");
}

async fn available(api: &Api<CustomLanguageModel>, name: &str) -> CustomLanguageModel {
    wait_for(api, name, "Available on its current spec", 120, |m| {
        is_ready(m)
            && m.model().and_then(|s| s.observed_generation) == m.metadata.generation
            && m.model().and_then(|s| s.phase) == Some(Phase::Available)
    })
    .await
}

fn id_of(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.customization_id.clone())
        .expect("customization id")
}

/// Every request in the simulator's log.
async fn log(admin: &AdminClient) -> Vec<RequestRecord> {
    admin.requests(0).await.expect("request log").requests
}

/// Requests of operation `op` (any status).
fn count(log: &[RequestRecord], op: &str) -> usize {
    log.iter()
        .filter(|r| r.operation.as_deref() == Some(op))
        .count()
}

/// The Ready condition's message.
fn ready_message(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The Warning Events with `reason` for the object `name`.
async fn warnings(ns: &TestNamespace, name: &str, reason: &str) -> Vec<Event> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some(reason)
                && e.involved_object.name.as_deref() == Some(name)
        })
        .collect()
}

async fn wait_warning(ns: &TestNamespace, name: &str, reason: &str) -> Vec<Event> {
    support::eventually(
        &format!("{name}: a Warning Event {reason}"),
        Duration::from_secs(30),
        || async move {
            let found = warnings(ns, name, reason).await;
            (!found.is_empty()).then_some(found)
        },
    )
    .await
}

/// The SpeechService `name` once its Ready condition has `status` and `reason`.
async fn service_condition(
    ns: &TestNamespace,
    name: &str,
    status: &str,
    reason: &str,
) -> SpeechService {
    let api = ns.api::<SpeechService>();
    let api = &api;
    support::eventually(
        &format!("SpeechService {name}: Ready {status} {reason}"),
        Duration::from_secs(60),
        || async move {
            let s = api.get(name).await.ok()?;
            let ok = s.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == status && c.reason == reason)
            });
            ok.then_some(s)
        },
    )
    .await
}

fn service_message(s: &SpeechService, type_: &str) -> (String, String) {
    s.status
        .as_ref()
        .and_then(|st| st.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| (c.status.clone(), c.message.clone()))
        .unwrap_or_default()
}

/// Case 9: the corpus reaches the service byte for byte. The simulator stores a multipart
/// envelope as text (the service of 2017); the corpus text itself carries lines that look like
/// a multipart boundary and part headers. The service counts exactly the corpus's own words:
/// no file name, no boundary and no part header of an envelope the operator might have added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_reaches_the_service_byte_for_byte() {
    let quirks = Quirks {
        multipart_corpus_as_text: true,
        ..Default::default()
    };
    let Some(o) = own("quirk-corpus", quirks, Duration::from_secs(3600)).await else {
        return;
    };
    let text = "--looks-like-a-boundary\r\nContent-Disposition: form-data; name=\"notes\"\r\n\r\nthe help desk reconciles Kubernetes tickets\r\n--looks-like-a-boundary--\r\n";
    let api = o.ns.api::<CustomLanguageModel>();
    apply(
        &api,
        &lm(
            "bytes",
            "stt",
            json!({"corpora": [{"name": "c", "source": {"text": text}}]}),
        ),
    )
    .await;
    let m = available(&api, "bytes").await;
    let id = id_of(&m);
    let sim_log = log(&o.admin).await;
    assert_eq!(count(&sim_log, "add_corpus"), 1, "one add: {sim_log:#?}");
    assert_eq!(count(&sim_log, "train_language_model"), 1);

    // What the service made of it, through the IBM client.
    let auth = watson_speech_operator::watson::Auth::Iam {
        api_key: operator::API_KEY.to_string().into(),
        url: url::Url::parse(&o.sim.base_url()).expect("iam"),
    };
    let stt = watson_speech_operator::watson::SttClient::new(
        watson_speech_operator::watson::ClientConfig::new(
            url::Url::parse(&o.sim.stt_url()).expect("url"),
            auth,
        ),
    )
    .expect("client");
    let corpus = stt.get_corpus(&id, "c").await.expect("corpus");
    let expected = simulator::vocabulary::tokens(text).count() as u64;
    assert_eq!(corpus.total_words, Some(expected));
    let words = stt
        .list_words(&id, Default::default())
        .await
        .expect("words")
        .words;
    let expected_oov: std::collections::BTreeSet<&str> = simulator::vocabulary::tokens(text)
        .filter(|t| simulator::vocabulary::is_oov(t))
        .collect();
    for w in &words {
        assert!(
            expected_oov.contains(w.word.as_str()),
            "{:?} is not a word of the corpus (an envelope reached the service)",
            w.word
        );
        assert!(!w.word.contains("corpus_file") && !w.word.ends_with(".txt"));
    }
}

/// Case 4: an instance on IBM's Lite plan answers customization calls with 400 and a message to
/// upgrade the plan. The SpeechService and the model say so (PlanNotSupported, Stalled), the
/// model tries once per generation, and nothing is retried in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lite_plan_is_a_terminal_condition_not_a_retry_loop() {
    let quirks = Quirks {
        lite_plan: true,
        ..Default::default()
    };
    let Some(o) = own("quirk-lite", quirks, Duration::from_secs(3600)).await else {
        return;
    };
    let svc = service_condition(&o.ns, "stt", "False", "PlanNotSupported").await;
    let (_, message) = service_message(&svc, "Ready");
    assert!(message.contains("paid plan"), "{message}");
    assert_eq!(service_message(&svc, "Stalled").0, "True");

    let api = o.ns.api::<CustomLanguageModel>();
    apply(
        &api,
        &lm(
            "lite",
            "stt",
            json!({"corpora": [{"name": "c", "source": {"text": "some words"}}]}),
        ),
    )
    .await;
    let m = wait_for(&api, "lite", "PlanNotSupported", 60, |m| {
        condition(m, "Ready") == Some(("False".into(), "PlanNotSupported".into()))
    })
    .await;
    assert!(
        ready_message(&m).contains("paid plan"),
        "{}",
        ready_message(&m)
    );
    assert_eq!(
        condition(&m, "Stalled").map(|(s, _)| s),
        Some("True".into())
    );
    assert_eq!(m.model().and_then(|s| s.phase), Some(Phase::Failed));
    assert_eq!(
        wait_warning(&o.ns, "lite", "PlanNotSupported").await.len(),
        1
    );

    // No retry loop: over several drift intervals the model calls nothing more and its status
    // stays put; the service check slows down.
    let before = log(&o.admin).await;
    let rv = api.get("lite").await.expect("get").resource_version();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = log(&o.admin).await;
    let creates = count(&after, "create_language_model");
    assert_eq!(creates, 0, "no create reaches a Lite instance: {after:#?}");
    let new_calls = &after[before.len()..];
    assert!(
        new_calls.len() <= 2,
        "only the SpeechService check may call, at its slow pace: {new_calls:#?}"
    );
    assert_eq!(api.get("lite").await.expect("get").resource_version(), rv);
    assert_eq!(warnings(&o.ns, "lite", "PlanNotSupported").await.len(), 1);

    // A new generation is one more attempt, and again only one.
    apply(
        &api,
        &lm("lite", "stt", json!({"description": "retry", "corpora": [{"name": "c", "source": {"text": "some words"}}]})),
    )
    .await;
    let gen2 = api.get("lite").await.expect("get").metadata.generation;
    wait_for(
        &api,
        "lite",
        "PlanNotSupported on the new generation",
        60,
        |m| {
            condition(m, "Ready") == Some(("False".into(), "PlanNotSupported".into()))
                && m.model().and_then(|s| s.observed_generation) == gen2
        },
    )
    .await;
}
