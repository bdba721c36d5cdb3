#![no_main]
//! Fuzz target: `watson_speech_operator::fuzzing::audio` must not panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watson_speech_operator::fuzzing::audio(data);
});
