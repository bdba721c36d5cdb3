//! Grammar analysis: is there a rule, and which words are out of vocabulary.

use std::collections::BTreeMap;

use crate::vocabulary;

/// Checks that grammar text has a recognisable rule (ABNF: a `$name = ...` definition; XML: a
/// `<grammar>` with a `<rule>`) and extracts its OOV words. Returns `(valid, oov)`.
pub fn analyse_grammar(text: &str, xml: bool, extract_oov: bool) -> (bool, BTreeMap<String, u64>) {
    let (valid, words_text) = if xml {
        let valid = text.contains("<grammar") && text.contains("<rule");
        // Keep only text between tags.
        let mut out = String::new();
        let mut in_tag = false;
        for c in text.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        (valid, out)
    } else {
        let valid = abnf_has_rule(text);
        let mut out = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#')
                || [
                    "language ",
                    "mode ",
                    "root ",
                    "tag-format ",
                    "lexicon ",
                    "base ",
                ]
                .iter()
                .any(|k| line.starts_with(k))
            {
                continue;
            }
            let mut skip_until: Option<char> = None;
            let mut in_ref = false;
            for c in line.chars() {
                if let Some(end) = skip_until {
                    if c == end {
                        skip_until = None;
                    }
                    continue;
                }
                match c {
                    '<' => skip_until = Some('>'),
                    '{' => skip_until = Some('}'),
                    '/' => skip_until = Some('/'),
                    '$' => in_ref = true,
                    c if in_ref && (c.is_alphanumeric() || c == '_' || c == '-') => {}
                    _ => {
                        in_ref = false;
                        out.push(if "=;|()[]".contains(c) { ' ' } else { c });
                    }
                }
            }
            out.push('\n');
        }
        (valid, out)
    };
    let mut oov = BTreeMap::new();
    if valid && extract_oov {
        for t in vocabulary::tokens(&words_text) {
            if vocabulary::is_oov(t) {
                *oov.entry(t.to_owned()).or_insert(0) += 1;
            }
        }
    }
    (valid, oov)
}

fn abnf_has_rule(text: &str) -> bool {
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        let ident_len = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        if ident_len > 0 && after[ident_len..].trim_start().starts_with('=') {
            return true;
        }
        rest = after;
    }
    false
}
