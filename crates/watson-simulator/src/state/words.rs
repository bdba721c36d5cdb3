//! Custom words of an STT language model: validation rules, `count`/`source` bookkeeping and
//! listing order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::SimError;
use crate::vocabulary::spell_out_numbers;

/// Maximum number of `sounds_like` entries per word.
pub const MAX_SOUNDS_LIKE: usize = 5;
/// Maximum length of one `sounds_like` entry (characters, trimmed).
pub const MAX_SOUNDS_LIKE_LEN: usize = 40;
/// The same limit for Japanese models.
pub const MAX_SOUNDS_LIKE_LEN_JA: usize = 25;

/// One error entry of a word: `{offending element: message}`.
pub type WordError = BTreeMap<String, String>;

/// A word definition as sent by a client (`CustomWord`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct CustomWord {
    #[serde(default)]
    pub word: Option<String>,
    #[serde(default)]
    pub sounds_like: Option<Vec<String>>,
    #[serde(default)]
    pub display_as: Option<String>,
    /// A boolean per the docs; the Python SDK types it as a list, so anything else is ignored.
    #[serde(default)]
    pub mapping_only: Option<Value>,
}

impl CustomWord {
    fn mapping_only_bool(&self) -> Option<bool> {
        self.mapping_only.as_ref().and_then(Value::as_bool)
    }
}

/// A word in the words resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub sounds_like: Vec<String>,
    pub display_as: String,
    pub mapping_only: Option<bool>,
    pub error: Option<Vec<WordError>>,
    /// Occurrences per corpus or grammar, in the order the sources were added.
    pub sources: Vec<(String, u64)>,
    /// Added or modified by the user (`source` contains `user`).
    pub user: bool,
    /// `X-Watson-Metadata: customer_id=...` of the last user add/modify.
    pub customer_id: Option<String>,
}

impl Word {
    /// A word extracted from a corpus or grammar.
    pub fn from_source(word: &str, source: &str, count: u64) -> Self {
        Word {
            word: word.to_owned(),
            sounds_like: Vec::new(),
            display_as: word.to_owned(),
            mapping_only: None,
            error: None,
            sources: vec![(source.to_owned(), count)],
            user: false,
            customer_id: None,
        }
    }

    /// The `count` field: occurrences in corpora and grammars (previous generation), at least
    /// 1 for a user word; always 1 on next-generation and large speech models.
    pub fn count(&self, counts_occurrences: bool) -> u64 {
        if !counts_occurrences {
            return 1;
        }
        let n: u64 = self.sources.iter().map(|(_, c)| c).sum();
        n.max(1)
    }

    /// Adds occurrences from a corpus or grammar.
    pub fn add_source(&mut self, source: &str, count: u64) {
        match self.sources.iter_mut().find(|(s, _)| s == source) {
            Some(entry) => entry.1 = count,
            None => self.sources.push((source.to_owned(), count)),
        }
    }

    /// Removes a corpus or grammar; returns whether the word should now disappear (no source
    /// left and never touched by the user).
    pub fn remove_source(&mut self, source: &str) -> bool {
        self.sources.retain(|(s, _)| s != source);
        self.sources.is_empty() && !self.user
    }

    /// Whether the word is usable for training.
    pub fn is_valid(&self) -> bool {
        self.error.as_ref().is_none_or(Vec::is_empty)
    }

    /// Applies a user definition (POST or PUT): overwrites the definition and adds `user`.
    pub fn apply_user(
        &mut self,
        def: &CustomWord,
        error: Vec<WordError>,
        customer_id: Option<String>,
    ) {
        self.sounds_like = trimmed(def.sounds_like.as_deref().unwrap_or_default());
        self.display_as = def
            .display_as
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| self.word.clone());
        self.mapping_only = def.mapping_only_bool();
        self.error = if error.is_empty() { None } else { Some(error) };
        self.user = true;
        if customer_id.is_some() {
            self.customer_id = customer_id;
        }
    }

    /// A new user word.
    pub fn new_user(
        word: &str,
        def: &CustomWord,
        error: Vec<WordError>,
        customer_id: Option<String>,
    ) -> Self {
        let mut w = Word {
            word: word.to_owned(),
            sounds_like: Vec::new(),
            display_as: word.to_owned(),
            mapping_only: None,
            error: None,
            sources: Vec::new(),
            user: false,
            customer_id: None,
        };
        w.apply_user(def, error, customer_id);
        w
    }

    /// The `source` array.
    pub fn source_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.sources.iter().map(|(s, _)| s.clone()).collect();
        if self.user {
            names.push("user".to_owned());
        }
        names
    }

    /// The `Word` JSON.
    pub fn to_json(&self, counts_occurrences: bool) -> Value {
        let mut v = json!({
            "word": self.word,
            "sounds_like": self.sounds_like,
            "display_as": self.display_as,
            "count": self.count(counts_occurrences),
            "source": self.source_names(),
        });
        if let Some(m) = self.mapping_only {
            v["mapping_only"] = json!(m);
        }
        if let Some(e) = &self.error {
            v["error"] = json!(e);
        }
        v
    }
}

fn trimmed(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_owned()).collect()
}

/// Checks a word's `sounds_like` list. Returns the error entries (empty when valid).
/// `strict`: the December 2025 rules as well ([`crate::profile::strict_sounds_like_error`]).
pub fn validate_sounds_like(
    sounds_like: &[String],
    japanese: bool,
    strict: bool,
) -> Vec<WordError> {
    let max_len = if japanese {
        MAX_SOUNDS_LIKE_LEN_JA
    } else {
        MAX_SOUNDS_LIKE_LEN
    };
    let mut errors = Vec::new();
    if sounds_like.len() > MAX_SOUNDS_LIKE {
        errors.push(BTreeMap::from([(
            "sounds_like".to_owned(),
            format!(
                "A word can have at most {MAX_SOUNDS_LIKE} sounds-like pronunciations; {} were given.",
                sounds_like.len()
            ),
        )]));
    }
    for raw in sounds_like {
        let sl = raw.trim();
        let message = if sl.is_empty() {
            Some("An empty sounds-like pronunciation is not allowed.".to_owned())
        } else if sl.chars().any(|c| c.is_ascii_digit()) {
            Some(format!(
                "Numbers are not allowed in sounds_like. You can try for example '{}'.",
                spell_out_numbers(sl)
            ))
        } else if sl.chars().count() > max_len {
            Some(format!(
                "Sounds-like pronunciations can have at most {max_len} characters."
            ))
        } else if strict {
            crate::profile::strict_sounds_like_error(sl)
        } else {
            None
        };
        if let Some(m) = message {
            errors.push(BTreeMap::from([(sl.to_owned(), m)]));
        }
    }
    errors
}

/// Checks a word spelling (the part that makes a request malformed rather than the word
/// invalid).
pub fn validate_word_name(word: &str) -> Result<(), SimError> {
    if word.trim().is_empty() {
        return Err(SimError::BadRequest(
            "The word must not be empty.".to_owned(),
        ));
    }
    Ok(())
}

/// `word_type` of `GET .../words`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordType {
    All,
    User,
    Corpora,
    Grammars,
}

impl WordType {
    /// Parses the query value (default `all`).
    pub fn parse(value: Option<&str>) -> Result<Self, SimError> {
        match value.unwrap_or("all") {
            "all" => Ok(WordType::All),
            "user" => Ok(WordType::User),
            "corpora" => Ok(WordType::Corpora),
            "grammars" => Ok(WordType::Grammars),
            other => Err(SimError::BadRequest(format!(
                "Invalid value '{other}' for query parameter 'word_type'. Use one of: all, user, corpora, grammars."
            ))),
        }
    }
}

/// `sort` of `GET .../words`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordSort {
    pub by_count: bool,
    pub descending: bool,
}

impl WordSort {
    /// Parses `alphabetical`, `count`, with an optional `+`/`-` prefix. A raw `+` that arrived
    /// unencoded decodes to a space, which is accepted as `+`.
    pub fn parse(value: Option<&str>) -> Result<Self, SimError> {
        let raw = value.unwrap_or("alphabetical");
        let (descending, key) = if let Some(k) = raw.strip_prefix('-') {
            (true, k)
        } else if let Some(k) = raw.strip_prefix('+') {
            (false, k)
        } else {
            (false, raw.trim_start())
        };
        let by_count = match key {
            "alphabetical" => false,
            "count" => true,
            _ => {
                return Err(SimError::BadRequest(format!(
                    "Invalid value '{raw}' for query parameter 'sort'. Use alphabetical or count, optionally prefixed by + or -."
                )));
            }
        };
        Ok(WordSort {
            by_count,
            descending,
        })
    }
}

/// Orders words for listing. Alphabetical order is byte order (digits, then upper case, then
/// lower case); count ties are broken alphabetically (ascending).
pub fn sort_words(words: &mut [&Word], sort: WordSort, counts_occurrences: bool) {
    words.sort_by(|a, b| {
        if sort.by_count {
            let (ca, cb) = (a.count(counts_occurrences), b.count(counts_occurrences));
            let by = if sort.descending {
                cb.cmp(&ca)
            } else {
                ca.cmp(&cb)
            };
            by.then_with(|| a.word.cmp(&b.word))
        } else if sort.descending {
            b.word.cmp(&a.word)
        } else {
            a.word.cmp(&b.word)
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn sounds_like_rules() {
        assert!(validate_sounds_like(&s(&["tee eye"]), false, false).is_empty());
        let e = validate_sounds_like(&s(&["75 dollars"]), false, false);
        assert_eq!(
            e[0]["75 dollars"],
            "Numbers are not allowed in sounds_like. You can try for example 'seventy five dollars'."
        );
        assert_eq!(
            validate_sounds_like(&s(&["a", "b", "c", "d", "e", "f"]), false, false).len(),
            1
        );
        let long = "x".repeat(41);
        assert_eq!(validate_sounds_like(&[long], false, false).len(), 1);
        assert!(
            validate_sounds_like(&[format!("  {}  ", "x".repeat(40))], false, false).is_empty()
        );
        assert_eq!(
            validate_sounds_like(&["x".repeat(26)], true, false).len(),
            1
        );
    }

    #[test]
    fn sort_parsing() {
        assert_eq!(
            WordSort::parse(Some("-count")).expect("ok"),
            WordSort {
                by_count: true,
                descending: true
            }
        );
        assert_eq!(
            WordSort::parse(Some(" count")).expect("ok"),
            WordSort {
                by_count: true,
                descending: false
            }
        );
        assert!(WordSort::parse(Some("size")).is_err());
        assert!(WordType::parse(Some("nope")).is_err());
    }

    #[test]
    fn source_bookkeeping() {
        let mut w = Word::from_source("Watson", "c1", 3);
        w.add_source("c2", 2);
        assert_eq!(w.count(true), 5);
        assert_eq!(w.count(false), 1);
        assert!(!w.remove_source("c1"));
        assert!(w.remove_source("c2"));
        let mut u = Word::from_source("IBM", "c1", 1);
        u.apply_user(&CustomWord::default(), vec![], None);
        assert_eq!(u.source_names(), vec!["c1", "user"]);
        assert!(!u.remove_source("c1"));
    }
}
