//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`, grown by `make fuzz` with
//! cargo-fuzz) through the same entry points on the stable toolchain, so every input that ever
//! mattered to the fuzzers stays a regression test. None may panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("read");
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "{target}: empty corpus");
    n
}

#[test]
fn ibm_responses_corpus() {
    replay(
        "ibm_responses",
        watson_speech_operator::fuzzing::ibm_responses,
    );
}

#[test]
fn word_lists_corpus() {
    replay("word_lists", watson_speech_operator::fuzzing::word_lists);
}

#[test]
fn audio_corpus() {
    replay("audio", watson_speech_operator::fuzzing::audio);
}
