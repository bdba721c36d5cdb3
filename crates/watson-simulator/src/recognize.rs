//! A model of recognition, not speech recognition (issue 28): what `POST /v1/recognize` answers,
//! deterministic and small enough to reason about in a test.
//!
//! **What the audio says.** A test item is a real PCM WAV whose RIFF `LIST`/`INFO` chunk holds
//! the spoken text in an `ICMT` (comment) sub-chunk, after the `data` chunk (where tools that stop
//! at `data` never look). [`wav_saying`] writes one; [`spoken_text`] reads it back. Audio without
//! the chunk says nothing: the transcript is empty.
//!
//! **What is heard**, word by word (a spoken word is a run of non-whitespace with leading and
//! trailing punctuation removed, compared in lower case):
//! 1. a word with a digit is heard as spoken (the service spells numbers; the model does not);
//! 2. a word the custom model holds (its words resource: added words and the out-of-vocabulary
//!    words of its corpora) is heard as that word, shown as its `display_as` when it has one,
//!    when the `customization_weight` is above 0;
//! 3. a word that equals a `sounds_like` of a custom word is heard as that custom word (same
//!    weight rule);
//! 4. a word of the base vocabulary ([`crate::vocabulary`]) is heard as spoken, except that a
//!    weight above [`OVERFIT_WEIGHT`] over-applies the custom model: a base word of four or more
//!    letters that starts with the same three letters as a custom word is heard as that word
//!    (the documented price of too high a weight, so a weight search has an optimum);
//! 5. any other word (out of vocabulary) is misheard as a base-vocabulary word chosen by a
//!    stable hash of the word (the same mishearing every time).
//!
//! **Worse on purpose.** `drop_every = Some(n)` drops every n-th heard word (a knob for a base
//! version marked defective, or a model marked worse), so a test can show a gate holding back a
//! regression.
//!
//! The transcript is the heard words in lower case (a custom word as its `display_as`, as
//! written), joined by spaces,
//! with the trailing space IBM's final results carry; the confidence is the share of spoken words
//! heard as spoken, rounded to three decimals.

use std::collections::HashMap;

use crate::vocabulary::{BASE_VOCABULARY, in_vocabulary};

/// Above this `customization_weight` the custom model is over-applied (rule 4).
pub const OVERFIT_WEIGHT: f64 = 0.7;

/// The `drop_every` of a base version or custom model the admin API marked worse
/// (`worse_versions`, `POST /_simulator/models/{id}/worse`): every third heard word is lost.
pub const WORSE_DROP_EVERY: u32 = 3;

/// A word of the custom model, as its words resource holds it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CustomWord {
    /// The word (`word`).
    pub word: String,
    /// Its `sounds_like` pronunciations.
    pub sounds_like: Vec<String>,
    /// Its `display_as` spelling, when set.
    pub display_as: Option<String>,
}

/// What recognition uses besides the audio.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The custom language model's words (empty: the base model alone).
    pub custom_words: Vec<CustomWord>,
    /// `customization_weight`, 0 to 1.
    pub weight: f64,
    /// Drop every n-th heard word (a worse base version or model); `None` or `Some(0)`: none.
    pub drop_every: Option<u32>,
}

/// The answer for one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognised {
    /// The transcript, lower case, with a trailing space when not empty.
    pub transcript: String,
    /// The share of spoken words heard as spoken, 0 to 1, three decimals.
    pub confidence: f64,
}

/// What the recognition of `spoken` hears with `ctx` (the module's rules).
pub fn recognise(spoken: &str, ctx: &Context) -> Recognised {
    let custom_on = ctx.weight > 0.0;
    let mut by_word: HashMap<String, &CustomWord> = HashMap::new();
    let mut by_sound: HashMap<String, &CustomWord> = HashMap::new();
    if custom_on {
        for w in &ctx.custom_words {
            by_word.insert(w.word.to_lowercase(), w);
            for s in &w.sounds_like {
                by_sound.insert(s.to_lowercase(), w);
            }
        }
    }
    let shown = |w: &CustomWord| {
        w.display_as
            .clone()
            .unwrap_or_else(|| w.word.to_lowercase())
    };
    let mut heard = Vec::new();
    let mut right = 0usize;
    let mut spoken_words = 0usize;
    for token in crate::vocabulary::tokens(spoken) {
        let word = token.to_lowercase();
        spoken_words += 1;
        let h = if word.chars().any(|c| c.is_ascii_digit()) {
            word.clone()
        } else if let Some(c) = by_word.get(&word) {
            shown(c)
        } else if let Some(c) = by_sound.get(&word) {
            shown(c)
        } else if in_vocabulary(&word) {
            overfit(&word, ctx).unwrap_or_else(|| word.clone())
        } else {
            misheard(&word).to_string()
        };
        if h.to_lowercase() == word {
            right += 1;
        }
        heard.push(h);
    }
    if let Some(n) = ctx.drop_every.filter(|n| *n > 0) {
        let n = n as usize;
        let before = heard.len();
        heard = heard
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (i + 1) % n != 0)
            .map(|(_, w)| w)
            .collect();
        right = right.saturating_sub(before - heard.len());
    }
    let confidence = if spoken_words == 0 {
        0.0
    } else {
        (right as f64 / spoken_words as f64 * 1000.0).round() / 1000.0
    };
    let mut transcript = heard.join(" ");
    if !transcript.is_empty() {
        transcript.push(' ');
    }
    Recognised {
        transcript,
        confidence,
    }
}

/// Rule 4's over-application: the custom word a base word is heard as, when the weight is too
/// high.
fn overfit(word: &str, ctx: &Context) -> Option<String> {
    if ctx.weight <= OVERFIT_WEIGHT || word.chars().count() < 4 {
        return None;
    }
    let prefix: String = word.chars().take(3).collect();
    ctx.custom_words
        .iter()
        .map(|c| c.word.to_lowercase())
        .find(|c| c != word && c.starts_with(&prefix))
}

/// Rule 5: the base word an out-of-vocabulary `word` is misheard as (FNV-1a of its lower-case
/// bytes, modulo the vocabulary's size).
pub fn misheard(word: &str) -> &'static str {
    let hash = word
        .to_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    let words: Vec<&'static str> = BASE_VOCABULARY.split_whitespace().collect();
    words[(hash % words.len() as u64) as usize]
}

/// The spoken text of a WAV (its `LIST`/`INFO` `ICMT` sub-chunk), `None` when it has none or is
/// not a RIFF WAVE file.
pub fn spoken_text(wav: &[u8]) -> Option<String> {
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return None;
    }
    let list = chunks(&wav[12..]).find(|(id, body)| id == b"LIST" && body.starts_with(b"INFO"))?;
    let (_, comment) = chunks(&list.1[4..]).find(|(id, _)| id == b"ICMT")?;
    let text = String::from_utf8_lossy(comment);
    Some(text.trim_end_matches('\0').to_string())
}

/// The RIFF chunks of `bytes`: `(id, body)`, bodies padded to an even length; stops at the
/// first chunk that overruns the input (a `data` size of 0 or the true one both read).
fn chunks(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = bytes.get(at..at + 8)?;
        let id: [u8; 4] = header[0..4].try_into().ok()?;
        let size = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..at + 8 + size)?;
        at += 8 + size + size % 2;
        Some((id, body))
    })
}

/// A 16-bit mono PCM WAV at `rate` saying `text`: a tone of 0.4 s per word (at least 0.4 s),
/// then a `LIST`/`INFO` chunk with the text in `ICMT`.
pub fn wav_saying(text: &str, rate: u32) -> Vec<u8> {
    let words = text.split_whitespace().count().max(1);
    let mut wav = crate::audio::tone_wav(rate, 0.4 * words as f64);
    let mut comment = text.as_bytes().to_vec();
    comment.push(0);
    if comment.len() % 2 == 1 {
        comment.push(0);
    }
    let mut list = b"INFO".to_vec();
    list.extend_from_slice(b"ICMT");
    list.extend_from_slice(&(comment.len() as u32).to_le_bytes());
    list.extend_from_slice(&comment);
    wav.extend_from_slice(b"LIST");
    wav.extend_from_slice(&(list.len() as u32).to_le_bytes());
    wav.extend_from_slice(&list);
    let riff = (wav.len() - 8) as u32;
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str, sounds: &[&str], display: Option<&str>) -> CustomWord {
        CustomWord {
            word: w.to_string(),
            sounds_like: sounds.iter().map(|s| s.to_string()).collect(),
            display_as: display.map(str::to_string),
        }
    }

    #[test]
    fn the_audio_says_what_its_info_chunk_holds() {
        let wav = wav_saying("Call the doctor about ibuprofen.", 16_000);
        assert_eq!(
            spoken_text(&wav).as_deref(),
            Some("Call the doctor about ibuprofen.")
        );
        // Still audio the service measures: 5 words, 2 s of 16 kHz mono PCM.
        let facts = crate::audio::inspect("a.wav", None, &wav, 8000);
        assert!(facts.valid, "{facts:?}");
        assert_eq!(facts.duration_s.round(), 2.0);
        assert_eq!(spoken_text(&crate::audio::tone_wav(16_000, 1.0)), None);
        assert_eq!(spoken_text(b"not audio"), None);
    }

    #[test]
    fn the_base_model_hears_its_vocabulary_and_mishears_the_rest() {
        let base = Context::default();
        let r = recognise("Call the doctor about ibuprofen.", &base);
        let oov = misheard("ibuprofen");
        assert_eq!(r.transcript, format!("call the doctor about {oov} "));
        assert_eq!(r.confidence, 0.8);
        // The same mishearing every time, and a base word.
        assert_eq!(misheard("ibuprofen"), oov);
        assert!(in_vocabulary(oov));
        assert_eq!(recognise("room 101", &base).transcript, "room 101 ");
        assert_eq!(recognise("", &base).transcript, "");
    }

    #[test]
    fn the_custom_model_hears_its_words_their_sounds_and_display() {
        let ctx = Context {
            custom_words: vec![
                word("ibuprofen", &[], None),
                word("ieee", &[], Some("IEEE")),
                word("tomato", &["tomahto"], None),
            ],
            weight: 0.3,
            drop_every: None,
        };
        let r = recognise("Call the doctor about ibuprofen", &ctx);
        assert_eq!(r.transcript, "call the doctor about ibuprofen ");
        assert_eq!(r.confidence, 1.0);
        assert_eq!(recognise("tomahto", &ctx).transcript, "tomato ");
        let shown = recognise("ieee", &ctx);
        assert_eq!(
            (shown.transcript.as_str(), shown.confidence),
            ("IEEE ", 1.0)
        );
        // Weight 0: the custom model is not used.
        let off = Context { weight: 0.0, ..ctx };
        assert_ne!(
            recognise("ibuprofen", &off).transcript,
            "ibuprofen ",
            "weight 0 ignores the custom words"
        );
    }

    #[test]
    fn too_high_a_weight_over_applies_the_custom_words() {
        let ctx = |weight| Context {
            custom_words: vec![word("doctrine", &[], None)],
            weight,
            drop_every: None,
        };
        assert_eq!(
            recognise("the doctor came", &ctx(0.7)).transcript,
            "the doctor came "
        );
        assert_eq!(
            recognise("the doctor came", &ctx(0.9)).transcript,
            "the doctrine came "
        );
    }

    #[test]
    fn a_worse_model_drops_every_nth_word() {
        let ctx = Context {
            drop_every: Some(2),
            ..Context::default()
        };
        let r = recognise("one two three four five", &ctx);
        assert_eq!(r.transcript, "one three five ");
        assert_eq!(r.confidence, 0.6);
        let none = Context {
            drop_every: Some(0),
            ..Context::default()
        };
        assert_eq!(recognise("one two", &none).transcript, "one two ");
    }
}
