//! Issue 25 (point 1) and issue 29 (point 4), end to end on the real API server with the
//! simulator: the service is the truth. Data deleted or changed on the service behind the
//! operator's back (with the same credentials, as a script or a colleague would) is seen from the
//! shared listing (the model's status moved, or its `updated`/`last_modified` time), read again
//! and restored: words, corpora and grammars of a language model, audio of an acoustic model,
//! words of a voice model. A steady model makes no call of its own without such evidence; the
//! annotation `speech.watson.dev/reconcile-requested-at` reads everything at once, and
//! `speech.watson.dev/drift-interval` sets one model's interval within the operator's minimum.
//! Every assertion counts calls in the simulator's log; none measures time.

use crate::support;

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use support::fixture::{acoustic_model, language_model, voice_model};
use support::operator::{self, HasModelStatus, wait_for};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel, CustomVoiceModel};
use watson_speech_operator::simulator::admin::AdminClient;
use watson_speech_operator::watson::stt_types::{
    AudioFormat, GrammarFormat, ListWords, WordDefinition, WordType,
};
use watson_speech_operator::watson::tts_types::Translation;
use watson_speech_operator::watson::{Auth, ClientConfig, SttClient, TtsClient};

use crate::{ABNF_YES_NO as YES_NO, OPTIONS, apply, id_of, is_available as available};

const YES_NO_ODD: &str = "#ABNF 1.0 ISO-8859-1;\nlanguage en-US;\nmode voice;\nroot $yesno;\n$yesno = yes | no | zyzzogeton ;\n";

/// A TTS client of the simulator with the operator's credentials (what a colleague would use).
fn tts_client(sim_base: &str) -> TtsClient {
    let url = url::Url::parse(&format!("{sim_base}/text-to-speech")).expect("url");
    let auth = Auth::Iam {
        api_key: operator::API_KEY.to_string().into(),
        url: url::Url::parse(sim_base).expect("iam"),
    };
    TtsClient::new(ClientConfig::new(url, auth)).expect("client")
}

/// Successful calls of `op` naming model `id` from log position `since` on.
async fn count(admin: &AdminClient, id: &str, op: &str, since: u64) -> usize {
    admin
        .requests(since)
        .await
        .expect("log")
        .requests
        .iter()
        .filter(|r| {
            r.customization_id.as_deref() == Some(id)
                && r.operation.as_deref() == Some(op)
                && r.status < 300
        })
        .count()
}

/// Waits until the model is Available again after `trainings` trainings in all (`op`: the
/// kind's train operation), and `check` holds on the service.
async fn restored<K, F, Fut>(
    api: &Api<K>,
    name: &str,
    admin: &AdminClient,
    op: &str,
    trainings: usize,
    check: F,
) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasModelStatus,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let check = &check;
    support::eventually(
        &format!("{name}: the spec restored on the service and trained again"),
        Duration::from_secs(120),
        || async move {
            let m = api.get(name).await.ok()?;
            let id = m.model()?.customization_id.clone()?;
            (available(&m) && count(admin, &id, op, 0).await == trainings && check().await)
                .then_some(m)
        },
    )
    .await
}

async fn user_words(stt: &SttClient, id: &str) -> Vec<(String, Vec<String>)> {
    let query = ListWords {
        word_type: Some(WordType::User),
        sort: None,
    };
    let mut words: Vec<_> = stt
        .list_words(id, query)
        .await
        .map(|w| w.words)
        .unwrap_or_default()
        .into_iter()
        .filter(|w| w.source.iter().any(|s| s == "user"))
        .map(|w| (w.word, w.sounds_like))
        .collect();
    words.sort();
    words
}

/// Words: one deleted and one changed elsewhere are added again, and the model trained; the
/// steady model then makes no call of its own (the re-read happened on evidence only).
#[tokio::test]
async fn language_model_words_deleted_or_changed_elsewhere_are_restored() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-words").await else {
        return;
    };
    let stt = operator::stt_client(&base);
    let api: Api<CustomLanguageModel> = ns.api();
    let spec = json!({
        "corpora": [{"name": "c", "source": {"text": "a few words of domain text"}}],
        "words": [
            {"word": "tomato", "soundsLike": ["tomahto"]},
            {"word": "potato", "soundsLike": ["potahto"]}
        ]
    });
    apply(&api, &language_model("words", spec)).await;
    let id = id_of(&wait_for(&api, "words", "Available", 90, available).await);
    let want = vec![
        ("potato".to_string(), vec!["potahto".to_string()]),
        ("tomato".to_string(), vec!["tomahto".to_string()]),
    ];
    assert_eq!(user_words(&stt, &id).await, want);

    stt.delete_word(&id, "tomato")
        .await
        .expect("delete elsewhere");
    let spud = WordDefinition {
        sounds_like: Some(vec!["spud".into()]),
        display_as: None,
        mapping_only: None,
    };
    stt.add_word(&id, "potato", &spud)
        .await
        .expect("change elsewhere");

    let (stt_ref, id_ref, want_ref) = (&stt, &id, &want);
    restored(
        &api,
        "words",
        &admin,
        "train_language_model",
        2,
        || async move { user_words(stt_ref, id_ref).await == *want_ref },
    )
    .await;

    // Steady again: two drift intervals of checks without any call naming the model.
    let mark = admin.requests(0).await.expect("log").next_seq;
    tokio::time::sleep(Duration::from_secs(2 * OPTIONS.drift_seconds + 1)).await;
    let of_model: Vec<String> = admin
        .requests(mark)
        .await
        .expect("log")
        .requests
        .into_iter()
        .filter(|r| r.customization_id.as_deref() == Some(id.as_str()))
        .filter_map(|r| r.operation)
        .collect();
    assert!(of_model.is_empty(), "steady, yet: {of_model:?}");
}

/// Corpora: one deleted and one replaced with other text elsewhere are uploaded again.
#[tokio::test]
async fn language_model_corpora_deleted_or_changed_elsewhere_are_restored() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-corpora").await else {
        return;
    };
    let stt = operator::stt_client(&base);
    let api: Api<CustomLanguageModel> = ns.api();
    let (c1, c2) = ("the first corpus of domain text", "the second corpus");
    let spec = json!({"corpora": [
        {"name": "c1", "source": {"text": c1}},
        {"name": "c2", "source": {"text": c2}}
    ]});
    apply(&api, &language_model("corpora", spec)).await;
    let id = id_of(&wait_for(&api, "corpora", "Available", 90, available).await);

    stt.delete_corpus(&id, "c1")
        .await
        .expect("delete elsewhere");
    let other = "quite another text with many more words than the spec has in it";
    stt.add_corpus(&id, "c2", other.as_bytes().to_vec(), true)
        .await
        .expect("replace elsewhere");

    let (stt_ref, id_ref) = (&stt, &id);
    restored(
        &api,
        "corpora",
        &admin,
        "train_language_model",
        2,
        || async move {
            let Ok(list) = stt_ref.list_corpora(id_ref).await else {
                return false;
            };
            let words = |name: &str| {
                list.corpora
                    .iter()
                    .find(|c| c.name == name)
                    .and_then(|c| c.total_words)
            };
            words("c1") == Some(6) && words("c2") == Some(3)
        },
    )
    .await;
    assert_eq!(count(&admin, &id, "add_corpus", 0).await, 2 + 1 + 2);
}

/// Grammars: one deleted and one replaced elsewhere are uploaded again.
#[tokio::test]
async fn language_model_grammars_deleted_or_changed_elsewhere_are_restored() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-grammars").await else {
        return;
    };
    let stt = operator::stt_client(&base);
    let api: Api<CustomLanguageModel> = ns.api();
    let grammar =
        |name: &str| json!({"name": name, "contentType": "abnf", "source": {"text": YES_NO}});
    let spec = json!({"grammars": [grammar("g1"), grammar("g2")]});
    apply(&api, &language_model("grammars", spec)).await;
    let id = id_of(&wait_for(&api, "grammars", "Available", 90, available).await);

    stt.delete_grammar(&id, "g1")
        .await
        .expect("delete elsewhere");
    stt.add_grammar(
        &id,
        "g2",
        GrammarFormat::Abnf,
        YES_NO_ODD.as_bytes().to_vec(),
        true,
    )
    .await
    .expect("replace elsewhere");

    let (stt_ref, id_ref) = (&stt, &id);
    restored(
        &api,
        "grammars",
        &admin,
        "train_language_model",
        2,
        || async move {
            let Ok(list) = stt_ref.list_grammars(id_ref).await else {
                return false;
            };
            let oov = |name: &str| {
                list.grammars
                    .iter()
                    .find(|g| g.name == name)
                    .and_then(|g| g.out_of_vocabulary_words)
            };
            // Both hold the spec's grammar again (the one changed elsewhere had one more).
            oov("g1").is_some() && oov("g1") == oov("g2")
        },
    )
    .await;
    assert_eq!(count(&admin, &id, "add_grammar", 0).await, 2 + 1 + 2);
}

/// Audio: one file deleted and one replaced with audio of another length elsewhere are
/// uploaded again.
#[tokio::test]
async fn acoustic_model_audio_deleted_or_changed_elsewhere_is_restored() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-audio").await else {
        return;
    };
    let stt = operator::stt_client(&base);
    let tone = |seconds: f64| {
        watson_speech_operator::simulator::audio::tone_tar_gz("a.wav", 16_000, seconds)
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("audio".into()),
            ..Default::default()
        },
        binary_data: Some(
            [
                ("a1".to_string(), k8s_openapi::ByteString(tone(600.0))),
                ("a2".to_string(), k8s_openapi::ByteString(tone(300.0))),
            ]
            .into(),
        ),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .expect("audio");
    let audio = |name: &str| {
        json!({"name": name, "contentType": "application/gzip",
               "source": {"configMapKeyRef": {"name": "audio", "key": name}}})
    };
    let api: Api<CustomAcousticModel> = ns.api();
    let spec = json!({"audio": [audio("a1"), audio("a2")]});
    apply(&api, &acoustic_model("audio", spec)).await;
    let id = id_of(&wait_for(&api, "audio", "Available", 120, available).await);

    stt.delete_audio(&id, "a1").await.expect("delete elsewhere");
    let gzip = AudioFormat::Gzip {
        contained_content_type: None,
    };
    stt.add_audio(&id, "a2", &gzip, tone(420.0), true)
        .await
        .expect("replace elsewhere");

    let (stt_ref, id_ref) = (&stt, &id);
    restored(
        &api,
        "audio",
        &admin,
        "train_acoustic_model",
        2,
        || async move {
            let Ok(list) = stt_ref.list_audio(id_ref).await else {
                return false;
            };
            let seconds = |name: &str| {
                list.audio
                    .iter()
                    .find(|a| a.name == name)
                    .and_then(|a| a.duration)
                    .map(|d| d.round() as i64)
            };
            seconds("a1") == Some(600) && seconds("a2") == Some(300)
        },
    )
    .await;
    assert_eq!(count(&admin, &id, "add_audio", 0).await, 2 + 1 + 2);
}

async fn voice_words(tts: &TtsClient, id: &str) -> Vec<(String, String)> {
    let mut words: Vec<_> = tts
        .list_words(id)
        .await
        .map(|w| w.words)
        .unwrap_or_default()
        .into_iter()
        .map(|w| (w.word, w.translation))
        .collect();
    words.sort();
    words
}

const VOICE_WORDS: [(&str, &str); 2] = [("IEEE", "I triple E"), ("WSO", "W S O")];

fn voice_spec() -> serde_json::Value {
    let words: Vec<_> = VOICE_WORDS
        .iter()
        .map(|(w, t)| json!({"word": w, "translation": t}))
        .collect();
    json!({"words": words})
}

fn voice_want() -> Vec<(String, String)> {
    VOICE_WORDS
        .iter()
        .map(|(w, t)| (w.to_string(), t.to_string()))
        .collect()
}

/// Voice words: one deleted and one changed elsewhere are added again.
#[tokio::test]
async fn voice_model_words_deleted_or_changed_elsewhere_are_restored() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-voice").await else {
        return;
    };
    let tts = tts_client(&base);
    let api: Api<CustomVoiceModel> = ns.api();
    apply(&api, &voice_model("voice", voice_spec())).await;
    let id = id_of(&wait_for(&api, "voice", "Available", 90, available).await);
    assert_eq!(voice_words(&tts, &id).await, voice_want());

    tts.delete_word(&id, "IEEE")
        .await
        .expect("delete elsewhere");
    let other = Translation {
        translation: "wizzo".into(),
        part_of_speech: None,
    };
    tts.add_word(&id, "WSO", &other)
        .await
        .expect("change elsewhere");

    let (tts_ref, id_ref, api_ref) = (&tts, &id, &api);
    support::eventually(
        "the voice words restored",
        Duration::from_secs(90),
        || async move {
            let m = api_ref.get("voice").await.ok()?;
            (available(&m) && voice_words(tts_ref, id_ref).await == voice_want()).then_some(())
        },
    )
    .await;
    assert_eq!(count(&admin, &id, "add_voice_words", 0).await, 2);
}

/// Issue 29: `drift-interval` sets one model's interval, floored by the operator's minimum
/// (30 s by default, above this operator's 3 s); `reconcile-requested-at` makes a model look at
/// once, reads everything, and is echoed into status. Counted: a word deleted elsewhere on three
/// voice models is restored on the one with the operator's interval while the one with `1h`
/// and the one with `1s` (raised to 30 s) have made no call yet; a request then restores the
/// first at once, with one read of its words.
#[tokio::test]
async fn drift_interval_and_reconcile_request_annotations() {
    let Some((ns, admin, base)) = operator::setup(OPTIONS, "drift-annotations").await else {
        return;
    };
    let tts = tts_client(&base);
    let api: Api<CustomVoiceModel> = ns.api();
    let with_interval = |name: &str, interval: Option<&str>| {
        let mut m = voice_model(name, voice_spec());
        if let Some(i) = interval {
            m.annotations_mut().insert(
                watson_speech_operator::crd::DRIFT_INTERVAL.to_string(),
                i.to_string(),
            );
        }
        m
    };
    for (name, interval) in [
        ("hourly", Some("1h")),
        ("floored", Some("1s")),
        ("default", None),
    ] {
        apply(&api, &with_interval(name, interval)).await;
    }
    let mut ids = Vec::new();
    for name in ["hourly", "floored", "default"] {
        ids.push(id_of(
            &wait_for(&api, name, "Available", 90, available).await,
        ));
    }
    let edited = admin.requests(0).await.expect("log").next_seq;
    for id in &ids {
        tts.delete_word(id, "IEEE").await.expect("delete elsewhere");
    }
    let (hourly, floored, default) = (&ids[0], &ids[1], &ids[2]);
    let tts_ref = &tts;
    support::eventually(
        "the default model restored",
        Duration::from_secs(60),
        || async move { (voice_words(tts_ref, default).await == voice_want()).then_some(()) },
    )
    .await;
    assert_eq!(count(&admin, default, "add_voice_words", edited).await, 1);
    for id in [hourly, floored] {
        assert_eq!(
            count(&admin, id, "add_voice_words", edited).await,
            0,
            "{id}"
        );
        assert_eq!(
            count(&admin, id, "get_voice_model", edited).await,
            0,
            "{id}"
        );
        assert_eq!(
            voice_words(&tts, id).await.len(),
            1,
            "{id} not restored yet"
        );
    }

    // A request: the hourly model looks now, reads its words once, restores, echoes the token.
    let mark = admin.requests(0).await.expect("log").next_seq;
    let token = json!({"metadata": {"annotations": {
        watson_speech_operator::crd::RECONCILE_REQUESTED_AT: "2026-12-07T12:00:00Z"}}});
    api.patch("hourly", &PatchParams::default(), &Patch::Merge(&token))
        .await
        .expect("request");
    wait_for(&api, "hourly", "the request echoed", 60, |m| {
        m.model().and_then(|s| s.reconcile_request_token.as_deref()) == Some("2026-12-07T12:00:00Z")
    })
    .await;
    support::eventually(
        "the hourly model restored",
        Duration::from_secs(60),
        || async move { (voice_words(tts_ref, hourly).await == voice_want()).then_some(()) },
    )
    .await;
    assert_eq!(count(&admin, hourly, "add_voice_words", mark).await, 1);
    let reads = count(&admin, hourly, "get_voice_model", mark).await;
    assert!((1..=2).contains(&reads), "{reads} reads of the model");
}

/// Issue 25 (point 4): a model missing from the service's listing (the simulator leaves this
/// test's models out of every listing, as a partial listing during an IBM incident would) is
/// confirmed by a GET of its own ID before anything is re-created: nothing is.
#[tokio::test]
async fn a_model_missing_from_a_listing_is_looked_up_by_its_id_and_not_recreated() {
    use watson_speech_operator::simulator::api::Faults;
    let Some((ns, admin, _)) = operator::setup(OPTIONS, "drift-hidden").await else {
        return;
    };
    let api: Api<CustomLanguageModel> = ns.api();
    let spec = json!({"words": [{"word": "tomato", "soundsLike": ["tomahto"]}]});
    apply(&api, &language_model("hidden", spec)).await;
    let id = id_of(&wait_for(&api, "hidden", "Available", 90, available).await);
    let mark = admin.requests(0).await.expect("log").next_seq;
    let prefix = format!("{}-", ns.name);
    admin
        .set_faults(&Faults {
            hidden_from_listings: vec![prefix.clone()],
            ..Default::default()
        })
        .await
        .expect("hide");
    // Checks at the drift interval (3 s) look the model up by its ID, several times.
    let (admin_ref, id_ref) = (&admin, &id);
    support::eventually(
        "three lookups by ID",
        Duration::from_secs(60),
        || async move {
            (count(admin_ref, id_ref, "get_language_model", mark).await >= 3).then_some(())
        },
    )
    .await;
    admin.set_faults(&Faults::default()).await.expect("clear");
    let creates = admin
        .requests(0)
        .await
        .expect("log")
        .requests
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("create_language_model") && r.status < 300)
        .filter(|r| {
            r.model_name
                .as_deref()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .count();
    assert_eq!(creates, 1, "nothing re-created");
    let m = api.get("hidden").await.expect("model");
    assert_eq!(id_of(&m), id, "the same model");
    assert!(available(&m), "still Available");
}
