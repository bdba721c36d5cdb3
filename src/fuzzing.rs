//! Entry points for the fuzz targets (`fuzz/`, cargo-fuzz) and for the corpus regression test
//! (`tests/fuzz_corpus.rs`, stable): every parser of untrusted input in one place. None of them
//! may panic, whatever the bytes.

use crate::crd::language_model::CustomWord;
use crate::crd::voice_model::VoiceWord;
use crate::watson::Operation;
use crate::watson::error::{FailedResponse, body_message, classify};
use crate::watson::stt_types::{
    AcousticModel, AudioListing, AudioResources, Corpora, Grammars, LanguageModel, LanguageModels,
    SpeechModels, TrainingResponse, Words,
};
use crate::watson::tts_types::{VoiceModel, VoiceModels, VoiceWords};

/// Every IBM response body type, the error-body reader and the error classification.
pub fn ibm_responses(data: &[u8]) {
    let _ = serde_json::from_slice::<LanguageModel>(data);
    let _ = serde_json::from_slice::<LanguageModels>(data);
    let _ = serde_json::from_slice::<AcousticModel>(data);
    let _ = serde_json::from_slice::<AudioListing>(data);
    let _ = serde_json::from_slice::<AudioResources>(data);
    let _ = serde_json::from_slice::<Corpora>(data);
    let _ = serde_json::from_slice::<Grammars>(data);
    let _ = serde_json::from_slice::<Words>(data);
    let _ = serde_json::from_slice::<TrainingResponse>(data);
    let _ = serde_json::from_slice::<SpeechModels>(data);
    let _ = serde_json::from_slice::<VoiceModel>(data);
    let _ = serde_json::from_slice::<VoiceModels>(data);
    let _ = serde_json::from_slice::<VoiceWords>(data);
    let _ = body_message(data);
    for status in [400, 401, 404, 409, 413, 415, 429, 500, 503, 599] {
        let e = classify(FailedResponse {
            operation: Operation::TrainLanguageModel,
            status,
            scoped: status % 2 == 0,
            body: data,
            transaction_id: None,
            retry_after: None,
        });
        let _ = (e.is_no_input_modified(), e.to_string());
    }
}

/// The word lists users keep in ConfigMaps (YAML or JSON): the budgeted parser and the
/// per-entry checks; an error message must never hold more than a few hundred bytes.
pub fn word_lists(data: &[u8]) {
    use crate::reconcile::inputs::parse_word_list;
    for e in [
        parse_word_list::<CustomWord>(data, "fuzz").err(),
        parse_word_list::<VoiceWord>(data, "fuzz").err(),
    ]
    .into_iter()
    .flatten()
    {
        // Messages say where, never what: bounded whatever the input.
        assert!(
            e.to_string().len() < 512,
            "unbounded message: {} bytes",
            e.to_string().len()
        );
    }
}

#[cfg(feature = "simulator")]
/// The simulator's audio inspection (headers of WAV, FLAC, Ogg, MP3, ...; zip and tar.gz).
pub fn audio(data: &[u8]) {
    use crate::simulator::audio::{Container, inspect, inspect_archive, sniff};
    let _ = sniff(data);
    let _ = inspect("fuzz.wav", None, data, 16_000);
    let _ = inspect_archive(Container::Zip, None, data, 8_000);
    let _ = inspect_archive(Container::Gzip, None, data, 8_000);
}
