//! The simulator's stand-in for a base model's vocabulary, and corpus tokenization.
//!
//! Rule (deterministic, documented in `docs/simulator.md`): a corpus token is a maximal run of
//! non-whitespace characters with leading and trailing punctuation removed; tokens with no
//! alphanumeric character are ignored; every other token counts towards `total_words`. A token is
//! out of vocabulary (OOV) when it consists only of letters, apostrophes and hyphens and its
//! lower-case form is not in [`BASE_VOCABULARY`] (about 600 common English words, used for every
//! language). Tokens containing digits are counted but never OOV (the real service spells
//! numbers out).

use std::collections::HashSet;
use std::sync::OnceLock;

/// About 600 common English words.
pub const BASE_VOCABULARY: &str = "\
a about above across act add after again against age ago agree air all almost alone along already also although always \
am among an and animal another answer any anything appear are area arm around as ask at away back bad ball bank base be \
bear beat beautiful became because become bed been before began begin behind being believe below best better between big \
bird black blood blue board boat body book both bottom box boy break bring brother brought build built business busy but \
buy by call came can car care carry case cat catch cause center certain chair change check child children city class clear \
close cold color come common company complete could country course cover cross cry cut dark day dead deal dear decide deep \
did die difference different do doctor does dog done door down draw dream drive drop dry during each ear early earth east \
easy eat edge effect egg eight either else end enough even evening ever every example eye face fact fall family far farm \
fast father fear feel feet felt few field fight figure fill final find fine fire first fish five floor fly follow food foot \
for force form found four free friend from front full game gave general get girl give glass go gold good got government \
great green ground group grow had hair half hand happen happy hard has have he head hear heard heart heat heavy held help \
her here high hill him his history hit hold hole home hope horse hot hour house how however human hundred i idea if \
important in inch include information interest into is island it its job join just keep kept key kind king knew know land \
language large last late laugh law lay lead learn least leave left leg less let letter level life light like line list \
listen little live long look lost lot love low machine made main make man many map mark market matter may me mean measure \
meet men might mile mind minute miss money month moon more morning most mother mountain move much music must my name \
nation near need never new next night nine no north not note nothing notice now number object of off offer office often \
oh old on once one only open or order other our out over own page paper part party pass past pay people perhaps person \
picture piece place plan plant play please point power present problem produce program pull put question quick quiet \
quite rain ran reach read ready real reason receive record red remember report rest result return right river road rock \
room round rule run said same saw say school sea second see seem self sell send sentence serve service set seven several \
shall she ship short should show side sign simple since sing sister sit six size sleep slow small snow so some something \
son song soon sound south space speak special speech spring stand star start state stay step still stop story street strong \
study such sun sure system table take talk teach team tell ten test than thank that the their them then there these they \
thing think third this those though thought thousand three through time to today together told too took top toward town \
tree true try turn two under understand until up upon us use usual very voice wait walk wall want war warm was watch \
water way we week weight well went were west what wheel when where which while white who whole why wide will wind window \
with without woman women wonder word work world would write wrong year yes yet you young your";

fn vocabulary() -> &'static HashSet<&'static str> {
    static VOCAB: OnceLock<HashSet<&'static str>> = OnceLock::new();
    VOCAB.get_or_init(|| BASE_VOCABULARY.split_whitespace().collect())
}

/// Whether `word` (any case) is in the base vocabulary.
pub fn in_vocabulary(word: &str) -> bool {
    vocabulary().contains(word.to_lowercase().as_str())
}

/// Splits text into word tokens (see the module docs).
pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|t| t.chars().any(char::is_alphanumeric))
}

/// Whether a token is an out-of-vocabulary word.
pub fn is_oov(token: &str) -> bool {
    token
        .chars()
        .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        && !in_vocabulary(token)
}

/// Spells out a non-negative integer in English words ("75" → "seventy five").
pub fn number_words(n: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    fn below_thousand(n: u64, out: &mut Vec<String>) {
        let (h, rest) = (n / 100, n % 100);
        if h > 0 {
            out.push(format!("{} hundred", ONES[h as usize]));
        }
        if rest >= 20 {
            out.push(TENS[(rest / 10) as usize].to_owned());
            if rest % 10 > 0 {
                out.push(ONES[(rest % 10) as usize].to_owned());
            }
        } else if rest > 0 {
            out.push(ONES[rest as usize].to_owned());
        }
    }
    if n == 0 {
        return "zero".to_owned();
    }
    let mut out = Vec::new();
    let scales = [
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ];
    let mut rest = n;
    for (value, name) in scales {
        if rest >= value {
            let chunk = rest / value;
            if chunk >= 1000 {
                // Absurdly large; spell the digits.
                return n
                    .to_string()
                    .chars()
                    .filter_map(|c| c.to_digit(10).map(|d| ONES[d as usize]))
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            below_thousand(chunk, &mut out);
            out.push(name.to_owned());
            rest %= value;
        }
    }
    below_thousand(rest, &mut out);
    out.join(" ")
}

/// Replaces every run of digits in `text` by its spelled-out form.
pub fn spell_out_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            let words = digits
                .parse::<u64>()
                .map(number_words)
                .unwrap_or_else(|_| digits.clone());
            out.push_str(&words);
            digits.clear();
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_has_about_six_hundred_words() {
        let n = vocabulary().len();
        assert!((550..=650).contains(&n), "{n}");
    }

    #[test]
    fn tokens_strip_punctuation_and_skip_symbols() {
        let t: Vec<_> = tokens("Hello, world! -- IBM's \"Watson\" 42 ...").collect();
        assert_eq!(t, vec!["Hello", "world", "IBM's", "Watson", "42"]);
    }

    #[test]
    fn oov_rule() {
        assert!(!is_oov("the"));
        assert!(!is_oov("The"));
        assert!(is_oov("Watson"));
        assert!(!is_oov("42"));
        assert!(!is_oov("a1"));
    }

    #[test]
    fn numbers_are_spelled_out() {
        assert_eq!(number_words(75), "seventy five");
        assert_eq!(number_words(1_234), "one thousand two hundred thirty four");
        assert_eq!(spell_out_numbers("75 dollars"), "seventy five dollars");
    }
}
