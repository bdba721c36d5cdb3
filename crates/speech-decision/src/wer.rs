//! Word error rate (WER): how far a transcript is from its reference, in words (issue 28).
//!
//! The rules follow IBM's own field tool for Watson Speech to Text, `IBM/watson-stt-wer-python`
//! (`analyze.py` with the `[Transformations]` defaults of its `config.ini.sample`), so a figure
//! here can be compared with one a user computed by hand:
//!
//! 1. lower case;
//! 2. punctuation removed: every character of Unicode general category P (`.` `,` `?` `'` `-`
//!    `’` `¿` ...), deleted rather than replaced, so `don't` is `dont` and `e-mail` is `email`
//!    (jiwer's `RemovePunctuation`); symbols (category S: `$`, `+`) stay, and `%` is
//!    punctuation in Unicode, so `50%` is `50`;
//! 3. split on whitespace (any run of it);
//! 4. hesitations dropped: the words `uh`, `uhuh`, `hesitation` and IBM's hesitation marker
//!    `%HESITATION` (the tool's `remove_word_list`). Here a hesitation is dropped after the
//!    punctuation, so `uh,` goes too (the tool drops the word and leaves the comma, which step 2
//!    then removes: the same words).
//!
//! The errors of one item are the fewest substitutions, deletions and insertions that turn the
//! hypothesis into the reference (a word-level Levenshtein distance); a test set's WER is its
//! errors over its reference words, summed over items (not an average of per-item rates). One
//! difference from the tool: it counts the reference's words before normalising (a
//! `%HESITATION` in a reference counts as a word there); here the normalised words are counted.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// The words dropped as hesitations, after lower case and punctuation removal
/// (`%HESITATION` becomes `hesitation`). Source: `remove_word_list` of
/// `IBM/watson-stt-wer-python` `config.ini.sample`.
pub const HESITATIONS: [&str; 3] = ["uh", "uhuh", "hesitation"];

/// The words of `text` as WER compares them (the module's rules 1 to 4).
pub fn normalise(text: &str) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .filter(|c| c.general_category_group() != GeneralCategoryGroup::Punctuation)
        .flat_map(char::to_lowercase)
        .collect();
    cleaned
        .split_whitespace()
        .filter(|w| !HESITATIONS.contains(w))
        .map(str::to_string)
        .collect()
}

/// The errors and reference words of one or more items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Items scored.
    pub items: u32,
    /// Words of the normalised references.
    pub words: u64,
    /// Substitutions, deletions and insertions (the fewest).
    pub errors: u64,
}

impl Score {
    /// The score of one item: `hypothesis` (what recognition returned) against `reference`
    /// (what was said).
    pub fn item(reference: &str, hypothesis: &str) -> Score {
        let reference = normalise(reference);
        let hypothesis = normalise(hypothesis);
        Score {
            items: 1,
            words: reference.len() as u64,
            errors: strsim::generic_levenshtein(&reference, &hypothesis) as u64,
        }
    }

    /// This score and `other` together (a test set is the sum of its items).
    #[must_use]
    pub fn plus(self, other: Score) -> Score {
        Score {
            items: self.items + other.items,
            words: self.words + other.words,
            errors: self.errors + other.errors,
        }
    }

    /// The word error rate in basis points (1/100 of a percentage point: 1234 is 12.34 %),
    /// rounded half up; `None` when the references hold no word. Above 10000 when the
    /// hypotheses insert more words than the references have. Integers, because Kubernetes API
    /// conventions avoid floats in the API.
    pub fn wer_basis_points(&self) -> Option<u64> {
        (self.words > 0).then(|| (self.errors * 10_000 * 2 + self.words) / (self.words * 2))
    }
}

/// Whether `candidate` may replace `current` under a tolerance of `tolerance_basis_points`
/// (how much worse, in basis points of WER, the candidate may be): a test set with no reference
/// word proves nothing and never passes.
pub fn within_tolerance(current: &Score, candidate: &Score, tolerance_basis_points: u64) -> bool {
    match (current.wer_basis_points(), candidate.wer_basis_points()) {
        (Some(old), Some(new)) => new <= old + tolerance_basis_points,
        (None, Some(_)) => true,
        (_, None) => false,
    }
}

/// A WER in basis points as people read it: `12.34%`.
pub fn percent(basis_points: u64) -> String {
    format!("{}.{:02}%", basis_points / 100, basis_points % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_follows_ibms_wer_tool() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello, World!", &["hello", "world"]),
            ("don't e-mail me", &["dont", "email", "me"]),
            ("  many\tspaces\n here ", &["many", "spaces", "here"]),
            ("%HESITATION the uh, model uhuh", &["the", "model"]),
            ("hesitation", &[]),
            ("¿Qué tal?", &["qué", "tal"]),
            ("it’s “quoted” … yes", &["its", "quoted", "yes"]),
            ("$5 50% +1", &["$5", "50", "+1"]),
            ("", &[]),
        ];
        for (text, words) in cases {
            assert_eq!(normalise(text), words.to_vec(), "{text:?}");
        }
    }

    #[test]
    fn errors_are_the_fewest_substitutions_deletions_and_insertions() {
        let cases = [
            // (reference, hypothesis, words, errors)
            ("the cat sat on the mat", "the cat sat on the mat", 6, 0),
            ("the cat sat on the mat", "the cat sit on the", 6, 2),
            ("the cat sat", "the big cat sat", 3, 1),
            ("the cat sat", "", 3, 3),
            ("", "something said", 0, 2),
            ("Tomato, please.", "tomahto please", 2, 1),
            ("%HESITATION call the doctor", "uh call the doctor", 3, 0),
        ];
        for (reference, hypothesis, words, errors) in cases {
            let s = Score::item(reference, hypothesis);
            assert_eq!(
                (s.items, s.words, s.errors),
                (1, words, errors),
                "{reference:?} / {hypothesis:?}"
            );
        }
    }

    #[test]
    fn a_test_set_sums_errors_and_words_before_dividing() {
        // 1 error in 2 words, then 0 in 8: 10 % for the set, not the 25 % of an average.
        let set = Score::item("one two", "one too").plus(Score::item(
            "three four five six seven eight nine ten",
            "three four five six seven eight nine ten",
        ));
        assert_eq!((set.items, set.words, set.errors), (2, 10, 1));
        assert_eq!(set.wer_basis_points(), Some(1000));
        assert_eq!(percent(1000), "10.00%");
    }

    #[test]
    fn basis_points_round_half_up_and_may_pass_one_hundred_percent() {
        let third = Score {
            items: 1,
            words: 3,
            errors: 1,
        };
        assert_eq!(third.wer_basis_points(), Some(3333));
        let two_thirds = Score { errors: 2, ..third };
        assert_eq!(two_thirds.wer_basis_points(), Some(6667));
        let inserted = Score::item("yes", "yes yes yes");
        assert_eq!(inserted.wer_basis_points(), Some(20000));
        assert_eq!(Score::item("", "").wer_basis_points(), None);
        assert_eq!(percent(3333), "33.33%");
        assert_eq!(percent(5), "0.05%");
    }

    #[test]
    fn the_tolerance_is_in_basis_points_of_wer() {
        let s = |errors| Score {
            items: 1,
            words: 100,
            errors,
        };
        // 10 % now; 10.5 % within half a point, 11 % not.
        assert!(within_tolerance(&s(10), &s(10), 0));
        assert!(within_tolerance(&s(10), &s(9), 0));
        assert!(!within_tolerance(&s(10), &s(11), 0));
        assert!(within_tolerance(&s(10), &s(11), 100));
        assert!(!within_tolerance(&s(10), &s(12), 100));
        // Nothing measured now: any measured candidate passes; an empty candidate never does.
        assert!(within_tolerance(&Score::default(), &s(50), 0));
        assert!(!within_tolerance(&s(10), &Score::default(), 10_000));
    }
}
