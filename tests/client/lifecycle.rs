//! End-to-end lifecycles against the in-process simulator: a custom language model with corpus,
//! words and grammar; an acoustic model with audio and an archive trained with its language
//! model; a TTS model with words; customer data deletion.

use crate::sim;

use std::time::Duration;

use sim::{start_sim, stt, tts, wait_for, wav, zip};
use watson_speech_operator::errors::Classified;
use watson_speech_operator::watson::stt_types::*;
use watson_speech_operator::watson::tts_types::*;
use watson_speech_operator::watson::{Error, SttClient};

const LIMIT: Duration = Duration::from_secs(30);
const SCALE: f64 = 0.001;
const BROADBAND: &str = "en-US_BroadbandModel";

async fn lm_status(stt: &SttClient, id: &str, want: ModelStatus) -> LanguageModel {
    wait_for(&format!("language model {want}"), LIMIT, || async {
        let m = stt.get_language_model(id).await.expect("get model");
        (m.status.as_ref() == Some(&want)).then_some(m)
    })
    .await
}

async fn am_status(stt: &SttClient, id: &str, want: ModelStatus) -> AcousticModel {
    wait_for(&format!("acoustic model {want}"), LIMIT, || async {
        let m = stt.get_acoustic_model(id).await.expect("get model");
        (m.status.as_ref() == Some(&want)).then_some(m)
    })
    .await
}

/// Retries a call while the model is busy (409), as a reconciler would.
async fn when_idle<T, F, Fut>(what: &str, mut call: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = std::time::Instant::now();
    loop {
        match call().await {
            Err(Error::Busy(_)) if start.elapsed() < LIMIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(Error::Busy(_)) => panic!("{what}: still busy"),
            other => return other,
        }
    }
}

const ABNF: &str =
    "#ABNF 1.0 ISO-8859-1;\nlanguage en-US;\nmode voice;\nroot $yesno;\n$yesno = yes | no ;\n";

#[tokio::test]
async fn language_model_lifecycle() {
    let sim = start_sim(SCALE).await;
    let stt = stt(&sim);

    let models = stt.list_models().await.expect("list models");
    assert!(models.models.iter().any(|m| m.name == BROADBAND));
    let base = stt.get_model(BROADBAND).await.expect("get model");
    assert_eq!(
        base.supported_features
            .and_then(|f| f.custom_language_model),
        Some(true)
    );

    let id = stt
        .create_language_model(&CreateLanguageModel {
            name: "lifecycle".into(),
            base_model_name: BROADBAND.into(),
            dialect: None,
            description: Some("client test".into()),
        })
        .await
        .expect("create")
        .customization_id;
    let model = stt.get_language_model(&id).await.expect("get");
    assert_eq!(model.status, Some(ModelStatus::Pending));
    assert_eq!(model.base_model_name.as_deref(), Some(BROADBAND));
    assert_eq!(model.versions.len(), 1);
    let listed = stt.list_language_models(Some("en-US")).await.expect("list");
    assert!(
        listed
            .customizations
            .iter()
            .any(|m| m.customization_id == id)
    );
    let other = stt.list_language_models(Some("fr-FR")).await.expect("list");
    assert!(
        !other
            .customizations
            .iter()
            .any(|m| m.customization_id == id)
    );

    // Corpus.
    stt.add_corpus(
        &id,
        "corpus1",
        "the quick brown fox jumps over the lazy dog\nwatsonic speech\n",
        false,
    )
    .await
    .expect("add corpus");
    wait_for("corpus analyzed", LIMIT, || async {
        let c = stt.get_corpus(&id, "corpus1").await.expect("get corpus");
        (c.status == Some(ResourceStatus::Analyzed)).then_some(c)
    })
    .await;
    assert_eq!(
        stt.list_corpora(&id).await.expect("corpora").corpora.len(),
        1
    );

    // Words.
    let batch = [
        CustomWord {
            word: "IEEE".into(),
            definition: WordDefinition {
                sounds_like: Some(vec!["I. triple E.".into()]),
                display_as: Some("IEEE".into()),
                mapping_only: None,
            },
        },
        CustomWord {
            word: "tomato".into(),
            definition: WordDefinition {
                sounds_like: Some(vec!["tuh may toe".into(), "tuh mah toe".into()]),
                ..Default::default()
            },
        },
    ];
    when_idle("add words", || stt.add_words(&id, &batch))
        .await
        .expect("add words");
    let ncaa = WordDefinition {
        sounds_like: Some(vec!["N. C. A. A.".into(), "N. C. double A.".into()]),
        display_as: Some("NCAA".into()),
        mapping_only: None,
    };
    when_idle("put word", || stt.add_word(&id, "NCAA", &ncaa))
        .await
        .expect("put word");
    let word = wait_for("word listed", LIMIT, || async {
        stt.get_word(&id, "tomato").await.ok()
    })
    .await;
    assert_eq!(word.sounds_like.len(), 2);
    let user_words = stt
        .list_words(
            &id,
            ListWords {
                word_type: Some(WordType::User),
                sort: Some(WordSort::CountAscending),
            },
        )
        .await
        .expect("list words");
    let names: Vec<_> = user_words.words.iter().map(|w| w.word.as_str()).collect();
    for w in ["IEEE", "NCAA", "tomato"] {
        assert!(names.contains(&w), "{names:?}");
    }

    // Grammar.
    when_idle("add grammar", || {
        stt.add_grammar(&id, "yesno", GrammarFormat::Abnf, ABNF, false)
    })
    .await
    .expect("add grammar");
    wait_for("grammar analyzed", LIMIT, || async {
        let g = stt.get_grammar(&id, "yesno").await.expect("get grammar");
        (g.status == Some(ResourceStatus::Analyzed)).then_some(g)
    })
    .await;
    assert_eq!(
        stt.list_grammars(&id)
            .await
            .expect("grammars")
            .grammars
            .len(),
        1
    );

    // Train.
    lm_status(&stt, &id, ModelStatus::Ready).await;
    stt.train_language_model(&id, &TrainLanguageModel::default())
        .await
        .expect("train");
    let trained = lm_status(&stt, &id, ModelStatus::Available).await;
    assert_eq!(trained.progress, Some(100));

    // Retrain without changes is refused; force bypasses it.
    let e = stt
        .train_language_model(&id, &TrainLanguageModel::default())
        .await
        .expect_err("nothing changed");
    assert!(e.is_no_input_modified(), "{e:?}");
    assert_eq!(e.category(), "InvalidRequest");
    lm_status(&stt, &id, ModelStatus::Available).await;
    let forced = TrainLanguageModel {
        force: Some(true),
        customization_weight: Some(0.4),
        ..Default::default()
    };
    when_idle("forced train", || stt.train_language_model(&id, &forced))
        .await
        .expect("forced train");
    lm_status(&stt, &id, ModelStatus::Available).await;

    // Upgrade after a new base version.
    sim.admin()
        .publish_base_version(BROADBAND, None)
        .await
        .expect("publish");
    when_idle("upgrade", || stt.upgrade_language_model(&id))
        .await
        .expect("upgrade");
    let upgraded = wait_for("upgrade done", LIMIT, || async {
        let m = stt.get_language_model(&id).await.expect("get");
        (m.versions.len() == 2 && m.status == Some(ModelStatus::Available)).then_some(m)
    })
    .await;
    assert_eq!(upgraded.versions.len(), 2);

    // Delete resources.
    when_idle("delete word", || stt.delete_word(&id, "IEEE"))
        .await
        .expect("delete word");
    assert!(stt.get_word(&id, "IEEE").await.is_err());
    when_idle("delete grammar", || stt.delete_grammar(&id, "yesno"))
        .await
        .expect("delete grammar");
    when_idle("delete corpus", || stt.delete_corpus(&id, "corpus1"))
        .await
        .expect("delete corpus");
    let e = when_idle("delete missing corpus", || {
        stt.delete_corpus(&id, "corpus1")
    })
    .await
    .expect_err("missing corpus");
    assert_eq!(e.status(), Some(400));

    // Reset, then delete.
    when_idle("reset", || stt.reset_language_model(&id))
        .await
        .expect("reset");
    lm_status(&stt, &id, ModelStatus::Pending).await;
    assert!(
        stt.list_corpora(&id)
            .await
            .expect("corpora")
            .corpora
            .is_empty()
    );
    assert!(
        stt.list_grammars(&id)
            .await
            .expect("grammars")
            .grammars
            .is_empty()
    );
    when_idle("delete", || stt.delete_language_model(&id))
        .await
        .expect("delete");
    let e = stt.get_language_model(&id).await.expect_err("gone");
    assert!(matches!(e, Error::NotFoundOrForbidden(_)), "{e:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn acoustic_model_lifecycle_with_language_model() {
    let sim = start_sim(SCALE).await;
    let stt = stt(&sim);

    // The helper language model.
    let lm = stt
        .create_language_model(&CreateLanguageModel {
            name: "helper".into(),
            base_model_name: BROADBAND.into(),
            ..Default::default()
        })
        .await
        .expect("create lm")
        .customization_id;
    stt.add_corpus(
        &lm,
        "transcripts",
        "hello acoustic world\nspeech to text\n",
        false,
    )
    .await
    .expect("corpus");
    lm_status(&stt, &lm, ModelStatus::Ready).await;
    stt.train_language_model(&lm, &TrainLanguageModel::default())
        .await
        .expect("train lm");
    lm_status(&stt, &lm, ModelStatus::Available).await;

    let am = stt
        .create_acoustic_model(&CreateAcousticModel {
            name: "acoustic".into(),
            base_model_name: BROADBAND.into(),
            description: None,
        })
        .await
        .expect("create am")
        .customization_id;
    assert_eq!(
        stt.get_acoustic_model(&am).await.expect("get").status,
        Some(ModelStatus::Pending)
    );

    // One audio file and one zip archive: 6 + 2 × 3 minutes.
    stt.add_audio(&am, "single", &AudioFormat::wav(), wav(16000, 360.0), false)
        .await
        .expect("add audio");
    let archive = zip(&[("a.wav", wav(16000, 180.0)), ("b.wav", wav(16000, 180.0))]);
    stt.add_audio(
        &am,
        "archive",
        &AudioFormat::Zip {
            contained_content_type: Some("audio/wav".into()),
        },
        archive,
        true,
    )
    .await
    .expect("add archive");

    let single = wait_for("audio ok", LIMIT, || async {
        let a = stt.get_audio(&am, "single").await.expect("get audio");
        (a.status() == Some(&AudioStatus::Ok)).then_some(a)
    })
    .await;
    match &single {
        AudioListing::Audio(a) => {
            assert_eq!(a.name, "single");
            assert_eq!(a.details.as_ref().and_then(|d| d.frequency), Some(16000));
        }
        other => panic!("expected a single audio listing: {other:?}"),
    }
    let archive = wait_for("archive ok", LIMIT, || async {
        let a = stt.get_audio(&am, "archive").await.expect("get archive");
        (a.status() == Some(&AudioStatus::Ok)).then_some(a)
    })
    .await;
    match &archive {
        AudioListing::Archive { container, audio } => {
            assert_eq!(container.name, "archive");
            assert_eq!(audio.len(), 2);
        }
        other => panic!("expected an archive listing: {other:?}"),
    }
    let listing = stt.list_audio(&am).await.expect("list audio");
    assert_eq!(listing.audio.len(), 2);
    let minutes = listing.total_minutes_of_audio.expect("total");
    assert!((minutes - 12.0).abs() < 0.1, "{minutes}");

    // Train with the language model.
    am_status(&stt, &am, ModelStatus::Ready).await;
    let train = TrainAcousticModel {
        custom_language_model_id: Some(lm.clone()),
        strict: Some(true),
    };
    let response = when_idle("train am", || stt.train_acoustic_model(&am, &train))
        .await
        .expect("train am");
    assert!(response.warnings.is_empty());
    am_status(&stt, &am, ModelStatus::Available).await;

    // Upgrade: the language model first, then the acoustic model (400, then force).
    sim.admin()
        .publish_base_version(BROADBAND, None)
        .await
        .expect("publish");
    when_idle("upgrade lm", || stt.upgrade_language_model(&lm))
        .await
        .expect("upgrade lm");
    wait_for("lm upgraded", LIMIT, || async {
        let m = stt.get_language_model(&lm).await.expect("get");
        (m.versions.len() == 2 && m.status == Some(ModelStatus::Available)).then_some(())
    })
    .await;
    let with_lm = UpgradeAcousticModel {
        custom_language_model_id: Some(lm.clone()),
        force: None,
    };
    let e = when_idle("upgrade am", || stt.upgrade_acoustic_model(&am, &with_lm))
        .await
        .expect_err("nothing changed");
    assert!(e.is_no_input_modified(), "{e:?}");
    let forced = UpgradeAcousticModel {
        force: Some(true),
        ..with_lm.clone()
    };
    when_idle("forced upgrade am", || {
        stt.upgrade_acoustic_model(&am, &forced)
    })
    .await
    .expect("forced upgrade");
    wait_for("am upgraded", LIMIT, || async {
        let m = stt.get_acoustic_model(&am).await.expect("get");
        (m.versions.len() == 2 && m.status == Some(ModelStatus::Available)).then_some(())
    })
    .await;

    // Clean up.
    when_idle("delete audio", || stt.delete_audio(&am, "archive"))
        .await
        .expect("delete audio");
    assert_eq!(stt.list_audio(&am).await.expect("list").audio.len(), 1);
    when_idle("reset am", || stt.reset_acoustic_model(&am))
        .await
        .expect("reset am");
    when_idle("delete am", || stt.delete_acoustic_model(&am))
        .await
        .expect("delete am");
    when_idle("delete lm", || stt.delete_language_model(&lm))
        .await
        .expect("delete lm");
    assert!(
        stt.get_acoustic_model(&am)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn voice_model_lifecycle() {
    let sim = start_sim(SCALE).await;
    let tts = tts(&sim);
    let id = tts
        .create_custom_model(&CreateVoiceModel {
            name: "voice".into(),
            language: None,
            description: Some("client test".into()),
        })
        .await
        .expect("create")
        .customization_id;
    let model = tts.get_custom_model(&id).await.expect("get");
    assert_eq!(model.language.as_deref(), Some("en-US"));
    assert!(model.words.is_empty());
    assert!(
        tts.list_custom_models(Some("en-US"))
            .await
            .expect("list")
            .customizations
            .iter()
            .any(|m| m.customization_id == id)
    );

    tts.update_custom_model(
        &id,
        &UpdateVoiceModel {
            name: Some("renamed".into()),
            description: None,
            words: vec![VoiceWord {
                word: "NCAA".into(),
                translation: "N C double A".into(),
                part_of_speech: None,
            }],
        },
    )
    .await
    .expect("update");
    tts.add_words(
        &id,
        &[
            VoiceWord {
                word: "IEEE".into(),
                translation: "I triple E".into(),
                part_of_speech: None,
            },
            VoiceWord {
                word: "IBM".into(),
                translation: "<phoneme alphabet=\"ibm\" ph=\"1Y.bi.1Em\"></phoneme>".into(),
                part_of_speech: None,
            },
        ],
    )
    .await
    .expect("add words");
    tts.add_word(
        &id,
        "ACLs",
        &Translation {
            translation: "ackles".into(),
            part_of_speech: None,
        },
    )
    .await
    .expect("put word");
    assert_eq!(
        tts.get_word(&id, "IEEE")
            .await
            .expect("get word")
            .translation,
        "I triple E"
    );
    let words = tts.list_words(&id).await.expect("list words").words;
    assert_eq!(words.len(), 4);
    let model = tts.get_custom_model(&id).await.expect("get");
    assert_eq!(model.name.as_deref(), Some("renamed"));
    assert_eq!(model.words.len(), 4);

    tts.delete_word(&id, "IEEE").await.expect("delete word");
    let e = tts.get_word(&id, "IEEE").await.expect_err("gone");
    assert_eq!(e.category(), "InvalidRequest");
    tts.delete_custom_model(&id).await.expect("delete");
    let e = tts.get_custom_model(&id).await.expect_err("gone");
    assert!(matches!(e, Error::NotFoundOrForbidden(_)), "{e:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn customer_data_is_labelled_and_deleted() {
    let sim = start_sim(SCALE).await;
    let mut config = sim::config(&sim, &sim.stt_url(), sim::API_KEY);
    config.customer_id = Some("tenant-42".into());
    let stt = SttClient::new(config).expect("client");
    let id = stt
        .create_language_model(&CreateLanguageModel {
            name: "labelled".into(),
            base_model_name: "en-US_Telephony".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .customization_id;
    stt.add_corpus(&id, "tenant-corpus", "private words here\n", false)
        .await
        .expect("corpus");
    wait_for("corpus analyzed", LIMIT, || async {
        let c = stt.get_corpus(&id, "tenant-corpus").await.expect("corpus");
        (c.status == Some(ResourceStatus::Analyzed)).then_some(())
    })
    .await;
    stt.delete_user_data("tenant-42")
        .await
        .expect("delete user data");
    assert!(
        stt.list_corpora(&id)
            .await
            .expect("corpora")
            .corpora
            .is_empty()
    );
    // Nothing labelled: still a success.
    stt.delete_user_data("nobody").await.expect("no-op");
    sim.shutdown().await;
}
