//! HTTP-level tests of the simulator: status codes, error shapes, the transaction-id header,
//! IAM tokens, credentials, the admin API (faults, request log, counters, config), TLS and the
//! state file.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::StreamExt;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use watson_speech_operator::simulator::{
    self, ConfigPatch, Faults, ModelKind, RunningSimulator, SimulatorConfig, TlsFiles,
};
use watson_speech_operator::watson::Operation;

const KEY: &str = "test-key";

async fn sim(time_scale: f64) -> RunningSimulator {
    simulator::start(SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        time_scale,
        api_keys: vec![KEY.to_owned(), "second-key".to_owned()],
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client() -> Client {
    watson_speech_operator::tls::install_crypto_provider();
    Client::builder().no_proxy().build().expect("client")
}

fn basic(key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("apikey:{key}")))
}

fn txn(r: &Response) -> String {
    r.headers()
        .get("x-global-transaction-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn json_of(r: Response) -> Value {
    r.json().await.expect("json body")
}

async fn create_lm(c: &Client, s: &RunningSimulator, base: &str) -> String {
    let r = c
        .post(format!("{}/v1/customizations", s.stt_url()))
        .header("Authorization", basic(KEY))
        .json(&json!({"name": "m", "base_model_name": base, "description": "d"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = json_of(r).await;
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "create returns only the id: {body}"
    );
    body["customization_id"].as_str().expect("id").to_owned()
}

/// Polls `url` every 10 ms until its `status` is `want`; panics after 30 s.
async fn wait_for_status(c: &Client, url: &str, want: &str) -> Value {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let j = json_of(
            c.get(url)
                .header("Authorization", basic(KEY))
                .send()
                .await
                .expect("get"),
        )
        .await;
        if j["status"] == want {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{url} never reached {want}");
}

#[tokio::test]
async fn every_response_has_a_transaction_id_and_errors_have_ibm_shape() {
    let s = sim(1.0).await;
    let c = client();
    let auth = basic(KEY);
    let cases = [
        c.get(format!("{}/v1/models", s.stt_url()))
            .header("Authorization", &auth),
        c.get(format!("{}/v1/models", s.stt_url()))
            .header("Authorization", basic("wrong")),
        c.get(format!("{}/v1/nothing-here", s.stt_url()))
            .header("Authorization", &auth),
        c.get(format!("{}/v1/models/xx-XX_Nothing", s.stt_url()))
            .header("Authorization", &auth),
        c.post(format!("{}/identity/token", s.iam_url()))
            .form(&[("grant_type", "nope")]),
        c.get(format!("{}/_simulator/models", s.base_url())),
        c.patch(format!("{}/v1/customizations", s.stt_url()))
            .header("Authorization", &auth),
    ];
    let mut seen = std::collections::HashSet::new();
    for req in cases {
        let r = req.send().await.expect("send");
        let id = txn(&r);
        assert!(
            !id.is_empty(),
            "missing X-Global-Transaction-Id on {}",
            r.url()
        );
        assert!(seen.insert(id), "transaction ids are unique");
    }

    let r = c
        .get(format!("{}/v1/nothing-here", s.stt_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_of(r).await,
        json!({"code": 404, "code_description": "No Such Resource", "error": "No such child resource."})
    );

    let r = c
        .get(format!("{}/v1/models/xx-XX_Nothing", s.stt_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = c
        .patch(format!("{}/v1/customizations", s.stt_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let b = json_of(r).await;
    assert_eq!(b["code"], 405);
    assert!(b["code_description"].is_string() && b["error"].is_string());
}

#[tokio::test]
async fn bad_or_missing_credentials_are_401_unauthorized() {
    let s = sim(1.0).await;
    let c = client();
    let url = format!("{}/v1/customizations", s.tts_url());
    for auth in [
        None,
        Some(basic("wrong")),
        Some("Bearer not.a.token".to_owned()),
        Some("Digest x".to_owned()),
    ] {
        let mut req = c.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.expect("send");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            json_of(r).await,
            json!({"code": 401, "error": "Unauthorized"})
        );
    }
    let r = c
        .get(&url)
        .header("Authorization", basic("second-key"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK, "every configured key works");
}

#[tokio::test]
async fn iam_issues_jwt_shaped_tokens_with_consistent_expiry() {
    let s = sim(1.0).await;
    let c = client();
    let r = c
        .post(format!("{}/identity/token", s.iam_url()))
        .header("Accept", "application/json")
        .form(&[
            ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
            ("apikey", KEY),
            ("response_type", "cloud_iam"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!txn(&r).is_empty());
    let t = json_of(r).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert!(t["refresh_token"].is_string());
    let token = t["access_token"].as_str().expect("token");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
            .expect("json");
    let (iat, exp) = (
        payload["iat"].as_u64().expect("iat"),
        payload["exp"].as_u64().expect("exp"),
    );
    assert_eq!(exp - iat, 3600);
    assert_eq!(t["expiration"].as_u64(), Some(exp));

    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);

    let r = c
        .post(format!("{}/identity/token", s.iam_url()))
        .form(&[
            ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
            ("apikey", "wrong"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(r).await["errorCode"], "BXNIM0415E");

    // Refresh grant.
    let r = c
        .post(format!("{}/identity/token", s.iam_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().expect("rt")),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let s = sim(1.0).await;
    let c = client();
    s.admin()
        .set_config(&ConfigPatch {
            token_ttl_seconds: Some(1),
            ..ConfigPatch::default()
        })
        .await
        .expect("config");
    let t = json_of(
        c.post(format!("{}/identity/token", s.iam_url()))
            .form(&[
                ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
                ("apikey", KEY),
            ])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(t["expires_in"], 1);
    let token = t["access_token"].as_str().expect("token").to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json_of(r).await,
        json!({"code": 401, "error": "Unauthorized"})
    );
}

#[tokio::test]
async fn language_model_lifecycle_over_http() {
    let s = sim(0.001).await;
    let c = client();
    let auth = basic(KEY);
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let model_url = format!("{}/v1/customizations/{id}", s.stt_url());
    let m = json_of(
        c.get(&model_url)
            .header("Authorization", &auth)
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(m["status"], "pending");
    assert_eq!(m["created"], m["updated"]);

    // Held, the model's analyses do not finish: the 409 below does not race the clock.
    let admin = s.admin();
    admin.hold(&id, true).await.expect("hold");
    // Multipart corpus (what the SDKs send).
    let form = reqwest::multipart::Form::new().part(
        "corpus_file",
        reqwest::multipart::Part::bytes(
            b"Kubernetes operators reconcile custom resources".to_vec(),
        )
        .file_name("corpus.txt")
        .mime_str("text/plain")
        .expect("mime"),
    );
    let r = c
        .post(format!("{model_url}/corpora/c1"))
        .header("Authorization", &auth)
        .multipart(form)
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CREATED);
    // A second add while analysing is refused.
    let r = c
        .post(format!("{model_url}/corpora/c2"))
        .header("Authorization", &auth)
        .header("Content-Type", "text/plain")
        .body("raw text corpus")
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    admin.hold(&id, false).await.expect("release");
    let corpus = wait_for_status(&c, &format!("{model_url}/corpora/c1"), "analyzed").await;
    assert_eq!(
        corpus["total_words"], 5,
        "multipart boundaries are not counted as words"
    );

    // Raw text with curl's default content type.
    let r = c
        .post(format!("{model_url}/corpora/c2"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("raw text corpus")
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CREATED);
    wait_for_status(&c, &model_url, "ready").await;

    let r = c
        .post(format!("{model_url}/train"))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("train");
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_status(&c, &model_url, "available").await;
    let r = c
        .post(format!("{model_url}/train"))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("train");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_of(r).await["error"],
        "No input data modified since last training"
    );

    let r = c
        .delete(format!("{model_url}/corpora/ghost"))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = c
        .delete(&model_url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .delete(&model_url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "deleting a missing model is 401"
    );
    let b = json_of(r).await;
    assert_eq!(b["code"], 401);
    assert_eq!(b["code_description"], "Unauthorized");
}

#[tokio::test]
async fn grammar_and_audio_content_types() {
    let s = sim(0.001).await;
    let c = client();
    let auth = basic(KEY);
    let id = create_lm(&c, &s, "en-US_Telephony").await;
    let r = c
        .post(format!("{}/v1/customizations/{id}/grammars/g", s.stt_url()))
        .header("Authorization", &auth)
        .header("Content-Type", "text/plain")
        .body("$r = yes | no;")
        .send()
        .await
        .expect("grammar");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = c
        .post(format!("{}/v1/acoustic_customizations", s.stt_url()))
        .header("Authorization", &auth)
        .json(&json!({"name": "am", "base_model_name": "en-US_Telephony"}))
        .send()
        .await
        .expect("am");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "no acoustic models on next-generation bases"
    );

    let r = c
        .post(format!("{}/v1/acoustic_customizations", s.stt_url()))
        .header("Authorization", &auth)
        .json(&json!({"name": "am", "base_model_name": "en-US_NarrowbandModel"}))
        .send()
        .await
        .expect("am");
    assert_eq!(r.status(), StatusCode::CREATED);
    let am = json_of(r).await["customization_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let wav = watson_speech_operator::simulator::audio::tone_wav(8000, 660.0);
    let r = c
        .post(format!(
            "{}/v1/acoustic_customizations/{am}/audio/a1",
            s.stt_url()
        ))
        .header("Authorization", &auth)
        .header("Content-Type", "audio/wav")
        .body(wav)
        .send()
        .await
        .expect("audio");
    assert_eq!(r.status(), StatusCode::CREATED);
    let audio = wait_for_status(
        &c,
        &format!("{}/v1/acoustic_customizations/{am}/audio/a1", s.stt_url()),
        "ok",
    )
    .await;
    assert_eq!(audio["duration"], 660);
    assert_eq!(audio["details"]["frequency"], 8000);
}

#[tokio::test]
async fn injected_faults_apply_to_the_api_but_not_to_admin() {
    let s = sim(1.0).await;
    let c = client();
    let admin = s.admin();
    let mut faults = Faults {
        retry_after_seconds: 2,
        ..Faults::default()
    };
    faults.error_rates.insert("429".to_owned(), 1.0);
    admin.set_faults(&faults).await.expect("faults");
    assert_eq!(admin.faults().await.expect("get"), faults);

    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert!(!txn(&r).is_empty());
    assert_eq!(json_of(r).await["code"], 429);
    assert!(admin.models().await.is_ok(), "admin API is never faulted");

    admin
        .set_faults(&Faults {
            iam_outage: true,
            ..Faults::default()
        })
        .await
        .expect("faults");
    let r = c
        .post(format!("{}/identity/token", s.iam_url()))
        .form(&[
            ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
            ("apikey", KEY),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "IAM outage leaves the service up"
    );

    admin
        .set_faults(&Faults {
            drop_rate: 1.0,
            ..Faults::default()
        })
        .await
        .expect("faults");
    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await;
    assert!(r.is_err(), "connection closed without a response: {r:?}");

    admin.clear_faults().await.expect("clear");
    assert_eq!(admin.faults().await.expect("get"), Faults::default());
    let page = admin.requests(0).await.expect("log");
    let statuses: Vec<u16> = page.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 503, 200, 0]);
}

#[tokio::test]
async fn request_log_and_counters_use_operation_names() {
    let s = sim(1.0).await;
    let c = client();
    let admin = s.admin();
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let r = c
        .post(format!("{}/v1/customizations/{id}/train", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await
        .expect("train");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = admin.requests(0).await.expect("log");
    assert_eq!(page.requests.len(), 2);
    assert_eq!(page.next_seq, 2);
    let train = &page.requests[1];
    assert_eq!(train.operation.as_deref(), Some("train_language_model"));
    assert_eq!(train.customization_id.as_deref(), Some(id.as_str()));
    assert_eq!(train.method, "POST");
    assert_eq!(train.status, 400);
    assert!(train.at_ms > 1_600_000_000_000);
    assert!(
        admin
            .requests(page.next_seq)
            .await
            .expect("log")
            .requests
            .is_empty()
    );

    let counters = admin.counters().await.expect("counters");
    assert_eq!(counters.total, 2);
    assert_eq!(counters.get(Operation::CreateLanguageModel, 201), 1);
    assert_eq!(counters.get(Operation::TrainLanguageModel, 400), 1);

    admin.reset().await.expect("reset");
    assert_eq!(admin.counters().await.expect("counters").total, 0);
    assert!(admin.models().await.expect("models").is_empty());
}

#[tokio::test]
async fn admin_models_versions_failures_and_config() {
    let s = sim(0.001).await;
    let c = client();
    let admin = s.admin();
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let models = admin.models().await.expect("models");
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].kind, ModelKind::Language);
    assert_eq!(models[0].status.as_deref(), Some("pending"));
    assert_eq!(models[0].versions, vec!["en-US_BroadbandModel.v2020-01-16"]);

    let v = admin
        .publish_base_version("en-US_BroadbandModel", None)
        .await
        .expect("publish");
    assert_eq!(v, "en-US_BroadbandModel.v2020-01-17");
    let v = admin
        .publish_base_version(
            "en-US_BroadbandModel",
            Some("en-US_BroadbandModel.v2027-01-01"),
        )
        .await
        .expect("publish");
    assert_eq!(v, "en-US_BroadbandModel.v2027-01-01");
    assert!(admin.publish_base_version("nope", None).await.is_err());
    let m = json_of(
        c.get(format!("{}/v1/models/en-US_BroadbandModel", s.stt_url()))
            .header("Authorization", basic(KEY))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(m["rate"], 16000);
    assert_eq!(m["supported_features"]["custom_acoustic_model"], true);

    admin.fail_next_training(&id).await.expect("fail-next");
    assert!(admin.fail_next_training("unknown").await.is_err());
    admin.delete_model(&id).await.expect("out-of-band delete");
    assert!(admin.delete_model(&id).await.is_err());
    let r = c
        .get(format!("{}/v1/customizations/{id}", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    admin
        .set_config(&ConfigPatch {
            model_cap: Some(1),
            time_scale: Some(0.5),
            ..ConfigPatch::default()
        })
        .await
        .expect("config");
    let cfg = admin.config().await.expect("config");
    assert_eq!(
        (cfg.model_cap, cfg.time_scale, cfg.token_ttl_seconds),
        (1, 0.5, 3600)
    );
    create_lm(&c, &s, "en-US_BroadbandModel").await;
    let r = c
        .post(format!("{}/v1/customizations", s.stt_url()))
        .header("Authorization", basic(KEY))
        .json(&json!({"name": "over", "base_model_name": "en-US_BroadbandModel"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "over the cap");
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("state.json");
    let config = SimulatorConfig {
        // Previous-generation bases and acoustic models: the legacy service.
        profile: watson_speech_operator::simulator::Profile::Legacy,
        state_file: Some(path.clone()),
        ..SimulatorConfig::default()
    };
    let s = simulator::start(config.clone()).await.expect("start");
    let c = client();
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    s.shutdown().await;
    assert!(path.exists());
    let s = simulator::start(config).await.expect("restart");
    let models = s.admin().models().await.expect("models");
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].customization_id, id);
}

#[tokio::test]
async fn serves_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("cert");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).expect("write");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write");
    let s = simulator::start(SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        tls: Some(TlsFiles { cert, key }),
        ..SimulatorConfig::default()
    })
    .await
    .expect("start");
    assert!(s.base_url().starts_with("https://"));
    watson_speech_operator::tls::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).expect("ca");
    let c = Client::builder()
        .no_proxy()
        .add_root_certificate(ca)
        .build()
        .expect("client");
    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .header("Authorization", basic(KEY))
        .send()
        .await
        .expect("https");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        s.admin()
            .models()
            .await
            .expect("admin over https")
            .is_empty()
    );
}

/// Load sanity check (not run by default): 10,000 language models, then reads at high
/// concurrency. `cargo test --release --test simulator http::ten_thousand -- --ignored
/// --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load check; run explicitly"]
async fn ten_thousand_models_and_concurrent_reads() {
    let s = simulator::start(SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        time_scale: 0.001,
        model_cap: 20_000,
        ..SimulatorConfig::default()
    })
    .await
    .expect("start");
    let c = client();
    let started = std::time::Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..10_000)
        .map(|i| {
            let c = c.clone();
            let url = format!("{}/v1/customizations", s.stt_url());
            async move {
                let r = c
                    .post(url)
                    .header("Authorization", basic(KEY))
                    .json(&json!({"name": format!("m{i}"), "base_model_name": "en-US_BroadbandModel"}))
                    .send()
                    .await
                    .expect("create");
                json_of(r).await["customization_id"].as_str().expect("id").to_owned()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    println!("10,000 creates in {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let n = 5_000;
    futures::stream::iter(0..n)
        .map(|i| {
            let c = c.clone();
            let url = format!("{}/v1/customizations/{}", s.stt_url(), ids[i % ids.len()]);
            async move {
                let r = c
                    .get(url)
                    .header("Authorization", basic(KEY))
                    .send()
                    .await
                    .expect("get");
                assert_eq!(r.status(), StatusCode::OK);
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!("{n} reads in {secs:.2} s = {:.0} req/s", n as f64 / secs);
    let started = std::time::Instant::now();
    assert_eq!(s.admin().models().await.expect("models").len(), 10_000);
    println!("admin model listing of 10,000 in {:?}", started.elapsed());
}

/// Issue 15, case 9: the quirk `multipart_corpus_as_text` (the service of 2017) stores a
/// multipart envelope as corpus text; a raw body is read the same way with or without it.
#[tokio::test]
async fn quirk_multipart_corpus_as_text_stores_the_envelope() {
    let s = sim(0.001).await;
    let c = client();
    let auth = basic(KEY);
    let admin = s.admin();
    admin
        .set_quirks(&simulator::Quirks {
            multipart_corpus_as_text: true,
            ..Default::default()
        })
        .await
        .expect("quirks");
    assert!(admin.quirks().await.expect("get").multipart_corpus_as_text);
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let model_url = format!("{}/v1/customizations/{id}", s.stt_url());
    let form = reqwest::multipart::Form::new().part(
        "corpus_file",
        reqwest::multipart::Part::bytes(b"operators reconcile".to_vec())
            .file_name("envelope.txt")
            .mime_str("text/plain")
            .expect("mime"),
    );
    let r = c
        .post(format!("{model_url}/corpora/multi"))
        .header("Authorization", &auth)
        .multipart(form)
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CREATED);
    let corpus = wait_for_status(&c, &format!("{model_url}/corpora/multi"), "analyzed").await;
    assert!(
        corpus["total_words"].as_u64().unwrap_or(0) > 2,
        "the envelope counts as words: {corpus}"
    );
    let words = json_of(
        c.get(format!("{model_url}/words"))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("words"),
    )
    .await;
    assert!(
        words.to_string().contains("envelope.txt") || words.to_string().contains("form-data"),
        "part headers became words: {words}"
    );
    // A raw body is the text, quirk or not.
    let r = c
        .post(format!("{model_url}/corpora/raw"))
        .header("Authorization", &auth)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body("operators reconcile")
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CREATED);
    let corpus = wait_for_status(&c, &format!("{model_url}/corpora/raw"), "analyzed").await;
    assert_eq!(corpus["total_words"], 2);
    // Reset clears the quirks.
    admin.reset().await.expect("reset");
    assert_eq!(
        admin.quirks().await.expect("get"),
        simulator::Quirks::default()
    );
}

/// Issue 15, case 4: the quirk `lite_plan` answers every customization request with 400 and
/// the plan message; base models stay listed; credentials are still checked first.
#[tokio::test]
async fn quirk_lite_plan_refuses_customization_with_400() {
    let s = sim(0.001).await;
    let c = client();
    let auth = basic(KEY);
    s.admin()
        .set_quirks(&simulator::Quirks {
            lite_plan: true,
            ..Default::default()
        })
        .await
        .expect("quirks");
    for (method, url) in [
        ("POST", format!("{}/v1/customizations", s.stt_url())),
        ("GET", format!("{}/v1/customizations", s.stt_url())),
        ("GET", format!("{}/v1/acoustic_customizations", s.stt_url())),
        ("GET", format!("{}/v1/customizations", s.tts_url())),
    ] {
        let req = if method == "POST" {
            c.post(&url)
                .json(&json!({"name": "m", "base_model_name": "en-US_BroadbandModel"}))
        } else {
            c.get(&url)
        };
        let r = req
            .header("Authorization", &auth)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {url}");
        let body = json_of(r).await;
        assert_eq!(body["error"], simulator::api::LITE_PLAN_MESSAGE);
    }
    let r = c
        .get(format!("{}/v1/models", s.stt_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("models");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(format!("{}/v1/customizations", s.stt_url()))
        .header("Authorization", basic("wrong"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Issue 15, case 3: a locked model refuses every change (409) and reads as usual; unlocking
/// frees it. Case 10: `GET /v1/voices` answers on Text to Speech only.
#[tokio::test]
async fn a_locked_model_refuses_changes_and_voices_are_listed_on_tts_only() {
    let s = sim(0.001).await;
    let c = client();
    let auth = basic(KEY);
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let admin = s.admin();
    admin.lock(&id, true).await.expect("lock");
    let model_url = format!("{}/v1/customizations/{id}", s.stt_url());
    let r = c
        .delete(&model_url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = c
        .get(&model_url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect("get");
    assert_eq!(json_of(r).await["status"], "pending");
    assert!(admin.lock("no-such-model", true).await.is_err());
    admin.lock(&id, false).await.expect("unlock");
    let r = c
        .delete(&model_url)
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK);

    let r = c
        .get(format!("{}/v1/voices", s.tts_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("voices");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        json_of(r).await["voices"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );
    let r = c
        .get(format!("{}/v1/voices", s.stt_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("voices");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// Issue 15, case 2: the quirk `status_lag_seconds` keeps the status from before a train call
/// for that many seconds.
#[tokio::test]
async fn quirk_status_lag_keeps_the_previous_status_after_train() {
    let s = sim(0.0).await;
    let c = client();
    let auth = basic(KEY);
    s.admin()
        .set_quirks(&simulator::Quirks {
            // Long enough that the read right after the call cannot miss it on a loaded
            // machine (the lag is real time, not scaled).
            status_lag_seconds: 5.0,
            ..Default::default()
        })
        .await
        .expect("quirks");
    let id = create_lm(&c, &s, "en-US_BroadbandModel").await;
    let model_url = format!("{}/v1/customizations/{id}", s.stt_url());
    let r = c
        .post(format!("{model_url}/corpora/c"))
        .header("Authorization", &auth)
        .header("Content-Type", "text/plain")
        .body("some words")
        .send()
        .await
        .expect("corpus");
    assert_eq!(r.status(), StatusCode::CREATED);
    let status = |c: Client, url: String, auth: String| async move {
        json_of(
            c.get(url)
                .header("Authorization", auth)
                .send()
                .await
                .expect("get"),
        )
        .await["status"]
            .clone()
    };
    assert_eq!(
        status(c.clone(), model_url.clone(), auth.clone()).await,
        "ready"
    );
    let r = c
        .post(format!("{model_url}/train"))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("train");
    assert_eq!(r.status(), StatusCode::OK);
    // Time scale 0: the training is already over, but the status lags.
    assert_eq!(
        status(c.clone(), model_url.clone(), auth.clone()).await,
        "ready"
    );
    // Once the lag is over, the training's real end shows.
    wait_for_status(&c, &model_url, "available").await;
}

/// `POST /v1/recognize` on the wire (issue 28): IBM's answer shape, the `warnings` array for an
/// unknown query parameter, no result for audio that says nothing, and IBM's error shape for a
/// stream too short.
#[tokio::test]
async fn recognize_answers_in_ibms_shape() {
    let s = sim(0.001).await;
    let c = client();
    let url = format!("{}/v1/recognize", s.stt_url());
    let said = simulator::recognize::wav_saying("call the doctor", 16_000);
    let r = c
        .post(format!(
            "{url}?model=en-US_Telephony&speaker_labels=true&colour=blue"
        ))
        .header("Authorization", basic(KEY))
        .header("Content-Type", "audio/wav")
        .body(said)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        json_of(r).await,
        json!({
            "results": [{"alternatives": [{"transcript": "call the doctor ", "confidence": 1.0}], "final": true}],
            "result_index": 0,
            "warnings": ["Unexpected query parameter(s) ['colour'] detected"],
        })
    );
    let r = c
        .post(format!("{url}?model=en-US_Telephony"))
        .header("Authorization", basic(KEY))
        .header("Content-Type", "application/octet-stream")
        .body(simulator::audio::tone_wav(16_000, 1.0))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await, json!({"results": [], "result_index": 0}));
    let r = c
        .post(format!("{url}?model=en-US_Telephony"))
        .header("Authorization", basic(KEY))
        .header("Content-Type", "audio/wav")
        .body("RIFF")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_of(r).await,
        json!({"code": 400, "code_description": "Bad Request", "error": "Stream was 4 bytes but needs to be at least 100 bytes."})
    );
    s.shutdown().await;
}
