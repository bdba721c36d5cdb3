//! Measuring a model on the user's test set (issue 28), the pure part: the manifest format,
//! when to measure, what to record and which Event to emit. The I/O (reading the test set,
//! `POST /v1/recognize`, the status patch, the metric) is `reconcile/evaluate.rs`.
//!
//! **When.** A model is measured when `spec.evaluation` is set, the model is Available (the
//! service says `available`, no operation runs) and nothing was measured yet for its current
//! [`measurement_key`]: the customization ID, the base-model version, the digest of the inputs
//! it was trained on and the evaluation spec. So a finished training (new trained inputs), a
//! finished upgrade (new version), a re-created model (new ID) and an edited `spec.evaluation`
//! each get one measurement. A failed attempt is tried again after [`RETRY_AFTER_SECONDS`].
//!
//! **What.** The new measurement becomes `current`; the previous `current` moves to the front of
//! `history` (at most [`HISTORY`] entries); `wer` is the current WER as people read it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sha2::{Digest, Sha256};

use crate::crd::evaluation::{Evaluation, EvaluationPolicy, EvaluationStatus, Measurement};
use crate::crd::{ModelStatus, ServiceStatus, SuccessorStatus};
use crate::wer::{Score, percent};

/// Most items of a test set (each one is a recognition request, billed by IBM).
pub const MAX_ITEMS: usize = 200;
/// Most bytes of one item's audio.
pub const MAX_ITEM_BYTES: u64 = 10 * 1024 * 1024;
/// Most bytes of audio of a whole test set.
pub const MAX_SET_BYTES: u64 = 100 * 1024 * 1024;
/// Most bytes of a manifest.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// Measurements kept in `status.evaluation.history`.
pub const HISTORY: usize = 10;
/// Seconds after a failed attempt before the next one.
pub const RETRY_AFTER_SECONDS: i64 = 300;

/// One item of a test set: an audio file and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestItem {
    /// The file name (a ConfigMap or Secret key, or the last part of a URL).
    pub audio: String,
    /// What the audio says.
    pub reference: String,
}

/// Why a manifest is refused; the message names the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not the expected CSV.
    #[error("test set manifest, line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Over a limit.
    #[error("test set manifest: {0}")]
    TooLarge(String),
}

impl ManifestError {
    /// A short, stable PascalCase category (condition reason, Event reason, metric label).
    pub fn category(&self) -> &'static str {
        match self {
            ManifestError::Malformed { .. } => "InputMalformed",
            ManifestError::TooLarge(_) => "InputTooLarge",
        }
    }
}

fn malformed(line: usize, message: impl Into<String>) -> ManifestError {
    ManifestError::Malformed {
        line,
        message: message.into(),
    }
}

/// The fields of one CSV line (RFC 4180 quoting: `"` around a field, `""` inside it).
fn fields(line: &str, n: usize) -> Result<Vec<String>, ManifestError> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(malformed(n, "a quoted field is not closed"));
    }
    out.push(field);
    Ok(out)
}

/// Whether `name` can be a ConfigMap or Secret key: 1–253 characters of `[-._a-zA-Z0-9]`.
fn is_key(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Parses a manifest in the format of IBM's `watson-stt-wer-python` tool: the header
/// `Audio File Name,Reference` (case and surrounding spaces ignored), then one item per line.
pub fn parse_manifest(text: &str) -> Result<Vec<TestItem>, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(format!(
            "{} bytes, more than the limit of {MAX_MANIFEST_BYTES}",
            text.len()
        )));
    }
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((n, header)) = lines.next() else {
        return Err(malformed(
            1,
            "empty; expected the header `Audio File Name,Reference`",
        ));
    };
    let names: Vec<String> = fields(header, n)?
        .iter()
        .map(|f| f.trim().to_lowercase())
        .collect();
    if names != ["audio file name", "reference"] {
        return Err(malformed(
            n,
            "expected the header `Audio File Name,Reference` (IBM's watson-stt-wer-python format)",
        ));
    }
    let mut items: Vec<TestItem> = Vec::new();
    for (n, line) in lines {
        let f = fields(line, n)?;
        let [audio, reference] = f.as_slice() else {
            return Err(malformed(
                n,
                format!(
                    "expected 2 fields (audio file name, reference), found {}; quote a reference that holds a comma",
                    f.len()
                ),
            ));
        };
        let audio = audio.trim();
        if !is_key(audio) {
            return Err(malformed(
                n,
                format!(
                    "the audio file name {audio:?} must be 1-253 characters of letters, digits, '-', '_' and '.'"
                ),
            ));
        }
        if items.iter().any(|i| i.audio == audio) {
            return Err(malformed(
                n,
                format!("the audio file {audio} is named twice"),
            ));
        }
        if items.len() == MAX_ITEMS {
            return Err(ManifestError::TooLarge(format!(
                "more than {MAX_ITEMS} items"
            )));
        }
        items.push(TestItem {
            audio: audio.to_string(),
            reference: reference.trim().to_string(),
        });
    }
    if items.is_empty() {
        return Err(malformed(n, "no item after the header"));
    }
    Ok(items)
}

/// What a measurement is of: the model, its base-model version, the inputs it was trained on and
/// the evaluation spec (its JSON): 16 hex digits of their SHA-256.
pub fn measurement_key(
    customization_id: &str,
    base_model_version: Option<&str>,
    trained_inputs_digest: Option<&str>,
    evaluation_spec_json: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        customization_id,
        base_model_version.unwrap_or(""),
        trained_inputs_digest.unwrap_or(""),
        evaluation_spec_json,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// What a measurement depends on in `spec.evaluation` (the test set and the recognition
/// options), as JSON for [`measurement_key`]: the policy, the tolerance and the daily limit are
/// left out, so changing them measures nothing again.
pub fn measured_spec(spec: &Evaluation) -> String {
    let measured = Evaluation {
        policy: EvaluationPolicy::Report,
        tolerance_wer_points: None,
        max_measurements_per_day: None,
        ..spec.clone()
    };
    serde_json::to_string(&measured).unwrap_or_default()
}

/// The [`measurement_key`] of the model in service as status records it (its customization ID,
/// newest base-model version and trained inputs); `None` without a customization ID.
pub fn serving_key(st: &ModelStatus, measured_spec: &str) -> Option<String> {
    let id = st.customization_id.as_deref()?;
    Some(measurement_key(
        id,
        st.base_model_version.as_deref(),
        st.trained_inputs_digest.as_deref(),
        measured_spec,
    ))
}

/// The [`measurement_key`] of the new model beside the one in service (`status.successor`),
/// once it is ready to measure: trained on its current inputs, `available` on the service, no
/// operation running. `None` otherwise.
pub fn candidate_key(s: &SuccessorStatus, measured_spec: &str) -> Option<String> {
    let id = s.customization_id.as_deref()?;
    let ready = s.trained_inputs_digest.is_some()
        && s.trained_inputs_digest == s.inputs_digest
        && s.service_status == Some(ServiceStatus::Available)
        && s.current_operation.is_none();
    ready.then(|| {
        measurement_key(
            id,
            s.versions.last().map(String::as_str),
            s.trained_inputs_digest.as_deref(),
            measured_spec,
        )
    })
}

/// Measurements of a model in any 24 hours when `spec.evaluation.maxMeasurementsPerDay` is not
/// set.
pub const DEFAULT_MAX_MEASUREMENTS_PER_DAY: usize = 10;

/// What the evaluation knows about a model now.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts<'a> {
    /// `spec.evaluation` is set.
    pub enabled: bool,
    /// The model is Available on the service and no operation runs.
    pub available: bool,
    /// The current [`measurement_key`] of the model in service; `None` without a customization
    /// ID.
    pub key: Option<&'a str>,
    /// `Gate`: the [`measurement_key`] of the new model beside the one in service, once it is
    /// trained on its inputs and idle (`status.successor`); `None` otherwise.
    pub candidate_key: Option<&'a str>,
    /// The recorded evaluation status.
    pub recorded: Option<&'a EvaluationStatus>,
    /// `spec.evaluation.maxMeasurementsPerDay` (or [`DEFAULT_MAX_MEASUREMENTS_PER_DAY`]).
    pub max_per_day: usize,
    /// Now, seconds since the Unix epoch.
    pub now: i64,
}

/// Whether to measure now, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Measure the model in service as it is now (`status.evaluation.current`).
    Measure,
    /// Measure the new model beside it (`status.evaluation.candidate`).
    MeasureCandidate,
    /// The model in service is the candidate measured before the switch: its measurement
    /// becomes `current` without a new recognition.
    TakeCandidate,
    /// Nothing to do: not enabled, not Available, or already measured.
    Nothing,
    /// The last attempt on this key failed; try again at this time (seconds since the epoch).
    RetryAt(i64),
    /// `maxMeasurementsPerDay` measurements were made in the last 24 hours; the next may start
    /// at this time (seconds since the epoch).
    DayLimit(i64),
}

/// The times (seconds since the epoch) of the measurements recorded in the 24 hours before
/// `now`, oldest first: `current`, `candidate` and the history.
pub fn measured_in_day(recorded: &EvaluationStatus, now: i64) -> Vec<i64> {
    let since = now - 24 * 3600;
    let mut times: Vec<i64> = recorded
        .current
        .iter()
        .chain(recorded.candidate.iter())
        .chain(recorded.history.iter())
        .map(|m| m.measured_at.0.as_second())
        .filter(|t| *t > since)
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// The module's rule: the model in service first (it is the baseline a gate compares with), then
/// the new model beside it; a failed attempt is retried after [`RETRY_AFTER_SECONDS`], and at
/// most `max_per_day` measurements start in any 24 hours.
pub fn verdict(f: &Facts) -> Verdict {
    if !f.enabled {
        return Verdict::Nothing;
    }
    let recorded = f.recorded;
    let current = recorded
        .and_then(|r| r.current.as_ref())
        .map(|m| m.key.as_str());
    let candidate = recorded
        .and_then(|r| r.candidate.as_ref())
        .map(|m| m.key.as_str());
    let serving = f.key.filter(|_| f.available);
    let (target, verdict) = match (serving, f.candidate_key) {
        (Some(key), _) if current != Some(key) && candidate == Some(key) => {
            return Verdict::TakeCandidate;
        }
        (Some(key), _) if current != Some(key) => (key, Verdict::Measure),
        (_, Some(key)) if candidate != Some(key) => (key, Verdict::MeasureCandidate),
        _ => return Verdict::Nothing,
    };
    if let Some(r) = recorded
        && r.failed_key.as_deref() == Some(target)
        && let Some(at) = &r.failed_at
    {
        let retry = at.0.as_second() + RETRY_AFTER_SECONDS;
        if f.now < retry {
            return Verdict::RetryAt(retry);
        }
    }
    if let Some(r) = recorded {
        let day = measured_in_day(r, f.now);
        if day.len() >= f.max_per_day.max(1) {
            let oldest = day[day.len() - f.max_per_day.max(1)];
            return Verdict::DayLimit(oldest + 24 * 3600);
        }
    }
    verdict
}

/// The measurement of `score` for the model version `key` at `at`.
pub fn measurement(
    customization_id: &str,
    base_model_version: Option<&str>,
    trained_inputs_digest: Option<&str>,
    key: &str,
    score: &Score,
    at: Time,
) -> Measurement {
    let bp = score.wer_basis_points();
    Measurement {
        customization_id: customization_id.to_string(),
        base_model_version: base_model_version.map(str::to_string),
        trained_inputs_digest: trained_inputs_digest.map(str::to_string),
        key: key.to_string(),
        wer_basis_points: bp.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        wer: bp.map(percent),
        items: i64::from(score.items),
        words: i64::try_from(score.words).unwrap_or(i64::MAX),
        errors: i64::try_from(score.errors).unwrap_or(i64::MAX),
        measured_at: at,
    }
}

/// The status after a new measurement `m` of the model in service: `m` becomes `current`, the
/// previous `current` moves to the front of the history; `candidate` stays.
pub fn record(recorded: Option<&EvaluationStatus>, m: Measurement) -> EvaluationStatus {
    let mut history = recorded.map(|r| r.history.clone()).unwrap_or_default();
    if let Some(previous) = recorded.and_then(|r| r.current.clone()) {
        history.insert(0, previous);
    }
    history.truncate(HISTORY);
    EvaluationStatus {
        wer: m.wer.clone(),
        current: Some(m),
        candidate: recorded.and_then(|r| r.candidate.clone()),
        history,
        message: None,
        failed_key: None,
        failed_at: None,
    }
}

/// The status after a new measurement `m` of the new model beside the one in service: `m`
/// becomes `candidate` (a candidate measured before is replaced: it was of an older training).
pub fn record_candidate(recorded: Option<&EvaluationStatus>, m: Measurement) -> EvaluationStatus {
    let mut s = recorded.cloned().unwrap_or_default();
    s.candidate = Some(m);
    s.message = None;
    s.failed_key = None;
    s.failed_at = None;
    s
}

/// The status after the switch to the candidate ([`Verdict::TakeCandidate`]): its measurement
/// becomes `current` ([`record`]) and `candidate` is empty.
pub fn take_candidate(recorded: &EvaluationStatus) -> EvaluationStatus {
    let Some(m) = recorded.candidate.clone() else {
        return recorded.clone();
    };
    let mut s = record(Some(recorded), m);
    s.candidate = None;
    s
}

/// The message of [`Verdict::DayLimit`] for `status.evaluation.message`.
pub fn day_limit_message(max_per_day: usize, next: i64) -> String {
    let at = k8s_openapi::jiff::Timestamp::from_second(next)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| next.to_string());
    format!(
        "{max_per_day} measurements in the last 24 hours (spec.evaluation.maxMeasurementsPerDay): the next starts at {at}"
    )
}

/// The status after a failed attempt on `key` at `at` (the message says why; never a secret).
pub fn record_failure(
    recorded: Option<&EvaluationStatus>,
    key: &str,
    at: Time,
    message: String,
) -> EvaluationStatus {
    let mut s = recorded.cloned().unwrap_or_default();
    s.failed_key = Some(key.to_string());
    s.failed_at = Some(at);
    s.message = Some(message);
    s
}

/// An Event about a measurement: its reason, whether it is a Warning, its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// `WerMeasured` (the first), `WerImproved` or `WerRegressed` (Warning).
    pub reason: &'static str,
    /// A regression.
    pub warning: bool,
    /// For people.
    pub message: String,
}

/// The Event for `new` after `previous` (the last measurement before it): none when the WER did
/// not change.
pub fn note(previous: Option<&Measurement>, new: &Measurement) -> Option<Note> {
    let what = |m: &Measurement| m.wer.clone().unwrap_or_else(|| "no WER".to_string());
    let detail = format!(
        "{} items, {} words, {} errors; model {}{}",
        new.items,
        new.words,
        new.errors,
        new.customization_id,
        new.base_model_version
            .as_deref()
            .map(|v| format!(" on {v}"))
            .unwrap_or_default()
    );
    let Some(previous) = previous else {
        return Some(Note {
            reason: "WerMeasured",
            warning: false,
            message: format!("word error rate {} ({detail})", what(new)),
        });
    };
    let (old, now) = (previous.wer_basis_points, new.wer_basis_points);
    if old == now {
        return None;
    }
    let worse = match (old, now) {
        (Some(o), Some(n)) => n > o,
        (Some(_), None) => true,
        (None, _) => false,
    };
    Some(Note {
        reason: if worse { "WerRegressed" } else { "WerImproved" },
        warning: worse,
        message: format!(
            "word error rate {} -> {} ({detail})",
            what(previous),
            what(new)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).expect("time"))
    }

    #[test]
    fn manifests_in_ibms_tool_format() {
        let ok: &[(&str, &[(&str, &str)])] = &[
            (
                "Audio File Name,Reference\na.wav,Call the doctor.\n",
                &[("a.wav", "Call the doctor.")],
            ),
            (
                "\u{feff} audio file name , REFERENCE \r\n\r\na.wav, \"Yes, the \"\"big\"\" one\"\r\nb.flac,no\n",
                &[("a.wav", "Yes, the \"big\" one"), ("b.flac", "no")],
            ),
            ("Audio File Name,Reference\na.wav,\n", &[("a.wav", "")]),
        ];
        for (text, want) in ok {
            let got = parse_manifest(text).expect(text);
            let got: Vec<(&str, &str)> = got
                .iter()
                .map(|i| (i.audio.as_str(), i.reference.as_str()))
                .collect();
            assert_eq!(got, want.to_vec(), "{text:?}");
        }
        let bad: &[(&str, usize)] = &[
            ("", 1),
            ("file,text\na.wav,x\n", 1),
            ("Audio File Name,Reference\n", 1),
            ("Audio File Name,Reference\na.wav,one, two\n", 2),
            ("Audio File Name,Reference\na.wav,\"open\n", 2),
            ("Audio File Name,Reference\n../a.wav,x\n", 2),
            ("Audio File Name,Reference\na.wav,x\n\na.wav,y\n", 4),
        ];
        for (text, line) in bad {
            match parse_manifest(text) {
                Err(ManifestError::Malformed { line: l, .. }) => assert_eq!(l, *line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let many = format!(
            "Audio File Name,Reference\n{}",
            (0..=MAX_ITEMS)
                .map(|i| format!("{i}.wav,x\n"))
                .collect::<String>()
        );
        assert_eq!(
            parse_manifest(&many).map_err(|e| e.category()),
            Err("InputTooLarge")
        );
    }

    #[test]
    fn a_model_is_measured_once_per_version_and_retried_after_a_failure() {
        let key = measurement_key("id", Some("v1"), Some("d1"), "{}");
        let other = measurement_key("id", Some("v2"), Some("d1"), "{}");
        assert_ne!(key, other, "another version is another key");
        assert_ne!(
            key,
            measurement_key("id", Some("v1"), Some("d2"), "{}"),
            "another training is another key"
        );
        assert_ne!(
            key,
            measurement_key("id", Some("v1"), Some("d1"), "{\"a\":1}"),
            "another spec is another key"
        );
        let m = measurement("id", Some("v1"), Some("d1"), &key, &Score::default(), t(0));
        let measured = record(None, m);
        let failed = record_failure(None, &key, t(1000), "x".into());
        type Case<'a> = (
            &'a str,
            bool,
            bool,
            Option<&'a str>,
            Option<&'a EvaluationStatus>,
            Verdict,
        );
        let cases: Vec<Case> = vec![
            (
                "not enabled",
                false,
                true,
                Some(&key),
                None,
                Verdict::Nothing,
            ),
            (
                "not available",
                true,
                false,
                Some(&key),
                None,
                Verdict::Nothing,
            ),
            ("no model yet", true, true, None, None, Verdict::Nothing),
            (
                "never measured",
                true,
                true,
                Some(&key),
                None,
                Verdict::Measure,
            ),
            (
                "measured",
                true,
                true,
                Some(&key),
                Some(&measured),
                Verdict::Nothing,
            ),
            (
                "new version",
                true,
                true,
                Some(&other),
                Some(&measured),
                Verdict::Measure,
            ),
            (
                "failed just now",
                true,
                true,
                Some(&key),
                Some(&failed),
                Verdict::RetryAt(1000 + RETRY_AFTER_SECONDS),
            ),
            (
                "failed on another key",
                true,
                true,
                Some(&other),
                Some(&failed),
                Verdict::Measure,
            ),
        ];
        for (what, enabled, available, key, recorded, want) in cases {
            let f = Facts {
                enabled,
                available,
                key,
                candidate_key: None,
                recorded,
                max_per_day: 10,
                now: 1100,
            };
            assert_eq!(verdict(&f), want, "{what}");
        }
        let later = Facts {
            enabled: true,
            available: true,
            key: Some(&key),
            candidate_key: None,
            recorded: Some(&failed),
            max_per_day: 10,
            now: 1000 + RETRY_AFTER_SECONDS,
        };
        assert_eq!(verdict(&later), Verdict::Measure);
    }

    #[test]
    fn measurements_move_into_history_and_changes_make_events() {
        let score = |words, errors| Score {
            items: 2,
            words,
            errors,
        };
        let m = |key: &str, s: Score| measurement("id", Some("v1"), None, key, &s, t(0));
        let first = m("k1", score(10, 5));
        assert_eq!(first.wer.as_deref(), Some("50.00%"));
        let n = note(None, &first).expect("first");
        assert_eq!((n.reason, n.warning), ("WerMeasured", false));
        assert!(
            n.message.contains("50.00%") && n.message.contains("on v1"),
            "{}",
            n.message
        );

        let s1 = record(None, first.clone());
        assert_eq!(
            (s1.wer.as_deref(), s1.history.len(), s1.message.as_deref()),
            (Some("50.00%"), 0, None)
        );
        let better = m("k2", score(10, 1));
        let s2 = record(Some(&s1), better.clone());
        assert_eq!(s2.wer.as_deref(), Some("10.00%"));
        assert_eq!(s2.history, vec![first.clone()]);
        let n = note(Some(&first), &better).expect("improved");
        assert_eq!((n.reason, n.warning), ("WerImproved", false));
        assert!(n.message.contains("50.00% -> 10.00%"), "{}", n.message);
        let n = note(Some(&better), &first).expect("regressed");
        assert_eq!((n.reason, n.warning), ("WerRegressed", true));
        assert_eq!(
            note(Some(&first), &m("k3", score(10, 5))),
            None,
            "same WER: no Event"
        );

        let mut s = s2;
        for i in 0..(HISTORY + 3) {
            s = record(Some(&s), m(&format!("h{i}"), score(10, 2)));
        }
        assert_eq!(s.history.len(), HISTORY);
        let failed = record_failure(Some(&s), "k9", t(5), "recognition refused".into());
        assert_eq!(
            failed.current, s.current,
            "a failure keeps the last measurement"
        );
        assert_eq!(failed.message.as_deref(), Some("recognition refused"));
    }

    #[test]
    fn the_model_in_service_is_measured_before_the_candidate_and_a_day_has_a_limit() {
        let key = |id: &str| measurement_key(id, Some("v1"), Some("d1"), "{}");
        let (serving, new) = (key("id"), key("new"));
        let m = |k: &str, at: i64| measurement("x", Some("v1"), None, k, &Score::default(), t(at));
        let facts = |recorded: Option<&EvaluationStatus>, candidate: bool, now: i64| {
            verdict(&Facts {
                enabled: true,
                available: true,
                key: Some(&serving),
                candidate_key: candidate.then_some(new.as_str()),
                recorded,
                max_per_day: 3,
                now,
            })
        };
        let day = 24 * 3600;
        assert_eq!(facts(None, true, day), Verdict::Measure, "baseline first");
        let baseline = record(None, m(&serving, 10));
        assert_eq!(facts(Some(&baseline), true, day), Verdict::MeasureCandidate);
        assert_eq!(facts(Some(&baseline), false, day), Verdict::Nothing);
        let both = record_candidate(Some(&baseline), m(&new, 20));
        assert_eq!(both.current, baseline.current, "the baseline stays");
        assert_eq!(facts(Some(&both), true, day), Verdict::Nothing);

        // After the switch the model in service is the candidate: its measurement is taken.
        let after = Facts {
            enabled: true,
            available: true,
            key: Some(&new),
            candidate_key: None,
            recorded: Some(&both),
            max_per_day: 3,
            now: day,
        };
        assert_eq!(verdict(&after), Verdict::TakeCandidate);
        let taken = take_candidate(&both);
        assert_eq!(
            taken.current.as_ref().map(|m| m.key.as_str()),
            Some(new.as_str())
        );
        assert_eq!(taken.candidate, None);
        assert_eq!(
            taken.history.first().map(|m| m.key.as_str()),
            Some(serving.as_str())
        );

        // Three measurements in the last 24 hours: the next waits until the oldest is a day old.
        let mut busy = record(None, m("a", 100));
        busy = record(Some(&busy), m("b", 200));
        busy = record_candidate(Some(&busy), m("c", 300));
        assert_eq!(facts(Some(&busy), true, 1000), Verdict::DayLimit(100 + day));
        assert_eq!(facts(Some(&busy), true, 100 + day), Verdict::Measure);
        assert!(day_limit_message(3, 100 + day).contains("maxMeasurementsPerDay"));
    }

    #[test]
    fn policy_tolerance_and_limit_are_not_part_of_what_is_measured() {
        let spec: Evaluation = serde_json::from_value(serde_json::json!({
            "testSet": {"manifest": {"text": "x"}, "audio": {"configMapName": "a"}},
            "policy": "Report"
        }))
        .expect("spec");
        let gated = Evaluation {
            policy: EvaluationPolicy::Gate,
            tolerance_wer_points: Some(5),
            max_measurements_per_day: Some(2),
            ..spec.clone()
        };
        assert_eq!(measured_spec(&spec), measured_spec(&gated));
        let other_weight = Evaluation {
            customization_weight: Some(0.5),
            ..spec.clone()
        };
        assert_ne!(measured_spec(&spec), measured_spec(&other_weight));
    }

    #[test]
    fn the_new_model_is_ready_to_measure_once_trained_on_its_inputs_and_idle() {
        let ready = SuccessorStatus {
            customization_id: Some("new".into()),
            versions: vec!["v1".into(), "v2".into()],
            inputs_digest: Some("d2".into()),
            trained_inputs_digest: Some("d2".into()),
            service_status: Some(ServiceStatus::Available),
            ..Default::default()
        };
        assert_eq!(
            candidate_key(&ready, "{}"),
            Some(measurement_key("new", Some("v2"), Some("d2"), "{}"))
        );
        let not = |f: fn(&mut SuccessorStatus)| {
            let mut s = ready.clone();
            f(&mut s);
            candidate_key(&s, "{}")
        };
        assert_eq!(not(|s| s.customization_id = None), None, "deleted");
        assert_eq!(
            not(|s| s.trained_inputs_digest = None),
            None,
            "never trained"
        );
        assert_eq!(
            not(|s| s.inputs_digest = Some("d3".into())),
            None,
            "trained on older inputs"
        );
        assert_eq!(
            not(|s| s.service_status = Some(ServiceStatus::Training)),
            None,
            "training"
        );
        let serving = ModelStatus {
            customization_id: Some("id".into()),
            base_model_version: Some("v1".into()),
            trained_inputs_digest: Some("d1".into()),
            ..Default::default()
        };
        assert_eq!(
            serving_key(&serving, "{}"),
            Some(measurement_key("id", Some("v1"), Some("d1"), "{}"))
        );
        assert_eq!(serving_key(&ModelStatus::default(), "{}"), None);
    }
}
