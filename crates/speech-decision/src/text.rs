//! User-facing text that must fit the API server and say no content: messages cut to the
//! server's limits in bytes (UTF-8 safe), and URLs shown without what may be a secret.
//!
//! The limits are the API server's validation: `metav1.Condition.message` at most 32768 bytes
//! (`k8s.io/apimachinery/pkg/apis/meta/v1/types.go`), an `events.k8s.io/v1` Event's `note` at
//! most 1 KiB (`k8s.io/kubernetes/pkg/apis/events/validation`, `NoteLengthLimit`). A longer
//! message makes the whole status write or Event fail, so every writer cuts first.

/// Longest condition message the API server accepts, in bytes.
pub const CONDITION_MESSAGE_MAX_BYTES: usize = 32 * 1024;

/// Longest Event note the API server accepts, in bytes.
pub const EVENT_NOTE_MAX_BYTES: usize = 1024;

/// What ends a text that was cut (three bytes in UTF-8).
const ELLIPSIS: char = '…';

/// `text` when it fits in `max_bytes`; otherwise its longest prefix that ends on a character
/// boundary and leaves room for `…`, followed by `…`. The result never exceeds `max_bytes`
/// bytes (for `max_bytes` < 3, the bare prefix).
pub fn cut(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let room = max_bytes.saturating_sub(ELLIPSIS.len_utf8());
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_string();
    if max_bytes >= ELLIPSIS.len_utf8() {
        out.push(ELLIPSIS);
    }
    out
}

/// A URL as the operator shows it in status, Events and logs: scheme, host, port and path,
/// without userinfo (`user:password@`), query (a presigned URL's signature) or fragment. Text
/// that does not parse as a URL is replaced by a placeholder rather than repeated, since it may
/// be anything.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(an invalid URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_short_text_and_cuts_long_text_on_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("exactly10!", 10), "exactly10!");
        let long = "é".repeat(600); // 1200 bytes
        let c = cut(&long, EVENT_NOTE_MAX_BYTES);
        assert!(c.len() <= EVENT_NOTE_MAX_BYTES, "{}", c.len());
        assert!(c.ends_with('…'));
        assert!(c.len() >= EVENT_NOTE_MAX_BYTES - 4, "{}", c.len());
        // Every boundary: four-byte characters, every limit.
        let emoji = "😀".repeat(50);
        for max in 0..=emoji.len() + 1 {
            let c = cut(&emoji, max);
            assert!(c.len() <= max, "{max}: {}", c.len());
        }
    }

    #[test]
    fn urls_lose_userinfo_query_and_fragment() {
        assert_eq!(
            redact_url("https://user:pa55@example.com:8443/a/b.wav?X-Amz-Signature=abc#frag"),
            "https://example.com:8443/a/b.wav"
        );
        assert_eq!(redact_url("http://example.com/x"), "http://example.com/x");
        assert_eq!(redact_url("not a url with secret"), "(an invalid URL)");
    }
}
