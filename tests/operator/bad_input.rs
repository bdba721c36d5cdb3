//! Valid manifests that cannot work: each gets a condition with a reason and the fix, a Warning
//! Event, and no hot loop (the status stops changing and the service is not called again).

use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::TestNamespace;
use support::fixture::{self, language_model};
use support::operator::{self, HasModelStatus, calls, condition, wait_for};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel};
use watson_speech_operator::simulator::admin::AdminClient;

use crate::OPTIONS;

/// Waits for Ready=False with `reason`, checks the message and the Warning Event, then proves
/// there is no hot loop: over a quiet period the object's resourceVersion does not move.
async fn expect_stuck<K>(
    ns: &TestNamespace,
    api: &Api<K>,
    name: &str,
    reason: &str,
    hint: &str,
) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasModelStatus,
{
    let m = wait_for(api, name, reason, 60, |m| {
        condition(m, "Ready") == Some(("False".into(), reason.into()))
    })
    .await;
    let message = m
        .model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(hint),
        "{name}: message {message:?} should mention {hint:?}"
    );
    // The Event follows the status write.
    let events: Api<Event> = ns.api();
    support::eventually(
        &format!("{name}: a Warning Event {reason}"),
        Duration::from_secs(20),
        || {
            let events = events.clone();
            async move {
                events
                    .list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .iter()
                    .any(|e| {
                        e.type_.as_deref() == Some("Warning")
                            && e.reason.as_deref() == Some(reason)
                            && e.involved_object.name.as_deref() == Some(name)
                    })
                    .then_some(())
            }
        },
    )
    .await;
    let rv = api.get(name).await.expect("get").resource_version();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let later = api.get(name).await.expect("get");
    assert_eq!(
        later.resource_version(),
        rv,
        "{name}: status keeps changing (hot loop)"
    );
    later
}

async fn no_model_named(admin: &AdminClient, ns: &TestNamespace, name: &str) {
    let full = format!("{}-{name}", ns.name);
    assert!(
        admin
            .models()
            .await
            .expect("models")
            .iter()
            .all(|m| m.name != full),
        "no IBM model was created for {name}"
    );
}

#[tokio::test]
async fn unknown_base_model_is_refused_before_any_write() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "unknown-base").await else {
        return;
    };
    let since = admin.requests(0).await.expect("log").next_seq;
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &language_model("nobase", json!({"baseModelName": "xx-XX_NoSuchModel"})),
    )
    .await
    .expect("create");
    // The operator asks the service what the base model supports (GET /v1/models/{id}: 404)
    // and refuses without a create.
    expect_stuck(
        &ns,
        &api,
        "nobase",
        "BaseModelNotOffered",
        "spec.baseModelName",
    )
    .await;
    let log = admin.requests(since).await.expect("log").requests;
    let asked = log
        .iter()
        .filter(|r| {
            r.operation.as_deref() == Some("get_model") && r.path.ends_with("/xx-XX_NoSuchModel")
        })
        .count();
    assert!(asked >= 1, "the base model was looked up");
    no_model_named(&admin, &ns, "nobase").await;
}

#[tokio::test]
async fn acoustic_model_on_a_base_without_acoustic_customization_is_refused_before_any_write() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "am-lsm").await else {
        return;
    };
    let api: Api<CustomAcousticModel> = ns.api();
    api.create(
        &PostParams::default(),
        &fixture::acoustic_model("onlsm", json!({"baseModelName": "en-US"})),
    )
    .await
    .expect("create");
    let m = expect_stuck(
        &ns,
        &api,
        "onlsm",
        "NoAcousticCustomization",
        "spec.baseModelName",
    )
    .await;
    let message = m
        .model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("custom_acoustic_model is false"),
        "{message}"
    );
    no_model_named(&admin, &ns, "onlsm").await;
}

#[tokio::test]
async fn missing_inputs_and_credentials_are_named() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "inputs").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    // A ConfigMap without the key.
    ns.api::<ConfigMap>()
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("corpora".into()),
                    ..Default::default()
                },
                data: Some([("other.txt".to_string(), "x".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("cm");
    api.create(
        &PostParams::default(),
        &language_model("nokey", json!({"corpora": [{"name": "c", "source": {"configMapKeyRef": {"name": "corpora", "key": "corpus.txt"}}}]})),
    )
    .await
    .expect("create");
    expect_stuck(&ns, &api, "nokey", "InputNotFound", "corpus.txt").await;
    no_model_named(&admin, &ns, "nokey").await;

    // An unreachable URL source (a name that does not resolve).
    api.create(
        &PostParams::default(),
        &language_model(
            "nourl",
            json!({"corpora": [{"name": "c", "source": {"url": "https://no-such-host.invalid/corpus.txt?X-Amz-Signature=s3cr3t"}}]}),
        ),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "nourl", "InputFetchFailed", 60, |m| {
        condition(m, "Ready") == Some(("False".into(), "InputFetchFailed".into()))
    })
    .await;
    assert!(m.model().is_some_and(|s| s.customization_id.is_none()));
    let shown = format!("{:?}", m.model().map(|s| &s.conditions));
    assert!(
        shown.contains("https://no-such-host.invalid/corpus.txt") && !shown.contains("s3cr3t"),
        "the URL without its query: {shown}"
    );

    // The same presigned URL held in a Secret (`urlFrom.secretKeyRef`): read from the Secret and
    // fetched like `url`; the condition names the Secret and key, never the URL.
    fixture::create(
        &ns,
        &fixture::secret(
            "presigned",
            &[
                (
                    "url",
                    "https://no-such-host.invalid/corpus.txt?X-Amz-Signature=s3cr3t\n",
                ),
                ("loopback", "https://127.0.0.1:9/corpus.txt"),
            ],
        ),
    )
    .await;
    let from = |key: &str| json!({"corpora": [{"name": "c", "source": {"urlFrom": {"secretKeyRef": {"name": "presigned", "key": key}}}}]});
    api.create(
        &PostParams::default(),
        &language_model("urlfrom", from("url")),
    )
    .await
    .expect("create");
    let m = wait_for(&api, "urlfrom", "InputFetchFailed", 60, |m| {
        condition(m, "Ready") == Some(("False".into(), "InputFetchFailed".into()))
    })
    .await;
    let shown = format!("{:?}", m.model().map(|s| &s.conditions));
    assert!(
        shown.contains(r#"the URL in Secret presigned key \"url\""#)
            && !shown.contains("no-such-host")
            && !shown.contains("s3cr3t"),
        "the Secret and key, not the URL: {shown}"
    );
    no_model_named(&admin, &ns, "urlfrom").await;
    api.create(
        &PostParams::default(),
        &language_model("urlfromloop", from("loopback")),
    )
    .await
    .expect("create");
    expect_stuck(&ns, &api, "urlfromloop", "InputNotAllowed", "loopback").await;
    no_model_named(&admin, &ns, "urlfromloop").await;

    // URL sources the operator does not fetch (its default policy): plain http, loopback, the
    // cloud metadata endpoint. Each names the URL and the reason, and no model is created.
    for (name, url, why) in [
        (
            "plain",
            "http://example.com/corpus.txt",
            "--allow-http-sources",
        ),
        ("loopback", "https://127.0.0.1:9/corpus.txt", "loopback"),
        (
            "metadata",
            "https://169.254.169.254/latest/meta-data/iam",
            "link-local",
        ),
    ] {
        api.create(
            &PostParams::default(),
            &language_model(
                name,
                json!({"corpora": [{"name": "c", "source": {"url": url}}]}),
            ),
        )
        .await
        .expect("create");
        expect_stuck(&ns, &api, name, "InputNotAllowed", why).await;
        no_model_named(&admin, &ns, name).await;
    }

    // A SpeechService whose Secret does not exist.
    ns.api::<watson_speech_operator::crd::SpeechService>()
        .patch(
            "stt",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"auth": {"secretRef": {"name": "missing"}}}})),
        )
        .await
        .expect("point at a missing Secret");
    api.create(
        &PostParams::default(),
        &language_model("nosecret", json!({})),
    )
    .await
    .expect("create");
    let m = expect_stuck(&ns, &api, "nosecret", "InputNotFound", "missing").await;
    assert_eq!(
        condition(&m, "DependenciesReady")
            .map(|(s, _)| s)
            .as_deref(),
        Some("False")
    );
    no_model_named(&admin, &ns, "nosecret").await;
}

#[tokio::test]
async fn wrong_credentials_retry_slowly() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "badcreds").await else {
        return;
    };
    ns.api::<Secret>()
        .patch(
            "creds",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"apikey": "not-a-valid-key"}})),
        )
        .await
        .expect("break");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &language_model("locked-out", json!({})),
    )
    .await
    .expect("create");
    wait_for(&api, "locked-out", "IamTokenFailure", 60, |m| {
        condition(m, "Ready").is_some_and(|(s, r)| s == "False" && r == "IamTokenFailure")
    })
    .await;
    let before = admin.requests(0).await.expect("log").next_seq;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let tokens = admin
        .requests(before)
        .await
        .expect("log")
        .requests
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("get_token") && r.status >= 400)
        .count();
    // Two resources (the service and the model) back off from 10 s and 30 s.
    assert!(
        tokens <= 6,
        "{tokens} failed token requests in 10 s: not slow enough"
    );
}

#[tokio::test]
async fn acoustic_model_with_a_wrong_or_missing_language_model() {
    let Some((ns, _admin, _)) = operator::setup(OPTIONS, "am-deps").await else {
        return;
    };
    let lm_api: Api<CustomLanguageModel> = ns.api();
    lm_api
        .create(
            &PostParams::default(),
            &language_model(
                "narrow",
                json!({"baseModelName": "en-US_NarrowbandModel", "suspend": true}),
            ),
        )
        .await
        .expect("lm");
    let am_api: Api<CustomAcousticModel> = ns.api();
    for (name, lm_name) in [("mismatched", "narrow"), ("orphan", "absent")] {
        let am: CustomAcousticModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
            "metadata": {"name": name},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "languageModelRef": {"name": lm_name}}
        }))
        .expect("am");
        am_api
            .create(&PostParams::default(), &am)
            .await
            .expect("am");
    }
    expect_stuck(&ns, &am_api, "mismatched", "InvalidSpec", "same base model").await;
    wait_for(
        &am_api,
        "orphan",
        "waiting for its language model",
        60,
        |m| {
            condition(m, "DependenciesReady")
                == Some(("False".into(), "LanguageModelNotReady".into()))
                && m.model().and_then(|s| s.phase.as_ref()).map(|p| p.as_str())
                    == Some("WaitingForDependency")
        },
    )
    .await;
}

#[tokio::test]
async fn a_corpus_the_service_rejects_is_reported_and_not_trained() {
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "rejected").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &language_model(
            "noise",
            json!({"corpora": [{"name": "noise", "source": {"text": "!!! ??? ... ---"}}]}),
        ),
    )
    .await
    .expect("create");
    let m = expect_stuck(&ns, &api, "noise", "ResourceInvalid", "noise").await;
    let id = m
        .model()
        .and_then(|s| s.customization_id.clone())
        .expect("id");
    assert_eq!(
        m.model().and_then(|s| s.phase.as_ref()).map(|p| p.as_str()),
        Some("Failed")
    );
    assert!(
        calls(&admin, &id, "train_language_model").await.is_empty(),
        "no training with a rejected corpus"
    );

    // Fixing the content recovers.
    api.patch(
        "noise",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"corpora": [{"name": "noise", "source": {"text": "real words this time"}}]}})),
    )
    .await
    .expect("fix");
    wait_for(
        &api,
        "noise",
        "Ready after the fix",
        120,
        operator::is_ready,
    )
    .await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_until_a_ca_bundle_is_given() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use watson_speech_operator::simulator::{self, SimulatorConfig, TlsFiles};
    let Some((ns, _admin, _)) = operator::setup(OPTIONS, "tls").await else {
        return;
    };

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, leaf.pem()).expect("cert");
    std::fs::write(&key, leaf_key.serialize_pem()).expect("key");
    let sim = simulator::start(SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![operator::API_KEY.to_string()],
        auth_required: true,
        time_scale: 0.01,
        tls: Some(TlsFiles { cert, key }),
        ..Default::default()
    })
    .await
    .expect("TLS simulator");
    let auth = fixture::iam_auth(&sim.base_url(), "creds");
    let svc = fixture::speech_service("secure", "SpeechToText", &sim.stt_url(), auth);
    let services = ns.api::<watson_speech_operator::crd::SpeechService>();
    services
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(
        &PostParams::default(),
        &language_model("tls", json!({"serviceRef": {"name": "secure"}, "corpora": [{"name": "c", "source": {"text": "over tls"}}]})),
    )
    .await
    .expect("create");
    // Verification is on by default: an unknown CA is refused, with a condition that says so.
    let m = wait_for(&api, "tls", "refused certificate", 60, |m| {
        condition(m, "Ready")
            .is_some_and(|(s, r)| s == "False" && (r == "IamTokenFailure" || r == "TransportError"))
    })
    .await;
    let message = m
        .model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.to_lowercase())
        .unwrap_or_default();
    assert!(message.contains("certificate"), "{message}");
    // The CA bundle from a ConfigMap makes it work, without a restart.
    ns.api::<ConfigMap>()
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("ca".into()),
                    ..Default::default()
                },
                data: Some([("ca.pem".to_string(), ca.pem())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("ca");
    services
        .patch(
            "secure",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"caBundle": {"name": "ca", "key": "ca.pem"}}})),
        )
        .await
        .expect("trust the CA");
    wait_for(&api, "tls", "Ready over TLS", 120, operator::is_ready).await;
}
