//! The wire format of requests: paths, query strings, headers and bodies, checked on a scripted
//! server that records everything.

use crate::scripted::{Canned, FakeServer};
use secrecy::SecretString;
use serde_json::json;
use watson_speech_operator::watson::stt_types::*;
use watson_speech_operator::watson::tts_types::*;
use watson_speech_operator::watson::{Auth, ClientConfig, SttClient, TtsClient};

async fn recording_server() -> FakeServer {
    FakeServer::start(|r, _| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/v1/customizations") | ("POST", "/v1/acoustic_customizations") => {
            Canned::json(201, json!({"customization_id": "new-id"}))
        }
        ("DELETE", _) => Canned::text(200, ""),
        _ => Canned::json(200, json!({})),
    })
    .await
}

fn labelled(server: &FakeServer) -> ClientConfig {
    let mut c = server.config(Auth::Bearer(SecretString::from("t")));
    c.customer_id = Some("tenant-7".into());
    c.learning_opt_out = true;
    c
}

#[tokio::test]
async fn stt_language_model_requests() {
    let server = recording_server().await;
    let stt = SttClient::new(labelled(&server)).expect("client");

    let id = stt
        .create_language_model(&CreateLanguageModel {
            name: "My model".into(),
            base_model_name: "en-US_Telephony".into(),
            dialect: None,
            description: Some("d".into()),
        })
        .await
        .expect("create");
    assert_eq!(id.customization_id, "new-id");
    stt.list_language_models(Some("en-US")).await.expect("list");
    stt.train_language_model(
        "m 1",
        &TrainLanguageModel {
            word_type_to_add: Some(WordTypeToAdd::User),
            customization_weight: Some(0.5),
            strict: Some(false),
            force: Some(true),
        },
    )
    .await
    .expect("train");
    stt.add_corpus("m1", "corpus/1", "hello world\n", true)
        .await
        .expect("corpus");
    stt.add_words(
        "m1",
        &[CustomWord {
            word: "IEEE".into(),
            definition: WordDefinition {
                sounds_like: Some(vec!["I. triple E.".into()]),
                display_as: None,
                mapping_only: Some(false),
            },
        }],
    )
    .await
    .expect("words");
    stt.add_word("m1", "c++", &WordDefinition::default())
        .await
        .expect("word");
    stt.list_words(
        "m1",
        ListWords {
            word_type: Some(WordType::Corpora),
            sort: Some(WordSort::CountAscending),
        },
    )
    .await
    .expect("list words");
    stt.add_grammar("m1", "g1", GrammarFormat::Xml, "<grammar/>", false)
        .await
        .expect("grammar");
    stt.get_word("m1", "ｚ")
        .await
        .expect_err("empty body is no Word");
    stt.delete_user_data("tenant-7").await.expect("user data");

    let r = server.requests();
    // create
    assert_eq!(r[0].path, "/v1/customizations");
    assert_eq!(r[0].header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r[0].body).expect("json"),
        json!({"name":"My model","base_model_name":"en-US_Telephony","description":"d"})
    );
    assert_eq!(r[0].header("x-watson-metadata"), None);
    assert_eq!(r[0].header("x-watson-learning-opt-out"), Some("true"));
    // list
    assert_eq!(r[1].query.as_deref(), Some("language=en-US"));
    // train
    assert_eq!(r[2].path, "/v1/customizations/m%201/train");
    assert_eq!(
        r[2].query.as_deref(),
        Some("word_type_to_add=user&customization_weight=0.5&strict=false&force=true")
    );
    // corpus: the raw text, byte for byte (no multipart envelope), labelled
    assert_eq!(r[3].path, "/v1/customizations/m1/corpora/corpus%2F1");
    assert_eq!(r[3].query.as_deref(), Some("allow_overwrite=true"));
    assert_eq!(
        r[3].header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let body = String::from_utf8_lossy(&r[3].body);
    assert!(!body.contains("corpus_file"), "{body}");
    assert!(body.contains("hello world"), "{body}");
    assert_eq!(
        r[3].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    // words
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r[4].body).expect("json"),
        json!({"words":[{"word":"IEEE","sounds_like":["I. triple E."],"mapping_only":false}]})
    );
    assert_eq!(
        r[4].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    assert_eq!(r[5].method, "PUT");
    assert_eq!(r[5].path, "/v1/customizations/m1/words/c%2B%2B");
    assert_eq!(
        r[5].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    // list words: `+` encoded
    assert_eq!(
        r[6].query.as_deref(),
        Some("word_type=corpora&sort=%2Bcount")
    );
    assert_eq!(r[6].header("x-watson-metadata"), None);
    // grammar
    assert_eq!(r[7].header("content-type"), Some("application/srgs+xml"));
    assert_eq!(r[7].query, None);
    assert_eq!(&r[7].body[..], b"<grammar/>");
    assert_eq!(
        r[7].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    // non-ASCII word
    assert_eq!(r[8].path, "/v1/customizations/m1/words/%EF%BD%9A");
    // user data
    assert_eq!(r[9].method, "DELETE");
    assert_eq!(r[9].path, "/v1/user_data");
    assert_eq!(r[9].query.as_deref(), Some("customer_id=tenant-7"));
    assert_eq!(
        r[9].header("accept"),
        Some("*/*"),
        "no JSON Accept (reqwest default)"
    );
    assert_eq!(r.len(), 10);
}

#[tokio::test]
async fn stt_acoustic_requests() {
    let server = recording_server().await;
    let stt = SttClient::new(labelled(&server)).expect("client");
    stt.add_audio("am1", "a1", &AudioFormat::wav(), vec![1u8, 2, 3], false)
        .await
        .expect("audio");
    stt.add_audio(
        "am1",
        "arch",
        &AudioFormat::Zip {
            contained_content_type: Some("audio/l16;rate=16000".into()),
        },
        vec![4u8],
        true,
    )
    .await
    .expect("zip");
    stt.train_acoustic_model(
        "am1",
        &TrainAcousticModel {
            custom_language_model_id: Some("lm1".into()),
            strict: Some(true),
        },
    )
    .await
    .expect("train");
    stt.upgrade_acoustic_model(
        "am1",
        &UpgradeAcousticModel {
            custom_language_model_id: Some("lm1".into()),
            force: Some(true),
        },
    )
    .await
    .expect("upgrade");
    stt.reset_acoustic_model("am1").await.expect("reset");

    let r = server.requests();
    assert_eq!(r[0].path, "/v1/acoustic_customizations/am1/audio/a1");
    assert_eq!(r[0].header("content-type"), Some("audio/wav"));
    assert_eq!(r[0].header("contained-content-type"), None);
    assert_eq!(
        r[0].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    assert_eq!(&r[0].body[..], &[1, 2, 3]);
    assert_eq!(r[1].header("content-type"), Some("application/zip"));
    assert_eq!(
        r[1].header("contained-content-type"),
        Some("audio/l16;rate=16000")
    );
    assert_eq!(r[1].query.as_deref(), Some("allow_overwrite=true"));
    assert_eq!(
        r[2].query.as_deref(),
        Some("custom_language_model_id=lm1&strict=true")
    );
    assert_eq!(r[3].path, "/v1/acoustic_customizations/am1/upgrade_model");
    assert_eq!(
        r[3].query.as_deref(),
        Some("custom_language_model_id=lm1&force=true")
    );
    assert_eq!(r[4].path, "/v1/acoustic_customizations/am1/reset");
}

#[tokio::test]
async fn tts_requests() {
    let server = recording_server().await;
    let tts = TtsClient::new(labelled(&server)).expect("client");
    tts.create_custom_model(&CreateVoiceModel {
        name: "voice".into(),
        language: Some("ja-JP".into()),
        description: None,
    })
    .await
    .expect("create");
    tts.update_custom_model(
        "v1",
        &UpdateVoiceModel {
            name: Some("renamed".into()),
            description: None,
            words: vec![VoiceWord {
                word: "IBM".into(),
                translation: "アイビーエム".into(),
                part_of_speech: Some(PartOfSpeech::Koyu),
            }],
        },
    )
    .await
    .expect("update");
    tts.add_word(
        "v1",
        "ＮＹ",
        &Translation {
            translation: "new york".into(),
            part_of_speech: None,
        },
    )
    .await
    .expect("put word");
    tts.delete_word("v1", "ＮＹ").await.expect("delete word");
    tts.delete_custom_model("v1").await.expect("delete");

    let r = server.requests();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r[0].body).expect("json"),
        json!({"name":"voice","language":"ja-JP"})
    );
    assert_eq!(r[1].method, "POST");
    assert_eq!(r[1].path, "/v1/customizations/v1");
    assert_eq!(
        r[1].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r[1].body).expect("json"),
        json!({"name":"renamed","words":[{"word":"IBM","translation":"アイビーエム","part_of_speech":"Koyu"}]})
    );
    assert_eq!(r[2].method, "PUT");
    assert_eq!(r[2].path, "/v1/customizations/v1/words/%EF%BC%AE%EF%BC%B9");
    assert_eq!(
        r[2].header("accept"),
        Some("*/*"),
        "no JSON Accept (reqwest default)"
    );
    assert_eq!(
        r[2].header("x-watson-metadata"),
        Some("customer_id=tenant-7")
    );
    assert_eq!(
        r[3].header("accept"),
        Some("*/*"),
        "no JSON Accept (reqwest default)"
    );
    assert_eq!(r[4].method, "DELETE");
    assert_eq!(
        r[4].header("accept"),
        Some("*/*"),
        "no JSON Accept (reqwest default)"
    );
}
