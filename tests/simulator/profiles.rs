//! The simulator's profiles over HTTP (`docs/simulator.md`, "Profiles"): the default
//! `ibm-cloud` profile (the service as IBM sells it today, `watson-api.md` §17) and its admin
//! knobs, against the `legacy` profile (the seed pages' service).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use watson_speech_operator::simulator::{
    self, ConfigPatch, Profile, RunningSimulator, SimulatorConfig,
};

const KEY: &str = "test-key";

async fn sim(profile: Profile) -> RunningSimulator {
    simulator::start(SimulatorConfig {
        profile,
        time_scale: 0.001,
        api_keys: vec![KEY.to_owned()],
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn client() -> Client {
    watson_speech_operator::tls::install_crypto_provider();
    Client::builder().no_proxy().build().expect("client")
}

fn auth() -> String {
    format!("Basic {}", STANDARD.encode(format!("apikey:{KEY}")))
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = req
        .header("Authorization", auth())
        .send()
        .await
        .expect("send");
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn create(c: &Client, s: &RunningSimulator, kind: &str, base: &str) -> (StatusCode, Value) {
    send(
        c.post(format!("{}/v1/{kind}", s.stt_url()))
            .json(&json!({"name": "m", "base_model_name": base})),
    )
    .await
}

async fn lm(c: &Client, s: &RunningSimulator, base: &str) -> String {
    let (status, body) = create(c, s, "customizations", base).await;
    assert_eq!(status, StatusCode::CREATED, "{base}: {body}");
    body["customization_id"].as_str().expect("id").to_owned()
}

/// Polls the model until `status` is `want`; panics after 30 s.
async fn wait_for(c: &Client, url: &str, want: &str) -> Value {
    for _ in 0..3000 {
        let (_, j) = send(c.get(url)).await;
        if j["status"] == want {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{url} never reached {want}");
}

async fn add_word_and_train(c: &Client, s: &RunningSimulator, id: &str, query: &str) {
    let base = format!("{}/v1/customizations/{id}", s.stt_url());
    let (status, body) = send(
        c.post(format!("{base}/words"))
            .json(&json!({"words": [{"word": "watsonx", "sounds_like": ["watson ex"]}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    wait_for(c, &base, "ready").await;
    let (status, body) = send(c.post(format!("{base}/train{query}"))).await;
    assert_eq!(status, StatusCode::OK, "train{query}: {body}");
    wait_for(c, &base, "available").await;
}

async fn weight_of(s: &RunningSimulator, id: &str) -> Option<f64> {
    s.admin()
        .models()
        .await
        .expect("models")
        .into_iter()
        .find(|m| m.customization_id == id)
        .and_then(|m| m.customization_weight)
}

#[tokio::test]
async fn the_default_profile_is_todays_ibm_cloud_without_previous_generation_models() {
    assert_eq!(SimulatorConfig::default().profile, Profile::IbmCloud);
    let s = sim(Profile::IbmCloud).await;
    let c = client();
    let (status, list) = send(c.get(format!("{}/v1/models", s.stt_url()))).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(names.contains(&"en-US") && names.contains(&"en-US_Telephony"));
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("BroadbandModel") || n.ends_with("NarrowbandModel")),
        "withdrawn models are not listed: {names:?}"
    );
    let (status, _) = send(c.get(format!("{}/v1/models/en-US_BroadbandModel", s.stt_url()))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, lsm) = send(c.get(format!("{}/v1/models/en-US", s.stt_url()))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lsm["supported_features"]["custom_language_model"], true);
    assert_eq!(lsm["supported_features"]["custom_acoustic_model"], false);

    for kind in ["customizations", "acoustic_customizations"] {
        let (status, body) = create(&c, &s, kind, "en-US_BroadbandModel").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {body}");
        let text = body["error"].as_str().unwrap_or_default();
        assert!(
            text.contains("en-US_BroadbandModel") && text.contains("discontinued"),
            "{text}"
        );
    }
    // No base model offers acoustic customization any more.
    let (status, _) = create(&c, &s, "acoustic_customizations", "en-US").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(c.get(format!("{}/_simulator/config", s.base_url()))).await;
    assert_eq!(status, StatusCode::OK);
    let config = s.admin().config().await.expect("config");
    assert_eq!(config.profile, Profile::IbmCloud);

    let legacy = sim(Profile::Legacy).await;
    let (status, body) = create(
        &c,
        &legacy,
        "acoustic_customizations",
        "en-US_BroadbandModel",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "legacy keeps acoustic models: {body}"
    );
}

#[tokio::test]
async fn large_speech_models_take_no_grammars_and_weigh_custom_words_at_one_half() {
    let s = sim(Profile::IbmCloud).await;
    let c = client();
    let id = lm(&c, &s, "en-US").await;
    let (status, body) = send(
        c.post(format!("{}/v1/customizations/{id}/grammars/g", s.stt_url()))
            .header("Content-Type", "application/srgs")
            .body("#ABNF 1.0;\nroot $r;\n$r = yes | no;"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    add_word_and_train(&c, &s, &id, "").await;
    assert_eq!(weight_of(&s, &id).await, Some(0.5));
}

#[tokio::test]
async fn improved_next_generation_models_upgrade_by_forced_retraining_only() {
    let s = sim(Profile::IbmCloud).await;
    let c = client();
    let id = lm(&c, &s, "en-US_Telephony").await;
    let url = format!("{}/v1/customizations/{id}", s.stt_url());
    add_word_and_train(&c, &s, &id, "?customization_weight=0.4").await;
    assert_eq!(weight_of(&s, &id).await, Some(0.4));
    let new_version = s
        .admin()
        .publish_base_version("en-US_Telephony", None)
        .await
        .expect("publish");

    let (status, body) = send(c.post(format!("{url}/upgrade_model"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("'force'"),
        "the refusal names the way out: {body}"
    );

    // The forced retrain upgrades, and drops the weight that was not sent again.
    let (status, body) = send(c.post(format!("{url}/train?force=true"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let model = wait_for(&c, &url, "available").await;
    assert_eq!(
        model["versions"].as_array().and_then(|v| v.last()),
        Some(&json!(new_version))
    );
    assert_eq!(
        weight_of(&s, &id).await,
        Some(0.1),
        "the improved bases' default"
    );

    // Re-sending it keeps it.
    s.admin()
        .publish_base_version("en-US_Telephony", None)
        .await
        .expect("publish");
    let (status, _) =
        send(c.post(format!("{url}/train?force=true&customization_weight=0.4"))).await;
    assert_eq!(status, StatusCode::OK);
    wait_for(&c, &url, "available").await;
    assert_eq!(weight_of(&s, &id).await, Some(0.4));

    // On the legacy profile the same base upgrades with upgrade_model.
    let legacy = sim(Profile::Legacy).await;
    let old = lm(&c, &legacy, "en-US_Telephony").await;
    add_word_and_train(&c, &legacy, &old, "").await;
    legacy
        .admin()
        .publish_base_version("en-US_Telephony", None)
        .await
        .expect("publish");
    let (status, body) = send(c.post(format!(
        "{}/v1/customizations/{old}/upgrade_model",
        legacy.stt_url()
    )))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn admin_knobs_withdraw_a_base_mark_a_version_defective_and_cap_audio() {
    let s = sim(Profile::IbmCloud).await;
    let c = client();
    let admin = s.admin();
    let id = lm(&c, &s, "de-DE_Telephony").await;
    let url = format!("{}/v1/customizations/{id}", s.stt_url());
    add_word_and_train(&c, &s, &id, "").await;

    admin
        .withdraw_base_model("de-DE_Telephony")
        .await
        .expect("withdraw");
    let (status, body) = create(&c, &s, "customizations", "de-DE_Telephony").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, model) = send(c.get(&url)).await;
    assert_eq!(status, StatusCode::OK, "existing models keep serving");
    assert_eq!(model["status"], "available");

    let version = model["versions"][0].as_str().expect("version").to_owned();
    admin
        .mark_base_version_defective("de-DE_Telephony", &version)
        .await
        .expect("defective");
    let (_, model) = send(c.get(&url)).await;
    assert!(
        model["warnings"]
            .as_str()
            .unwrap_or_default()
            .contains("Re-create"),
        "{model}"
    );
    admin
        .publish_base_version("de-DE_Telephony", None)
        .await
        .expect("publish");
    let (status, body) = send(c.post(format!("{url}/upgrade_model"))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "no upgrade repairs it: {body}"
    );
    assert!(
        admin
            .mark_base_version_defective("de-DE_Telephony", "en-US.v1")
            .await
            .is_err()
    );

    // The audio cap (legacy: acoustic models exist there).
    let legacy = sim(Profile::Legacy).await;
    let (status, am) = create(
        &c,
        &legacy,
        "acoustic_customizations",
        "en-US_NarrowbandModel",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let am = am["customization_id"].as_str().expect("id").to_owned();
    legacy
        .admin()
        .set_config(&ConfigPatch {
            audio_cap_hours: Some(0.1),
            ..ConfigPatch::default()
        })
        .await
        .expect("cap");
    assert_eq!(
        legacy
            .admin()
            .config()
            .await
            .expect("config")
            .audio_cap_hours,
        0.1
    );
    let wav = simulator::audio::tone_wav(8000, 660.0);
    let (status, body) = send(
        c.post(format!(
            "{}/v1/acoustic_customizations/{am}/audio/a1",
            legacy.stt_url()
        ))
        .header("Content-Type", "audio/wav")
        .body(wav),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "11 minutes over a 6-minute cap: {body}"
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 0.1 hours"),
        "{body}"
    );
}

#[tokio::test]
async fn stricter_sounds_like_and_part_of_speech_for_japanese_only() {
    let s = sim(Profile::IbmCloud).await;
    let legacy = sim(Profile::Legacy).await;
    let c = client();
    for (sim, want) in [
        (&s, StatusCode::BAD_REQUEST),
        (&legacy, StatusCode::CREATED),
    ] {
        let id = lm(&c, sim, "en-US_Multimedia").await;
        let (status, body) = send(
            c.put(format!("{}/v1/customizations/{id}/words/IO", sim.stt_url()))
                .json(&json!({"sounds_like": ["I/O"]})),
        )
        .await;
        assert_eq!(status, want, "{body}");

        let (status, voice) = send(
            c.post(format!("{}/v1/customizations", sim.tts_url()))
                .json(&json!({"name": "v", "language": "en-US"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{voice}");
        let vid = voice["customization_id"].as_str().expect("id");
        let (status, body) = send(
            c.post(format!("{}/v1/customizations/{vid}/words", sim.tts_url()))
                .json(&json!({
                    "words": [
                        {"word": "IBM", "translation": "eye bee em"},
                        {"word": "Kyoto", "translation": "kyoto", "part_of_speech": "Koyu"}
                    ]
                })),
        )
        .await;
        if sim.base_url() == s.base_url() {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                body["error"],
                "Part of speech is supported for ja-JP language only"
            );
            let (_, words) =
                send(c.get(format!("{}/v1/customizations/{vid}/words", sim.tts_url()))).await;
            assert_eq!(
                words["words"],
                json!([]),
                "one bad entry refuses the whole batch"
            );
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}
