//! State-machine tests on a manual clock, one or more per behaviour of fact sheet §13.4
//! (numbered in the test names), plus the acoustic-model and cap rules of §5 and §4.2.

use std::time::Duration;

use serde_json::Value;

use super::acoustic::prepare_audio;
use super::language::{ModelStatus, TrainParams};
use super::voice::{CreateVoiceModel, UpdateVoiceModel, WordDef};
use super::words::{CustomWord, WordSort, WordType};
use super::*;
use crate::audio::tone_wav;
use crate::clock::{Clock, ManualClock};

const CAP: usize = 1024;

struct World {
    st: State,
    clock: ManualClock,
}

impl World {
    fn new() -> Self {
        World {
            st: State::new("owner-guid".to_owned()),
            clock: ManualClock::default(),
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            now: self.clock.now_ms(),
            time_scale: 1.0,
        }
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    fn lm_on(&mut self, base: &str) -> String {
        let ctx = self.ctx();
        self.st
            .create_language_model(ctx, &create(base), CAP)
            .expect("create LM")
    }

    fn lm(&mut self) -> String {
        self.lm_on("en-US_BroadbandModel")
    }

    fn model(&mut self, id: &str) -> &mut LanguageModel {
        let now = self.now();
        self.st.lm(id, now).expect("model exists")
    }

    fn status(&mut self, id: &str) -> ModelStatus {
        self.model(id).status()
    }

    fn json(&mut self, id: &str) -> Value {
        self.model(id).to_json()
    }

    fn corpus(&mut self, id: &str, name: &str, text: &str) -> Result<(), SimError> {
        let ctx = self.ctx();
        let now = ctx.now;
        self.st
            .lm(id, now)?
            .add_corpus(ctx, name, text.as_bytes(), false, None)
    }

    fn train(&mut self, id: &str, params: TrainParams) -> Result<Value, SimError> {
        let ctx = self.ctx();
        self.st.train_language_model(ctx, id, &params)
    }

    /// An LM with one analysed corpus, status `ready`.
    fn ready_lm(&mut self) -> String {
        let id = self.lm();
        self.corpus(id.as_str(), "c1", "the Watson speech service is great")
            .expect("corpus");
        self.advance(60);
        assert_eq!(self.status(&id), ModelStatus::Ready);
        id
    }

    /// An LM that has been trained, status `available`.
    fn available_lm(&mut self) -> String {
        let id = self.ready_lm();
        self.train(&id, TrainParams::default()).expect("train");
        self.advance(3600);
        assert_eq!(self.status(&id), ModelStatus::Available);
        id
    }

    fn am(&mut self) -> String {
        let ctx = self.ctx();
        self.st
            .create_acoustic_model(ctx, &create("en-US_BroadbandModel"), CAP)
            .expect("create AM")
    }

    fn audio(&mut self, id: &str, name: &str, rate: u32, seconds: f64) -> Result<(), SimError> {
        let wav = tone_wav(rate, seconds);
        let prepared = prepare_audio(name, Some("audio/wav"), None, &wav, 16000)?;
        let ctx = self.ctx();
        self.st
            .am(id, ctx.now)?
            .add_audio(ctx, prepared, false, None)
    }

    fn am_status(&mut self, id: &str) -> ModelStatus {
        let now = self.now();
        self.st.am(id, now).expect("am").status()
    }
}

fn create(base: &str) -> CreateModel {
    CreateModel {
        name: Some("Example model".to_owned()),
        base_model_name: Some(base.to_owned()),
        dialect: None,
        description: Some("Example custom model".to_owned()),
    }
}

fn word(w: &str, sounds_like: &[&str]) -> CustomWord {
    CustomWord {
        word: Some(w.to_owned()),
        sounds_like: Some(sounds_like.iter().map(|s| (*s).to_owned()).collect()),
        ..CustomWord::default()
    }
}

fn non_strict() -> TrainParams {
    TrainParams {
        strict: false,
        ..TrainParams::default()
    }
}

fn forced() -> TrainParams {
    TrainParams {
        force: true,
        ..TrainParams::default()
    }
}

// ---- 1, 7: creation ----

#[test]
fn b07_new_language_model_is_pending_with_one_version_and_created_equals_updated() {
    let mut w = World::new();
    let id = w.lm();
    let j = w.json(&id);
    assert_eq!(j["status"], "pending");
    assert_eq!(j["progress"], 0);
    assert_eq!(j["created"], j["updated"]);
    assert_eq!(
        j["versions"],
        serde_json::json!(["en-US_BroadbandModel.v2020-01-16"])
    );
    assert_eq!(j["owner"], "owner-guid");
    assert_eq!(j["language"], "en-US");
    assert_eq!(j["dialect"], "en-US");
    assert_eq!(j["base_model_name"], "en-US_BroadbandModel");
    assert!(j.get("error").is_none());
}

#[test]
fn b01_create_validates_name_description_base_model_and_dialect() {
    let mut w = World::new();
    let ctx = w.ctx();
    let mut bad = create("en-US_BroadbandModel");
    bad.name = Some("a/b".to_owned());
    assert_eq!(
        w.st.create_language_model(ctx, &bad, CAP)
            .map_err(|e| e.status()),
        Err(400)
    );
    bad.name = Some("x".repeat(257));
    assert!(w.st.create_language_model(ctx, &bad, CAP).is_err());
    bad.name = Some("x".repeat(256));
    bad.description = Some("d".repeat(129));
    assert!(w.st.create_language_model(ctx, &bad, CAP).is_err());
    assert!(
        w.st.create_language_model(ctx, &create("nope"), CAP)
            .is_err()
    );
    assert!(
        w.st.create_language_model(ctx, &create("zh-CN_BroadbandModel"), CAP)
            .is_err()
    );
    let mut es = create("es-MX_NarrowbandModel");
    es.dialect = Some("es-ES".to_owned());
    assert!(w.st.create_language_model(ctx, &es, CAP).is_err());
    es.dialect = Some("ES-us".to_owned());
    let id =
        w.st.create_language_model(ctx, &es, CAP)
            .expect("es-US is valid");
    assert_eq!(w.json(&id)["dialect"], "es-US");
}

#[test]
fn model_cap_applies_separately_to_language_and_acoustic_models() {
    let mut w = World::new();
    let ctx = w.ctx();
    for _ in 0..2 {
        w.st.create_language_model(ctx, &create("en-US_BroadbandModel"), 2)
            .expect("under cap");
    }
    let err =
        w.st.create_language_model(ctx, &create("en-US_BroadbandModel"), 2)
            .expect_err("cap");
    assert_eq!(err.status(), 400);
    w.st.create_acoustic_model(ctx, &create("en-US_BroadbandModel"), 2)
        .expect("AM cap is separate");
}

// ---- 2: unknown ids ----

#[test]
fn b02_unknown_ids_are_401_including_delete() {
    let mut w = World::new();
    let now = w.now();
    assert_eq!(
        w.st.lm("nope", now).map(|_| ()).map_err(|e| e.status()),
        Err(401)
    );
    assert_eq!(
        w.st.delete_language_model("nope", now)
            .map_err(|e| e.status()),
        Err(401)
    );
    assert_eq!(
        w.st.am("nope", now).map(|_| ()).map_err(|e| e.status()),
        Err(401)
    );
    assert_eq!(
        w.st.delete_acoustic_model("nope", now)
            .map_err(|e| e.status()),
        Err(401)
    );
    assert_eq!(
        w.st.voice("nope").map(|_| ()).map_err(|e| e.status()),
        Err(401)
    );
    let e = w.st.lm("nope", now).map(|_| ()).expect_err("401");
    assert_eq!(e.to_string(), "Invalid customization_id (nope) for user");
}

// ---- 3: missing corpus ----

#[test]
fn b03_deleting_a_missing_corpus_is_400() {
    let mut w = World::new();
    let id = w.lm();
    let now = w.now();
    let e = w
        .model(&id)
        .delete_corpus(now, "ghost")
        .expect_err("missing");
    assert_eq!(e.status(), 400);
    assert_eq!(
        w.model(&id).get_corpus("ghost").map_err(|e| e.status()),
        Err(400)
    );
}

// ---- 4: error shape ----

#[test]
fn b04_error_bodies_have_code_description_and_error() {
    use crate::http::errors::error_body;
    let b = error_body(409, "busy");
    assert_eq!(b["code"], 409);
    assert_eq!(b["code_description"], "Conflict");
    assert_eq!(b["error"], "busy");
    assert_eq!(error_body(404, "x")["code_description"], "No Such Resource");
}

// ---- 8, 9, 10: corpus analysis ----

#[test]
fn b08_b09_corpus_is_processed_asynchronously_and_shows_zero_counts_meanwhile() {
    let mut w = World::new();
    let id = w.lm();
    w.corpus(&id, "c1", "The Watson and Kubernetes world, the world")
        .expect("201");
    let c = w.model(&id).get_corpus("c1").expect("corpus");
    assert_eq!(c["status"], "being_processed");
    assert_eq!(c["total_words"], 0);
    assert_eq!(c["out_of_vocabulary_words"], 0);
    assert_eq!(w.status(&id), ModelStatus::Pending);
    w.advance(10);
    let c = w.model(&id).get_corpus("c1").expect("corpus");
    assert_eq!(c["status"], "analyzed");
    assert_eq!(c["total_words"], 7);
    // "the", "and", "world" are in the base vocabulary; Watson, Kubernetes are not.
    assert_eq!(c["out_of_vocabulary_words"], 2);
    assert_eq!(w.status(&id), ModelStatus::Ready);
}

#[test]
fn b08_undecodable_or_wordless_corpus_becomes_undetermined_with_the_documented_error() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = w.ctx();
    w.model(&id)
        .add_corpus(ctx, "bin", &[0xff, 0xfe, 0x00], false, None)
        .expect("accepted");
    w.advance(10);
    let c = w.model(&id).get_corpus("bin").expect("corpus");
    assert_eq!(c["status"], "undetermined");
    assert_eq!(
        c["error"],
        "Analysis of corpus 'bin' failed. Please try adding the corpus again by setting the 'allow_overwrite' flag to 'true'."
    );
    assert_eq!(w.status(&id), ModelStatus::Pending, "no valid data");
}

#[test]
fn b10_one_analysis_at_a_time_refuses_adds_and_train_with_409_but_allows_reads() {
    let mut w = World::new();
    let id = w.lm();
    w.corpus(&id, "c1", "some words here").expect("first");
    assert_eq!(
        w.corpus(&id, "c2", "more").map_err(|e| e.status()),
        Err(409)
    );
    let ctx = w.ctx();
    let g = w.model(&id).add_grammar(
        ctx,
        "g",
        Some("application/srgs"),
        b"$r = yes;",
        false,
        None,
    );
    assert_eq!(g.map_err(|e| e.status()), Err(409));
    assert_eq!(
        w.model(&id)
            .add_words(ctx, &[word("x", &[])], None)
            .map_err(|e| e.status()),
        Err(409)
    );
    assert_eq!(
        w.model(&id)
            .put_word(ctx.now, "x", &word("x", &[]), None)
            .map_err(|e| e.status()),
        Err(409)
    );
    assert_eq!(
        w.train(&id, TrainParams::default()).map_err(|e| e.status()),
        Err(409)
    );
    assert_eq!(
        w.model(&id).reset(ctx.now).map_err(|e| e.status()),
        Err(409)
    );
    assert_eq!(
        w.st.delete_language_model(&id, ctx.now)
            .map_err(|e| e.status()),
        Err(409)
    );
    assert!(w.model(&id).get_corpus("c1").is_ok());
    w.advance(10);
    w.corpus(&id, "c2", "more")
        .expect("after the first finished");
}

// ---- 11, 12, 13: training ----

#[test]
fn b13_training_goes_training_then_available_without_intermediate_progress() {
    let mut w = World::new();
    let id = w.ready_lm();
    let out = w.train(&id, TrainParams::default()).expect("train");
    assert_eq!(out, serde_json::json!({}));
    for _ in 0..5 {
        let j = w.json(&id);
        assert_eq!(j["status"], "training");
        assert_eq!(j["progress"], 0);
        w.advance(30);
    }
    w.advance(600);
    let j = w.json(&id);
    assert_eq!(j["status"], "available");
    assert_eq!(j["progress"], 100);
}

#[test]
fn b11_training_without_changes_is_400_unless_forced() {
    let mut w = World::new();
    let id = w.available_lm();
    let e = w
        .train(&id, TrainParams::default())
        .expect_err("nothing new");
    assert_eq!(
        e,
        SimError::BadRequest("No input data modified since last training".to_owned())
    );
    assert_eq!(
        w.status(&id),
        ModelStatus::Available,
        "the rejection does not fail the model"
    );
    w.train(&id, forced()).expect("force");
    assert_eq!(w.status(&id), ModelStatus::Training);
}

#[test]
fn training_an_empty_model_is_400() {
    let mut w = World::new();
    let id = w.lm();
    assert_eq!(
        w.train(&id, TrainParams::default()).map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(w.train(&id, forced()).map_err(|e| e.status()), Err(400));
    assert_eq!(w.status(&id), ModelStatus::Pending);
}

#[test]
fn b12_invalid_resources_fail_strict_training_and_warn_otherwise() {
    let mut w = World::new();
    let id = w.ready_lm();
    let ctx = w.ctx();
    w.model(&id)
        .add_words(ctx, &[word("IBM", &["75 dollars"])], None)
        .expect("stored with error");
    w.advance(10);
    let e = w.train(&id, TrainParams::default()).expect_err("strict");
    assert_eq!(e.status(), 400);
    assert_eq!(w.status(&id), ModelStatus::Failed);
    let out = w.train(&id, non_strict()).expect("non-strict");
    let warnings = out["warnings"].as_array().expect("warnings array");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["code"], "invalid_words");
    assert_eq!(
        warnings[0]["message"],
        "Analysis of the following words has not completed successfully: [IBM]. They will be excluded from custom language model training."
    );
    w.advance(3600);
    assert_eq!(w.status(&id), ModelStatus::Available);
}

#[test]
fn bad_train_parameters_are_400() {
    let q = |k: &str, v: &str| std::collections::HashMap::from([(k.to_owned(), v.to_owned())]);
    assert!(TrainParams::from_query(&q("customization_weight", "1.5")).is_err());
    assert!(TrainParams::from_query(&q("word_type_to_add", "some")).is_err());
    assert!(TrainParams::from_query(&q("strict", "maybe")).is_err());
    assert!(
        !TrainParams::from_query(&q("strict", "false"))
            .expect("ok")
            .strict
    );
}

#[test]
fn injected_training_failure_sets_failed_with_a_stringified_500() {
    let mut w = World::new();
    let id = w.ready_lm();
    assert!(w.st.fail_next_training(&id, None));
    w.train(&id, TrainParams::default()).expect("starts");
    w.advance(3600);
    let j = w.json(&id);
    assert_eq!(j["status"], "failed");
    let err: Value =
        serde_json::from_str(j["error"].as_str().expect("string")).expect("json inside");
    assert_eq!(err["code"], 500);
    // Only the next training fails.
    w.train(&id, TrainParams::default()).expect("retrain");
    w.advance(3600);
    assert_eq!(w.status(&id), ModelStatus::Available);
    assert!(w.json(&id).get("error").is_none());
}

#[test]
fn injected_training_failure_can_carry_a_given_error_document() {
    let mut w = World::new();
    let id = w.ready_lm();
    let doc = r#"{"code":500,"error":"Internal error: /tmp/x/stage/model.bin not found"}"#;
    assert!(w.st.fail_next_training(&id, Some(doc.to_owned())));
    w.train(&id, TrainParams::default()).expect("starts");
    w.advance(3600);
    let j = w.json(&id);
    assert_eq!(j["status"], "failed");
    assert_eq!(j["error"], doc);
    // The text is used once.
    w.train(&id, TrainParams::default()).expect("retrain");
    w.advance(3600);
    assert_eq!(w.status(&id), ModelStatus::Available);
}

#[test]
fn busy_seconds_accumulate_scaled_durations() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = Ctx {
        now: w.now(),
        time_scale: 0.01,
    };
    w.model(&id)
        .add_corpus(ctx, "c", b"hello", false, None)
        .expect("corpus");
    // 5 s + 1 word * 0.0005 s, scaled by 0.01 → 51 ms (rounded up).
    assert_eq!(w.model(&id).busy_ms, 51);
}

// ---- 14: data changes ----

#[test]
fn b14_data_change_on_available_goes_pending_then_ready() {
    let mut w = World::new();
    let id = w.available_lm();
    w.corpus(&id, "c2", "another corpus").expect("add");
    assert_eq!(w.status(&id), ModelStatus::Pending);
    w.advance(10);
    assert_eq!(w.status(&id), ModelStatus::Ready);

    let id2 = w.available_lm();
    let now = w.now();
    w.model(&id2)
        .put_word(now, "Kube", &word("Kube", &["cube"]), None)
        .expect("put");
    assert_eq!(w.status(&id2), ModelStatus::Ready, "PUT is synchronous");
    w.train(&id2, TrainParams::default())
        .expect("train after change");
}

#[test]
fn deleting_all_data_of_a_trained_model_returns_it_to_pending() {
    let mut w = World::new();
    let id = w.available_lm();
    let now = w.now();
    w.model(&id).delete_corpus(now, "c1").expect("delete");
    assert_eq!(w.status(&id), ModelStatus::Pending);
}

// ---- 15: upgrade ----

#[test]
fn b15_upgrade_needs_a_newer_base_version_and_returns_to_the_previous_status() {
    let mut w = World::new();
    let id = w.available_lm();
    let ctx = w.ctx();
    assert_eq!(
        w.st.upgrade_language_model(ctx, &id)
            .map_err(|e| e.status()),
        Err(400),
        "already latest"
    );
    let v =
        w.st.catalogue
            .publish("en-US_BroadbandModel", None)
            .expect("known")
            .expect("published");
    w.st.upgrade_language_model(ctx, &id).expect("upgrade");
    assert_eq!(w.status(&id), ModelStatus::Upgrading);
    assert_eq!(
        w.corpus(&id, "c9", "x y z").map_err(|e| e.status()),
        Err(409)
    );
    assert_eq!(w.train(&id, forced()).map_err(|e| e.status()), Err(409));
    w.advance(3600);
    assert_eq!(w.status(&id), ModelStatus::Available);
    let versions = w.json(&id)["versions"].clone();
    assert_eq!(
        versions,
        serde_json::json!(["en-US_BroadbandModel.v2020-01-16", v])
    );
}

#[test]
fn b15_upgrade_is_refused_for_pending_or_empty_models() {
    let mut w = World::new();
    let id = w.lm();
    let r = w.ready_lm();
    w.st.catalogue.publish("en-US_BroadbandModel", None);
    let ctx = w.ctx();
    assert_eq!(
        w.st.upgrade_language_model(ctx, &id)
            .map_err(|e| e.status()),
        Err(400)
    );
    w.st.upgrade_language_model(ctx, &r)
        .expect("ready with data upgrades");
    w.advance(3600);
    assert_eq!(w.status(&r), ModelStatus::Ready);
}

#[test]
fn next_generation_training_adopts_the_newest_base_version() {
    let mut w = World::new();
    let id = w.lm_on("en-US_Telephony");
    let now = w.now();
    w.model(&id)
        .put_word(now, "Kube", &word("Kube", &[]), None)
        .expect("word");
    w.st.catalogue
        .publish("en-US_Telephony", Some("en-US_Telephony.v2030-01-01"));
    w.train(&id, TrainParams::default()).expect("train");
    w.advance(3600);
    assert_eq!(
        w.json(&id)["versions"],
        serde_json::json!(["en-US_Telephony.v2021-10-04", "en-US_Telephony.v2030-01-01"])
    );
}

// ---- 16: reset ----

#[test]
fn b16_reset_clears_data_keeps_metadata_and_returns_to_pending() {
    let mut w = World::new();
    let id = w.available_lm();
    let now = w.now();
    w.model(&id)
        .put_word(now, "Kube", &word("Kube", &[]), None)
        .expect("word");
    w.model(&id).reset(now).expect("reset");
    let j = w.json(&id);
    assert_eq!(j["status"], "pending");
    assert_eq!(j["name"], "Example model");
    assert_eq!(j["description"], "Example custom model");
    assert_eq!(
        w.model(&id).list_corpora()["corpora"],
        serde_json::json!([])
    );
    assert_eq!(
        w.model(&id)
            .list_words(WordType::All, WordSort::parse(None).expect("sort"))["words"],
        serde_json::json!([])
    );
}

// ---- 17: words ----

#[test]
fn b17_put_with_bad_sounds_like_is_400_and_stores_nothing() {
    let mut w = World::new();
    let id = w.lm();
    let now = w.now();
    for bad in [
        word("IBM", &["I B M 1"]),
        word("IBM", &["a", "b", "c", "d", "e", "f"]),
        word("IBM", &[&"x".repeat(41)]),
    ] {
        assert_eq!(
            w.model(&id)
                .put_word(now, "IBM", &bad, None)
                .map_err(|e| e.status()),
            Err(400)
        );
    }
    assert_eq!(
        w.model(&id).get_word("IBM").map_err(|e| e.status()),
        Err(400)
    );
    w.model(&id)
        .put_word(now, "IBM", &word("IBM", &["I B M", "eye bee em"]), None)
        .expect("valid");
    assert_eq!(
        w.model(&id).get_word("IBM").expect("stored")["sounds_like"][1],
        "eye bee em"
    );
}

#[test]
fn b17_post_stores_invalid_words_with_an_error_array_asynchronously() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = w.ctx();
    w.model(&id)
        .add_words(
            ctx,
            &[word("NASA", &["nasa"]), word("R2D2", &["r 2 d 2"])],
            None,
        )
        .expect("201");
    assert_eq!(w.status(&id), ModelStatus::Pending, "validation in flight");
    w.advance(5);
    let bad = w.model(&id).get_word("R2D2").expect("stored");
    let err = bad["error"].as_array().expect("error array");
    assert!(
        err[0]["r 2 d 2"]
            .as_str()
            .expect("message")
            .starts_with("Numbers are not allowed in sounds_like.")
    );
    assert!(
        w.model(&id)
            .get_word("NASA")
            .expect("ok")
            .get("error")
            .is_none()
    );
    assert_eq!(w.status(&id), ModelStatus::Ready);
}

#[test]
fn b17_malformed_word_batches_add_nothing() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = w.ctx();
    let nameless = CustomWord::default();
    assert_eq!(
        w.model(&id)
            .add_words(ctx, &[word("ok", &[]), nameless], None)
            .map_err(|e| e.status()),
        Err(400)
    );
    assert!(w.model(&id).get_word("ok").is_err());
    assert_eq!(
        w.model(&id)
            .add_words(ctx, &[], None)
            .map_err(|e| e.status()),
        Err(400)
    );
}

// ---- 18, 19: listing and previous-generation bookkeeping ----

#[test]
fn b18_words_sort_and_filter() {
    let mut w = World::new();
    let id = w.lm();
    w.corpus(&id, "c1", "zebra zebra zebra Apple 3M")
        .expect("corpus");
    w.advance(10);
    let now = w.now();
    w.model(&id)
        .put_word(now, "apple", &word("apple", &[]), None)
        .expect("word");
    let list = |w: &mut World, t: WordType, s: Option<&str>| -> Vec<String> {
        let sort = WordSort::parse(s).expect("sort");
        w.model(&id).list_words(t, sort)["words"]
            .as_array()
            .expect("array")
            .iter()
            .map(|x| x["word"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // "3M" has a digit, so it is not OOV; upper case sorts before lower case.
    assert_eq!(
        list(&mut w, WordType::All, None),
        vec!["Apple", "apple", "zebra"]
    );
    assert_eq!(
        list(&mut w, WordType::All, Some("-alphabetical")),
        vec!["zebra", "apple", "Apple"]
    );
    assert_eq!(
        list(&mut w, WordType::All, Some("-count")),
        vec!["zebra", "Apple", "apple"]
    );
    assert_eq!(
        list(&mut w, WordType::All, Some("+count")),
        vec!["Apple", "apple", "zebra"]
    );
    assert_eq!(list(&mut w, WordType::User, None), vec!["apple"]);
    assert_eq!(
        list(&mut w, WordType::Corpora, None),
        vec!["Apple", "zebra"]
    );
    assert!(list(&mut w, WordType::Grammars, None).is_empty());
}

#[test]
fn b19_corpus_words_carry_source_and_count_and_leave_with_their_corpus() {
    let mut w = World::new();
    let id = w.lm();
    w.corpus(&id, "c1", "Kubernetes Kubernetes Helm Argo")
        .expect("c1");
    w.advance(10);
    w.corpus(&id, "c2", "Kubernetes Istio").expect("c2");
    w.advance(10);
    let k = w.model(&id).get_word("Kubernetes").expect("word");
    assert_eq!(k["source"], serde_json::json!(["c1", "c2"]));
    assert_eq!(k["count"], 3);
    let now = w.now();
    w.model(&id)
        .put_word(now, "Helm", &word("Helm", &["helm"]), None)
        .expect("user modifies");
    assert_eq!(
        w.model(&id).get_word("Helm").expect("w")["source"],
        serde_json::json!(["c1", "user"])
    );
    w.model(&id).delete_corpus(now, "c1").expect("delete c1");
    assert!(
        w.model(&id).get_word("Argo").is_err(),
        "only from c1 → gone"
    );
    assert_eq!(
        w.model(&id).get_word("Kubernetes").expect("shared")["source"],
        serde_json::json!(["c2"])
    );
    assert_eq!(
        w.model(&id).get_word("Helm").expect("user-modified")["source"],
        serde_json::json!(["user"])
    );
}

#[test]
fn next_generation_models_extract_no_oov_words_and_count_is_one() {
    let mut w = World::new();
    let id = w.lm_on("en-US_Multimedia");
    w.corpus(&id, "c1", "Kubernetes Kubernetes")
        .expect("corpus");
    w.advance(10);
    assert_eq!(
        w.model(&id).get_corpus("c1").expect("c")["out_of_vocabulary_words"],
        0
    );
    assert_eq!(w.model(&id).get_corpus("c1").expect("c")["total_words"], 2);
    assert!(w.model(&id).get_word("Kubernetes").is_err());
    let now = w.now();
    w.model(&id)
        .put_word(now, "Kube", &word("Kube", &[]), None)
        .expect("w");
    assert_eq!(w.model(&id).get_word("Kube").expect("w")["count"], 1);
}

// ---- 20: names ----

#[test]
fn b20_reserved_names_clashes_and_overwrite() {
    let mut w = World::new();
    let id = w.lm();
    for reserved in ["user", "base_lm", "default_lm"] {
        assert_eq!(
            w.corpus(&id, reserved, "text").map_err(|e| e.status()),
            Err(400)
        );
    }
    w.corpus(&id, "shared", "Kubernetes").expect("corpus");
    w.advance(10);
    let ctx = w.ctx();
    let clash = w.model(&id).add_grammar(
        ctx,
        "shared",
        Some("application/srgs"),
        b"$r = a;",
        false,
        None,
    );
    assert_eq!(clash.map_err(|e| e.status()), Err(400));
    assert_eq!(
        w.corpus(&id, "shared", "again").map_err(|e| e.status()),
        Err(400),
        "duplicate"
    );
    w.model(&id)
        .add_corpus(ctx, "shared", b"Helm Helm", true, None)
        .expect("overwrite");
    w.advance(10);
    assert!(
        w.model(&id).get_word("Kubernetes").is_err(),
        "old corpus words removed"
    );
    assert_eq!(w.model(&id).get_word("Helm").expect("new")["count"], 2);
}

// ---- 21: grammars ----

#[test]
fn b21_grammar_content_type_is_required() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = w.ctx();
    for ct in [None, Some("text/plain"), Some("application/xml")] {
        let r = w
            .model(&id)
            .add_grammar(ctx, "g", ct, b"$r = yes;", false, None);
        assert_eq!(r.map_err(|e| e.status()), Err(415));
    }
    w.model(&id)
        .add_grammar(
            ctx,
            "g",
            Some("application/srgs+xml"),
            b"<grammar root=\"r\"><rule id=\"r\"><item>Zorg</item></rule></grammar>",
            false,
            None,
        )
        .expect("xml grammar");
    w.advance(10);
    let g = w.model(&id).get_grammar("g").expect("g");
    assert_eq!(g["status"], "analyzed");
    assert_eq!(g["out_of_vocabulary_words"], 1);
    assert_eq!(
        w.model(&id).get_word("Zorg").expect("grammar word")["source"],
        serde_json::json!(["g"])
    );
}

#[test]
fn b21_failing_grammar_is_undetermined_and_sets_model_error_without_failing_the_model() {
    let mut w = World::new();
    let id = w.ready_lm();
    let ctx = w.ctx();
    w.model(&id)
        .add_grammar(
            ctx,
            "bad",
            Some("application/srgs"),
            b"just some words",
            false,
            None,
        )
        .expect("accepted");
    w.advance(10);
    let g = w.model(&id).get_grammar("bad").expect("g");
    assert_eq!(g["status"], "undetermined");
    assert!(
        g["error"]
            .as_str()
            .expect("msg")
            .starts_with("Analysis of grammar 'bad' failed.")
    );
    let j = w.json(&id);
    assert!(
        j["error"]
            .as_str()
            .expect("model error")
            .contains("Cannot compile grammar")
    );
    assert_ne!(j["status"], "failed");
}

#[test]
fn grammars_are_refused_on_large_speech_models() {
    let mut w = World::new();
    let id = w.lm_on("en-US");
    let ctx = w.ctx();
    let r = w
        .model(&id)
        .add_grammar(ctx, "g", Some("application/srgs"), b"$r = a;", false, None);
    assert_eq!(r.map_err(|e| e.status()), Err(400));
}

// ---- 22, 23: acoustic models ----

#[test]
fn b23_acoustic_models_only_on_previous_generation_bases() {
    let mut w = World::new();
    let ctx = w.ctx();
    for base in ["en-US_Telephony", "en-US_Multimedia", "en-US"] {
        let e =
            w.st.create_acoustic_model(ctx, &create(base), CAP)
                .expect_err("not allowed");
        assert_eq!(e.status(), 400);
    }
    let id = w.am();
    let j = w.st.am(&id, ctx.now).expect("am").to_json();
    assert_eq!(j["status"], "pending");
    assert_eq!(j["created"], j["updated"]);
    assert!(j.get("dialect").is_none());
}

#[test]
fn b22_audio_is_analysed_asynchronously_and_only_ok_audio_counts() {
    let mut w = World::new();
    let id = w.am();
    w.audio(&id, "good", 16000, 300.0).expect("201");
    w.audio(&id, "concurrent", 16000, 300.0)
        .expect("several adds at once are fine");
    w.audio(&id, "narrow", 8000, 300.0)
        .expect("accepted, invalid later");
    let now = w.now();
    let listing =
        w.st.am(&id, now)
            .expect("am")
            .get_audio("good")
            .expect("audio");
    assert_eq!(listing["status"], "being_processed");
    assert_eq!(listing["duration"], 0);
    assert_eq!(listing["details"], serde_json::json!({}));
    assert_eq!(w.am_status(&id), ModelStatus::Pending);
    w.advance(60);
    let m = w.st.am(&id, w.clock.now_ms()).expect("am");
    let l = m.list_audio();
    assert_eq!(l["total_minutes_of_audio"], 10.0);
    let good = m.get_audio("good").expect("good");
    assert_eq!(good["status"], "ok");
    assert_eq!(good["duration"], 300);
    assert_eq!(good["details"]["codec"], "pcm_s16le");
    assert_eq!(good["details"]["frequency"], 16000);
    assert_eq!(m.get_audio("narrow").expect("narrow")["status"], "invalid");
    assert_eq!(w.am_status(&id), ModelStatus::Ready);
}

#[test]
fn b22_archives_list_container_and_members_and_one_bad_member_invalidates() {
    use std::io::Write;
    let mut w = World::new();
    let id = w.am();
    let zip = |members: &[(&str, u32)]| {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, rate) in members {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("zip");
            z.write_all(&tone_wav(*rate, 120.0)).expect("zip");
        }
        z.finish().expect("zip");
        buf.into_inner()
    };
    let ctx = w.ctx();
    for (name, body) in [
        ("good.zip", zip(&[("a.wav", 16000), ("b.wav", 22050)])),
        ("bad.zip", zip(&[("a.wav", 16000), ("c.wav", 8000)])),
    ] {
        let p = prepare_audio(name, Some("application/zip"), None, &body, 16000).expect("prepared");
        w.st.am(&id, ctx.now)
            .expect("am")
            .add_audio(ctx, p, false, None)
            .expect("201");
    }
    w.advance(60);
    let m = w.st.am(&id, w.clock.now_ms()).expect("am");
    let good = m.get_audio("good.zip").expect("archive");
    assert_eq!(good["container"]["status"], "ok");
    assert_eq!(good["container"]["details"]["compression"], "zip");
    assert_eq!(good["container"]["duration"], 240);
    assert_eq!(good["audio"].as_array().expect("members").len(), 2);
    assert!(
        good.get("status").is_none(),
        "top-level fields are omitted for archives"
    );
    let bad = m.get_audio("bad.zip").expect("archive");
    assert_eq!(bad["container"]["status"], "invalid");
    assert_eq!(bad["audio"][1]["status"], "invalid");
    assert_eq!(m.list_audio()["total_minutes_of_audio"], 4.0);
}

#[test]
fn audio_request_errors() {
    assert_eq!(
        prepare_audio("a", Some("text/plain"), None, b"x", 16000).map_err(|e| e.status()),
        Err(415)
    );
    assert_eq!(
        prepare_audio("a", Some("audio/wav"), Some("audio/wav"), b"x", 16000)
            .map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(
        prepare_audio("a", Some("audio/wav"), None, b"", 16000).map_err(|e| e.status()),
        Err(400)
    );
}

#[test]
fn b22_acoustic_training_needs_ten_minutes_and_fails_the_model_otherwise() {
    let mut w = World::new();
    let id = w.am();
    let ctx = w.ctx();
    assert_eq!(
        w.st.train_acoustic_model(ctx, &id, None, true)
            .map_err(|e| e.status()),
        Err(400),
        "no audio"
    );
    w.audio(&id, "short", 16000, 540.0).expect("9 minutes");
    w.advance(60);
    let ctx = w.ctx();
    assert_eq!(
        w.st.train_acoustic_model(ctx, &id, None, true)
            .map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(w.am_status(&id), ModelStatus::Failed);
    w.audio(&id, "more", 16000, 120.0).expect("2 more minutes");
    w.advance(60);
    assert_eq!(
        w.am_status(&id),
        ModelStatus::Ready,
        "the fix returns it to ready"
    );
    let ctx = w.ctx();
    w.st.train_acoustic_model(ctx, &id, None, true)
        .expect("train");
    assert_eq!(w.am_status(&id), ModelStatus::Training);
    assert_eq!(
        w.audio(&id, "x", 16000, 60.0).map_err(|e| e.status()),
        Err(409)
    );
    w.advance(600);
    assert_eq!(
        w.am_status(&id),
        ModelStatus::Training,
        "takes about as long as the audio (660 s)"
    );
    w.advance(61);
    assert_eq!(w.am_status(&id), ModelStatus::Available);
}

#[test]
fn acoustic_training_with_invalid_audio_strict_and_non_strict() {
    let mut w = World::new();
    let id = w.am();
    w.audio(&id, "good", 16000, 700.0).expect("ok");
    w.audio(&id, "narrow", 8000, 10.0).expect("invalid");
    w.advance(60);
    let ctx = w.ctx();
    assert_eq!(
        w.st.train_acoustic_model(ctx, &id, None, true)
            .map_err(|e| e.status()),
        Err(400)
    );
    assert_eq!(w.am_status(&id), ModelStatus::Failed);
    let out =
        w.st.train_acoustic_model(ctx, &id, None, false)
            .expect("non-strict");
    assert_eq!(out["warnings"][0]["code"], "invalid_audio_files");
}

#[test]
fn acoustic_training_with_a_helper_language_model() {
    let mut w = World::new();
    let am = w.am();
    w.audio(&am, "good", 16000, 700.0).expect("ok");
    w.advance(60);
    let lm = w.ready_lm();
    let ctx = w.ctx();
    let e =
        w.st.train_acoustic_model(ctx, &am, Some(&lm), true)
            .expect_err("LM not available");
    assert_eq!(e.status(), 400);
    assert_eq!(w.am_status(&am), ModelStatus::Failed);
    w.train(&lm, TrainParams::default()).expect("train LM");
    w.advance(3600);
    let other = {
        let id = w.lm_on("en-US_NarrowbandModel");
        w.corpus(&id, "c", "text").expect("c");
        w.advance(10);
        w.train(&id, TrainParams::default()).expect("t");
        w.advance(3600);
        id
    };
    let ctx = w.ctx();
    assert_eq!(
        w.st.train_acoustic_model(ctx, &am, Some(&other), true)
            .map_err(|e| e.status()),
        Err(400),
        "different base model"
    );
    w.st.train_acoustic_model(ctx, &am, Some(&lm), true)
        .expect("same base version, LM available");
}

#[test]
fn acoustic_upgrade_with_helper_lm_needs_force_when_nothing_changed() {
    let mut w = World::new();
    let am = w.am();
    w.audio(&am, "good", 16000, 700.0).expect("ok");
    w.advance(60);
    let lm = w.available_lm();
    let ctx = w.ctx();
    w.st.train_acoustic_model(ctx, &am, Some(&lm), true)
        .expect("train");
    w.advance(3600);
    assert_eq!(w.am_status(&am), ModelStatus::Available);
    w.st.catalogue.publish("en-US_BroadbandModel", None);
    let ctx = w.ctx();
    assert_eq!(
        w.st.upgrade_acoustic_model(ctx, &am, Some(&lm), false)
            .map_err(|e| e.status()),
        Err(400),
        "LM not upgraded yet"
    );
    w.st.upgrade_language_model(ctx, &lm)
        .expect("upgrade LM first");
    w.advance(3600);
    let ctx = w.ctx();
    let e =
        w.st.upgrade_acoustic_model(ctx, &am, Some(&lm), false)
            .expect_err("nothing changed");
    assert_eq!(
        e,
        SimError::BadRequest("No input data modified since last training".to_owned())
    );
    w.st.upgrade_acoustic_model(ctx, &am, Some(&lm), true)
        .expect("force");
    assert_eq!(w.am_status(&am), ModelStatus::Upgrading);
    w.advance(3600);
    assert_eq!(w.am_status(&am), ModelStatus::Available);
    let now = w.now();
    assert_eq!(w.st.am(&am, now).expect("am").versions.len(), 2);
}

#[test]
fn acoustic_reset_is_transient_and_refuses_requests_meanwhile() {
    let mut w = World::new();
    let id = w.am();
    w.audio(&id, "good", 16000, 700.0).expect("ok");
    w.advance(60);
    let ctx = w.ctx();
    w.st.am(&id, ctx.now)
        .expect("am")
        .reset(ctx)
        .expect("reset");
    assert_eq!(w.am_status(&id), ModelStatus::Pending);
    assert_eq!(
        w.audio(&id, "again", 16000, 60.0).map_err(|e| e.status()),
        Err(409)
    );
    w.advance(10);
    w.audio(&id, "again", 16000, 60.0)
        .expect("accepted after the reset");
    let now = w.now();
    assert_eq!(
        w.st.am(&id, now).expect("am").list_audio()["audio"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

// ---- 24: customer data ----

#[test]
fn b24_user_data_deletion_removes_only_labelled_resources() {
    let mut w = World::new();
    let id = w.lm();
    let ctx = w.ctx();
    w.model(&id)
        .add_corpus(
            ctx,
            "labelled",
            b"Kubernetes",
            false,
            Some("cust1".to_owned()),
        )
        .expect("c");
    w.advance(10);
    let now = w.now();
    w.model(&id)
        .put_word(now, "Helm", &word("Helm", &[]), Some("cust1".to_owned()))
        .expect("w");
    w.model(&id)
        .put_word(now, "Argo", &word("Argo", &[]), None)
        .expect("w");
    let am = w.am();
    let wav = tone_wav(16000, 60.0);
    let p = prepare_audio("a", Some("audio/wav"), None, &wav, 16000).expect("p");
    let ctx = w.ctx();
    w.st.am(&am, now)
        .expect("am")
        .add_audio(ctx, p, false, Some("cust1".to_owned()))
        .expect("a");
    let voice =
        w.st.create_voice_model(
            ctx,
            &CreateVoiceModel {
                name: Some("v".into()),
                ..Default::default()
            },
        )
        .expect("voice");
    let entry = WordDef {
        word: None,
        translation: Some("eye bee em".into()),
        part_of_speech: None,
    };
    w.st.voice(&voice)
        .expect("v")
        .put_word(now, "IBM", &entry, Some("cust1"))
        .expect("w");

    w.st.delete_stt_customer_data(now, "nobody");
    w.st.delete_stt_customer_data(now, "cust1");
    assert!(w.model(&id).get_corpus("labelled").is_err());
    assert!(w.model(&id).get_word("Kubernetes").is_err());
    assert!(w.model(&id).get_word("Helm").is_err());
    assert!(w.model(&id).get_word("Argo").is_ok());
    assert!(w.st.am(&am, now).expect("am").get_audio("a").is_err());
    assert!(
        w.st.voice(&voice).expect("v").get_word("IBM").is_ok(),
        "TTS data is separate"
    );
    w.st.delete_tts_customer_data(now, "cust1");
    assert!(w.st.voice(&voice).expect("v").get_word("IBM").is_err());
}

// ---- 25: TTS ----

#[test]
fn b25_voice_models_words_and_defaults() {
    let mut w = World::new();
    let ctx = w.ctx();
    let id =
        w.st.create_voice_model(
            ctx,
            &CreateVoiceModel {
                name: Some("voice".into()),
                ..Default::default()
            },
        )
        .expect("create");
    let m = w.st.voice(&id).expect("model");
    let j = m.to_json(true);
    assert_eq!(j["language"], "en-US");
    assert_eq!(j["created"], j["last_modified"]);
    assert_eq!(j["words"], serde_json::json!([]));
    assert!(
        m.to_json(false).get("words").is_none(),
        "list entries omit words"
    );
    let entry = |w: &str, t: &str| WordDef {
        word: Some(w.into()),
        translation: Some(t.into()),
        part_of_speech: None,
    };
    m.add_words(
        ctx.now + 1000,
        &[
            entry("zed", "zee"),
            entry("IBM", "eye bee em"),
            entry("ACLs", "ackles"),
        ],
        None,
    )
    .expect("add");
    let words: Vec<String> = m.list_words()["words"]
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["word"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(words, vec!["ACLs", "IBM", "zed"]);
    assert_ne!(
        m.to_json(false)["last_modified"],
        m.to_json(false)["created"]
    );
    m.put_word(
        ctx.now,
        "IBM",
        &WordDef {
            word: None,
            translation: Some("I B M".into()),
            part_of_speech: Some("Mesi".into()),
        },
        None,
    )
    .expect("upsert");
    assert_eq!(
        m.get_word("IBM").expect("w"),
        serde_json::json!({"translation": "I B M", "part_of_speech": "Mesi"})
    );
    assert_eq!(m.get_word("nope").map_err(|e| e.status()), Err(400));
    assert_eq!(
        m.delete_word(ctx.now, "nope").map_err(|e| e.status()),
        Err(400)
    );
    m.delete_word(ctx.now, "IBM").expect("delete");
    assert!(
        m.add_words(ctx.now, &[entry(&"x".repeat(50), "t")], None)
            .is_err()
    );
    assert!(m.add_words(ctx.now, &[entry("w", "")], None).is_err());
    m.update(
        ctx.now,
        &UpdateVoiceModel {
            name: Some("renamed".into()),
            description: None,
            words: Some(vec![]),
        },
        None,
    )
    .expect("update");
    assert_eq!(m.to_json(false)["name"], "renamed");
}

#[test]
fn b25_voice_models_hold_at_most_twenty_thousand_entries() {
    let mut w = World::new();
    let ctx = w.ctx();
    let id =
        w.st.create_voice_model(
            ctx,
            &CreateVoiceModel {
                name: Some("v".into()),
                ..Default::default()
            },
        )
        .expect("create");
    let m = w.st.voice(&id).expect("model");
    let batch: Vec<WordDef> = (0..20_000)
        .map(|i| WordDef {
            word: Some(format!("w{i}")),
            translation: Some("t".into()),
            part_of_speech: None,
        })
        .collect();
    m.add_words(ctx.now, &batch, None)
        .expect("exactly the limit");
    let one = WordDef {
        word: Some("extra".into()),
        translation: Some("t".into()),
        part_of_speech: None,
    };
    assert_eq!(
        m.add_words(ctx.now, &[one], None).map_err(|e| e.status()),
        Err(400)
    );
    assert!(
        w.st.create_voice_model(
            ctx,
            &CreateVoiceModel {
                name: Some("v".into()),
                language: Some("xx-XX".into()),
                description: None
            }
        )
        .is_err()
    );
}

// ---- admin-side helpers ----

#[test]
fn admin_listing_and_out_of_band_delete() {
    let mut w = World::new();
    let lm = w.ready_lm();
    let am = w.am();
    let now = w.now();
    let models = w.st.admin_models(now);
    assert_eq!(models.len(), 2);
    let l = models
        .iter()
        .find(|m| m.customization_id == lm)
        .expect("lm");
    assert_eq!(l.status.as_deref(), Some("ready"));
    assert!(l.busy_seconds > 0.0);
    assert!(w.st.remove_any(&am));
    assert!(!w.st.remove_any(&am));
    assert!(!w.st.fail_next_training(&am, None));
}
