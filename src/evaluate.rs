//! `watson-speech-operator evaluate` (issue 28 point 7): the operator's measurement of a model
//! outside the cluster. Reads a test-set directory (a `manifest.csv` in the format of
//! `spec.evaluation`, IBM's `watson-stt-wer-python` CSV, and the audio files it names), recognises
//! each item with the model (`POST /v1/recognize`) and prints a table: per item its words,
//! errors, WER and transcript, then the total WER (errors over words, summed over items). Same
//! normalisation, limits and manifest rules as the operator ([`crate::decision::evaluation`],
//! [`crate::decision::wer`]).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::decision::evaluation::{self as rule, MAX_ITEM_BYTES, MAX_SET_BYTES};
use crate::decision::wer::{Score, percent};
use crate::watson::stt_types::RecognizeParams;
use crate::watson::{Auth, Bytes, ClientConfig, RetryPolicy, SttClient};

/// The flags of `evaluate`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// The service URL including the instance part, as in a SpeechService's `spec.url`.
    #[arg(long)]
    pub url: String,
    /// The environment variable holding the IAM API key.
    #[arg(long)]
    pub apikey_env: Option<String>,
    /// A file holding the IAM API key (surrounding whitespace ignored).
    #[arg(long, conflicts_with = "apikey_env")]
    pub apikey_file: Option<PathBuf>,
    /// The IAM token endpoint base URL.
    #[arg(long, default_value = "https://iam.cloud.ibm.com")]
    pub iam_url: String,
    /// The base model, e.g. `en-US_Telephony` (`model`).
    #[arg(long)]
    pub model: String,
    /// The custom language model to measure (`language_customization_id`); omitted: the base
    /// model alone.
    #[arg(long)]
    pub customization_id: Option<String>,
    /// The base-model version to recognise with (`base_model_version`).
    #[arg(long)]
    pub base_model_version: Option<String>,
    /// `customization_weight`, 0.0 to 1.0.
    #[arg(long)]
    pub customization_weight: Option<f64>,
    /// The audio `Content-Type`.
    #[arg(long, default_value = "audio/wav")]
    pub content_type: String,
    /// The test-set directory: `manifest.csv` and the audio files it names.
    #[arg(long)]
    pub test_set: PathBuf,
}

/// Why `evaluate` failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// Bad flags or credentials.
    #[error("{0}")]
    Usage(String),
    /// The test set cannot be read or breaks a rule.
    #[error("{0}")]
    TestSet(String),
    /// The service refused or failed.
    #[error(transparent)]
    Service(#[from] crate::watson::Error),
}

impl crate::errors::Classified for EvaluateError {
    fn category(&self) -> &'static str {
        match self {
            EvaluateError::Usage(_) => "InvalidArgument",
            EvaluateError::TestSet(_) => "InputMalformed",
            EvaluateError::Service(e) => e.category(),
        }
    }

    fn retry_class(&self) -> crate::errors::RetryClass {
        match self {
            EvaluateError::Service(e) => e.retry_class(),
            _ => crate::errors::RetryClass::WaitForSpecChange,
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The audio file.
    pub audio: String,
    /// Its score.
    pub score: Score,
    /// What the service heard.
    pub transcript: String,
}

/// The table `evaluate` prints: one line per item, then the total.
pub fn table(rows: &[Row]) -> String {
    let wer = |s: &Score| {
        s.wer_basis_points()
            .map_or_else(|| "-".to_string(), percent)
    };
    let width = rows
        .iter()
        .map(|r| r.audio.len())
        .chain([5])
        .max()
        .unwrap_or(5);
    let mut out = format!(
        "{:<width$}  {:>5}  {:>6}  {:>8}  TRANSCRIPT\n",
        "AUDIO", "WORDS", "ERRORS", "WER"
    );
    let mut total = Score::default();
    for r in rows {
        total = total.plus(r.score);
        out.push_str(&format!(
            "{:<width$}  {:>5}  {:>6}  {:>8}  {}\n",
            r.audio,
            r.score.words,
            r.score.errors,
            wer(&r.score),
            r.transcript
        ));
    }
    out.push_str(&format!(
        "{:<width$}  {:>5}  {:>6}  {:>8}  {} items\n",
        "TOTAL",
        total.words,
        total.errors,
        wer(&total),
        total.items
    ));
    out
}

fn api_key(args: &EvaluateArgs) -> Result<String, EvaluateError> {
    let key = match (&args.apikey_env, &args.apikey_file) {
        (Some(var), _) => std::env::var(var).unwrap_or_default(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            EvaluateError::Usage(format!(
                "cannot read the credentials file {} (--apikey-file): {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            return Err(EvaluateError::Usage(
                "no credentials: pass --apikey-env VAR or --apikey-file PATH holding the API key"
                    .into(),
            ));
        }
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(EvaluateError::Usage(
            "the API key (--apikey-env or --apikey-file) is empty".into(),
        ));
    }
    Ok(key)
}

fn parse_url(flag: &str, value: &str) -> Result<url::Url, EvaluateError> {
    url::Url::parse(value)
        .map_err(|e| EvaluateError::Usage(format!("{flag} {value:?} is not a URL ({e})")))
}

/// Measures the model on the test set and returns the rows, in manifest order.
pub async fn measure(args: &EvaluateArgs) -> Result<Vec<Row>, EvaluateError> {
    crate::tls::install_crypto_provider();
    let manifest_path = args.test_set.join("manifest.csv");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(|e| {
        EvaluateError::TestSet(format!("cannot read {}: {e}", manifest_path.display()))
    })?;
    let items =
        rule::parse_manifest(&manifest).map_err(|e| EvaluateError::TestSet(e.to_string()))?;
    let auth = Auth::Iam {
        api_key: SecretString::from(api_key(args)?),
        url: parse_url("--iam-url", &args.iam_url)?,
    };
    let mut config = ClientConfig::new(parse_url("--url", &args.url)?, auth);
    config.retry = RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(5),
        max_elapsed: Duration::from_secs(30),
    };
    config.user_agent = format!(
        "watson-speech-operator-evaluate/{}",
        env!("CARGO_PKG_VERSION")
    );
    let stt = SttClient::new(config)?;
    let params = RecognizeParams {
        model: Some(args.model.clone()),
        language_customization_id: args.customization_id.clone(),
        base_model_version: args.base_model_version.clone(),
        customization_weight: args.customization_weight,
        ..RecognizeParams::default()
    };
    let mut rows = Vec::new();
    let mut bytes = 0u64;
    for item in items {
        let path = args.test_set.join(&item.audio);
        let len = std::fs::metadata(&path)
            .map_err(|e| EvaluateError::TestSet(format!("cannot read {}: {e}", path.display())))?
            .len();
        if len > MAX_ITEM_BYTES {
            return Err(EvaluateError::TestSet(format!(
                "{}: {len} bytes, more than the limit of {MAX_ITEM_BYTES}",
                path.display()
            )));
        }
        bytes += len;
        if bytes > MAX_SET_BYTES {
            return Err(EvaluateError::TestSet(format!(
                "more than {MAX_SET_BYTES} bytes of audio in all"
            )));
        }
        let audio = std::fs::read(&path)
            .map_err(|e| EvaluateError::TestSet(format!("cannot read {}: {e}", path.display())))?;
        let answer = stt
            .recognize(&params, &args.content_type, Bytes::from(audio))
            .await?;
        let transcript = answer.transcript();
        rows.push(Row {
            score: Score::item(&item.reference, &transcript),
            audio: item.audio,
            transcript,
        });
    }
    Ok(rows)
}

/// `evaluate`: the table.
pub async fn run(args: &EvaluateArgs) -> Result<String, EvaluateError> {
    Ok(table(&measure(args).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sums_errors_and_words_over_items() {
        let row = |audio: &str, words, errors, transcript: &str| Row {
            audio: audio.into(),
            score: Score {
                items: 1,
                words,
                errors,
            },
            transcript: transcript.into(),
        };
        let text = table(&[
            row("a.wav", 5, 1, "call the doctor about water"),
            row(
                "long-name.wav",
                7,
                0,
                "please give me some paracetamol with water",
            ),
            row("silent.wav", 0, 0, ""),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[0].starts_with("AUDIO          WORDS  ERRORS       WER  TRANSCRIPT"),
            "{text}"
        );
        assert!(lines[1].contains("    20.00%  call the doctor"), "{text}");
        assert!(
            lines[3].contains("         -  "),
            "no words: no WER\n{text}"
        );
        assert!(lines[4].starts_with("TOTAL"), "{text}");
        assert!(lines[4].contains("12       1     8.33%  3 items"), "{text}");
    }
}
