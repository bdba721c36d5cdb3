//! `SttClient::recognize` against the simulator's model of recognition (issue 28): the base
//! model mishears out-of-vocabulary words, a trained custom model hears its corpus and custom
//! words, an older version of an upgraded model stays usable through `base_model_version`, a
//! version marked worse loses words, and IBM's refusals arrive as the client's error
//! categories.

use crate::sim;

use std::time::Duration;

use sim::{start_sim, stt, wait_for};
use watson_speech_operator::errors::Classified;
use watson_speech_operator::simulator::recognize::{misheard, wav_saying};
use watson_speech_operator::watson::stt_types::*;
use watson_speech_operator::watson::{Bytes, Error, SttClient};

const LIMIT: Duration = Duration::from_secs(30);
const SCALE: f64 = 0.001;
const TELEPHONY: &str = "en-US_Telephony";
const SAID: &str = "Call the doctor about ibuprofen and paracetamol.";

async fn status_is(stt: &SttClient, id: &str, want: ModelStatus) {
    wait_for(&format!("language model {want}"), LIMIT, || async {
        let m = stt.get_language_model(id).await.expect("get model");
        (m.status.as_ref() == Some(&want)).then_some(())
    })
    .await
}

fn params(model: &str, custom: Option<&str>) -> RecognizeParams {
    RecognizeParams {
        model: Some(model.to_owned()),
        language_customization_id: custom.map(str::to_owned),
        ..RecognizeParams::default()
    }
}

async fn heard(stt: &SttClient, p: &RecognizeParams) -> String {
    stt.recognize(p, "audio/wav", Bytes::from(wav_saying(SAID, 16_000)))
        .await
        .expect("recognize")
        .transcript()
}

#[tokio::test]
async fn recognition_hears_what_the_trained_custom_model_knows() {
    let sim = start_sim(SCALE).await;
    let stt = stt(&sim);
    let base_only = format!(
        "call the doctor about {} and {}",
        misheard("ibuprofen"),
        misheard("paracetamol")
    );
    let answer = stt
        .recognize(
            &params(TELEPHONY, None),
            "audio/wav",
            Bytes::from(wav_saying(SAID, 16_000)),
        )
        .await
        .expect("recognize");
    assert_eq!(answer.transcript(), base_only);
    assert_eq!(answer.result_index, Some(0));
    assert!(answer.results[0].is_final);
    assert_eq!(answer.results[0].alternatives[0].confidence, Some(0.714));

    let id = stt
        .create_language_model(&CreateLanguageModel {
            name: "recognition".into(),
            base_model_name: TELEPHONY.into(),
            dialect: None,
            description: None,
        })
        .await
        .expect("create")
        .customization_id;
    stt.add_corpus(
        &id,
        "drugs",
        Bytes::from_static(b"Take ibuprofen with water."),
        false,
    )
    .await
    .expect("add corpus");
    status_is(&stt, &id, ModelStatus::Ready).await;
    // Not trained yet: IBM's 400, an invalid request.
    let untrained = stt
        .recognize(
            &params(TELEPHONY, Some(&id)),
            "audio/wav",
            Bytes::from(wav_saying(SAID, 16_000)),
        )
        .await
        .expect_err("untrained");
    assert!(
        matches!(&untrained, Error::InvalidRequest(c) if c.message.contains("not available")),
        "{untrained:?}"
    );

    stt.train_language_model(&id, &TrainLanguageModel::default())
        .await
        .expect("train");
    status_is(&stt, &id, ModelStatus::Available).await;
    // The corpus taught "ibuprofen"; "paracetamol" is still misheard.
    let custom = params(TELEPHONY, Some(&id));
    let after = format!(
        "call the doctor about ibuprofen and {}",
        misheard("paracetamol")
    );
    assert_eq!(heard(&stt, &custom).await, after);
    // Weight 0: the custom model is not used.
    let off = RecognizeParams {
        customization_weight: Some(0.0),
        ..custom.clone()
    };
    assert_eq!(heard(&stt, &off).await, base_only);

    // A word added after the training is not heard until the next training.
    stt.add_word(&id, "paracetamol", &WordDefinition::default())
        .await
        .expect("add word");
    status_is(&stt, &id, ModelStatus::Ready).await;
    assert_eq!(heard(&stt, &custom).await, after);
    stt.train_language_model(&id, &TrainLanguageModel::default())
        .await
        .expect("train again");
    status_is(&stt, &id, ModelStatus::Available).await;
    assert_eq!(
        heard(&stt, &custom).await,
        "call the doctor about ibuprofen and paracetamol"
    );

    // An upgrade to a version marked worse loses every third word; the older version stays
    // usable through base_model_version and hears as before.
    let admin = sim.admin();
    let before = stt.get_language_model(&id).await.expect("get").versions;
    let newer = admin
        .publish_base_version(TELEPHONY, None)
        .await
        .expect("publish");
    admin
        .set_base_version_worse(TELEPHONY, &newer, true)
        .await
        .expect("mark worse");
    stt.upgrade_language_model(&id).await.expect("upgrade");
    status_is(&stt, &id, ModelStatus::Available).await;
    let worse = heard(&stt, &custom).await;
    assert_eq!(worse, "call the about ibuprofen paracetamol");
    let old = RecognizeParams {
        base_model_version: before.last().cloned(),
        ..custom.clone()
    };
    assert_eq!(
        heard(&stt, &old).await,
        "call the doctor about ibuprofen and paracetamol"
    );
    // A model marked worse loses words on every version.
    admin.set_model_worse(&id, true).await.expect("model worse");
    assert_eq!(
        heard(&stt, &old).await,
        "call the about ibuprofen paracetamol"
    );

    let counters = admin.counters().await.expect("counters");
    assert_eq!(
        counters.get(watson_speech_operator::watson::Operation::Recognize, 200),
        8
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn recognition_refusals_arrive_as_error_categories() {
    let sim = start_sim(SCALE).await;
    let stt = stt(&sim);
    let wav = || Bytes::from(wav_saying(SAID, 16_000));
    let cases: Vec<(&str, RecognizeParams, &str, Bytes, &str)> = vec![
        (
            "unknown base model",
            params("xx-XX_Nothing", None),
            "audio/wav",
            wav(),
            "NotFound",
        ),
        (
            "unknown custom model",
            params(TELEPHONY, Some("4b9d4a0e-0000-4000-8000-000000000000")),
            "audio/wav",
            wav(),
            "NotFoundOrForbidden",
        ),
        (
            "weight out of range",
            RecognizeParams {
                customization_weight: Some(1.5),
                ..params(TELEPHONY, None)
            },
            "audio/wav",
            wav(),
            "InvalidRequest",
        ),
        (
            "version the base does not have",
            RecognizeParams {
                base_model_version: Some("en-US_Telephony.v1999-01-01".into()),
                ..params(TELEPHONY, None)
            },
            "audio/wav",
            wav(),
            "InvalidRequest",
        ),
        (
            "too little audio",
            params(TELEPHONY, None),
            "audio/wav",
            Bytes::from_static(b"RIFF"),
            "InvalidRequest",
        ),
        (
            "not audio",
            params(TELEPHONY, None),
            "audio/wav",
            Bytes::from(vec![b'x'; 400]),
            "InvalidRequest",
        ),
    ];
    for (what, p, content_type, audio, category) in cases {
        let e = stt
            .recognize(&p, content_type, audio)
            .await
            .expect_err(what);
        assert_eq!(e.category(), category, "{what}: {e}");
    }
    // Audio that says nothing: no result.
    let silent = stt
        .recognize(
            &params(TELEPHONY, None),
            "audio/wav",
            Bytes::from(sim::wav(16_000, 1.0)),
        )
        .await
        .expect("silence");
    assert!(silent.results.is_empty());
    assert_eq!(silent.transcript(), "");
    sim.shutdown().await;
}

/// `watson-speech-operator evaluate` against the simulator: the same measurement as the
/// operator's, from a test-set directory as `watson-speech-operator test-set` writes it (8 kHz
/// audio, a reference with a comma quoted in the manifest).
#[tokio::test]
async fn evaluate_prints_the_wer_of_a_test_set_directory() {
    let sim = start_sim(SCALE).await;
    let dir = tempfile::tempdir().expect("dir");
    let set = watson_speech_operator::simulator::testset::TestSet::from_lines(
        "Call the doctor about ibuprofen.\nPlease give me some paracetamol, with water.\n",
    )
    .expect("test set");
    set.write(dir.path(), "pharmacy", None).expect("written");
    assert!(
        std::fs::read_to_string(dir.path().join("manifest.csv"))
            .expect("manifest")
            .contains("item-002.wav,\"Please give me some paracetamol, with water.\"")
    );
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{}\n", sim::API_KEY)).expect("key");
    let args = watson_speech_operator::evaluate::EvaluateArgs {
        url: sim.stt_url(),
        apikey_env: None,
        apikey_file: Some(key),
        iam_url: sim.iam_url(),
        model: TELEPHONY.into(),
        customization_id: None,
        base_model_version: None,
        customization_weight: None,
        content_type: "audio/wav".into(),
        test_set: dir.path().to_path_buf(),
    };
    let rows = watson_speech_operator::evaluate::measure(&args)
        .await
        .expect("measure");
    let total = rows.iter().fold(
        watson_speech_operator::decision::wer::Score::default(),
        |t, r| t.plus(r.score),
    );
    assert_eq!((total.items, total.words, total.errors), (2, 12, 2));
    let table = watson_speech_operator::evaluate::run(&args)
        .await
        .expect("run");
    assert!(
        table.lines().last().is_some_and(|l| l.contains("16.67%")),
        "{table}"
    );
    // A model that does not exist: the service's refusal, as the client classifies it.
    let missing = watson_speech_operator::evaluate::EvaluateArgs {
        customization_id: Some("4b9d4a0e-0000-4000-8000-000000000000".into()),
        ..args
    };
    let e = watson_speech_operator::evaluate::run(&missing)
        .await
        .expect_err("unknown model");
    assert_eq!(e.category(), "NotFoundOrForbidden", "{e}");
    sim.shutdown().await;
}
