//! The operation record and its history, and how long operations are expected to take (the
//! ETA in `currentOperation.expectedFinishAt`, and when one is overdue): the effect of each action
//! on what status remembers.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{Outcome, Timing, TrackedResource};
use crate::crd::{
    ModelStatus, OperationOutcome, OperationRecord, OperationType, ResourceServiceStatus,
    ResourceStatus,
};
use crate::{Action, Facts, OperationKind, ResourceClass, ServiceStatus, WaitReason};

/// At most this many finished operations are kept in `status.history`.
pub const HISTORY_LENGTH: usize = 10;

/// How long this model's operations are expected to take, and when one is overdue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expected {
    pub train: Duration,
    pub upgrade: Duration,
    /// The analysis of one corpus, grammar or audio resource.
    pub analysis: Duration,
    /// Overdue past this many times the expected duration.
    pub overdue_factor: u32,
}

impl Default for Expected {
    fn default() -> Self {
        Expected {
            train: Duration::from_secs(600),
            upgrade: Duration::from_secs(600),
            analysis: Duration::from_secs(600),
            overdue_factor: 3,
        }
    }
}

impl Expected {
    /// The expected length of an operation of `kind`.
    pub fn of_kind(&self, kind: OperationKind) -> Duration {
        match kind {
            OperationKind::Train => self.train,
            OperationKind::Upgrade => self.upgrade,
        }
    }

    /// The same for an operation record's `type` ([`OperationKind::of_record`]).
    fn of(&self, record_type: &OperationType) -> Duration {
        self.of_kind(OperationKind::of_record(record_type))
    }
}

/// The expectations for a model: its own last successful operations ([`expected_duration`]),
/// else `audio_seconds` × `timing.training_per_audio_second` for an acoustic model, else the
/// defaults of `timing`. An upgrade without a successful upgrade in the history is expected to
/// take what a training takes: an upgrade retrains the model on the new base-model version, and
/// an acoustic upgrade "takes about as long as the audio" (watson-api.md §5.6), so the audio
/// counts for it as for a training.
pub fn expectations(st: &ModelStatus, audio_seconds: i64, timing: &Timing) -> Expected {
    let audio_estimate = (audio_seconds as f64 * timing.training_per_audio_second).round() as i64;
    let train = expected_duration(
        st,
        OperationKind::Train,
        audio_estimate,
        timing.expected_training,
    );
    Expected {
        train,
        upgrade: last_succeeded(st, OperationKind::Upgrade).unwrap_or(train),
        analysis: timing.expected_analysis,
        overdue_factor: timing.overdue_factor,
    }
}

/// What status records of a language model's custom words.
pub(super) struct WordRecord {
    /// `StatusUpdate::word_count`.
    pub(super) count: Option<i64>,
    /// `StatusUpdate::words_digest`.
    pub(super) digest: Option<String>,
}

impl WordRecord {
    /// A new or reset model: no word.
    const NONE_HELD: Self = Self {
        count: Some(0),
        digest: None,
    };
    /// Unknown until the next word listing.
    const UNKNOWN: Self = Self {
        count: None,
        digest: None,
    };
}

/// The effect of the action itself on status: identity, uploads, operations and history.
pub(super) fn record_action(
    st: &mut ModelStatus,
    resources: &mut Vec<TrackedResource>,
    words: &mut WordRecord,
    facts: &Facts,
    action: &Action,
    outcome: &Outcome,
    now: Timestamp,
) {
    let digest = &facts.desired.inputs_digest;
    let operation = |kind: OperationType| OperationRecord {
        kind: kind.clone(),
        started_at: Time(now),
        inputs_digest: Some(digest.clone()),
        expected_finish_at: Some(Time(later(now, facts.expected.of(&kind)))),
        running_seen_at: None,
        started_from: facts.observed.as_ref().and_then(|o| o.status.clone()),
        finished_at: None,
        outcome: None,
        duration_seconds: None,
        message: None,
    };
    match action {
        Action::Create | Action::Recreate => {
            st.customization_id = outcome.created_id.clone();
            st.base_model_name = facts.base_model_name.clone();
            st.adopted = None;
            st.trained_inputs_digest = None;
            st.current_operation = None;
            st.service_status = Some(ServiceStatus::Pending);
            st.versions.clear();
            st.base_model_version = None;
            resources.clear();
            // A new model holds no words.
            *words = WordRecord::NONE_HELD;
        }
        Action::Reset => {
            st.reset_request_token = facts.desired.reset_token.clone();
            st.trained_inputs_digest = None;
            st.current_operation = None;
            st.service_status = Some(ServiceStatus::Pending);
            resources.clear();
            *words = WordRecord::NONE_HELD;
        }
        Action::Adopt {
            customization_id,
            recovered,
        } => {
            st.customization_id = Some(customization_id.clone());
            st.adopted = (!recovered).then_some(true);
            *words = WordRecord::UNKNOWN;
        }
        Action::AddResource { name, .. } => {
            let uploaded = facts.desired.resources.get(name).cloned();
            let class = uploaded
                .as_deref()
                .map(ResourceClass::of_digest)
                .unwrap_or(ResourceClass::Corpus);
            resources.retain(|r| &r.status.name != name);
            resources.push(TrackedResource {
                class,
                status: ResourceStatus {
                    name: name.clone(),
                    digest: uploaded,
                    added_at: Some(Time(now)),
                    service_status: Some(ResourceServiceStatus::BeingProcessed),
                    ..Default::default()
                },
            });
        }
        Action::DeleteResource { name } => resources.retain(|r| &r.status.name != name),
        // Until the next listing, the operator does not know what the service holds.
        Action::AddWords { words: sent } => {
            *words = WordRecord {
                count: None,
                digest: words_after_adding(facts, sent),
            }
        }
        Action::DeleteWord { .. } => *words = WordRecord::UNKNOWN,
        Action::Train { .. } => {
            if outcome.already_trained {
                st.trained_inputs_digest = Some(digest.clone());
            } else {
                st.current_operation = Some(operation(OperationType::Train));
                st.service_status = Some(ServiceStatus::Training);
                // The service's words, bounded: at most 20 warnings of at most 1 KiB each.
                st.warnings = outcome
                    .warnings
                    .iter()
                    .take(20)
                    .map(|w| crate::text::cut(w, crate::text::EVENT_NOTE_MAX_BYTES))
                    .collect();
            }
            if facts.desired.train_token.is_some() {
                st.train_request_token = facts.desired.train_token.clone();
            }
        }
        Action::Upgrade { .. } => {
            st.current_operation = Some(operation(OperationType::Upgrade));
            st.service_status = Some(ServiceStatus::Upgrading);
            if facts.desired.upgrade_token.is_some() {
                st.upgrade_request_token = facts.desired.upgrade_token.clone();
            }
        }
        Action::Finish { kind, succeeded } => finish(st, *kind, *succeeded, digest, now),
        // Observed only: no operation of the operator's own is running or awaited.
        Action::Observe(_) => st.current_operation = None,
        _ => {}
    }
}

/// The digest of the words the service holds after the operator added `sent` (the spec's
/// definitions) to the words this check observed: the spec's digest when that makes exactly the
/// spec's words, else `None` (unknown until the next listing).
fn words_after_adding(facts: &Facts, sent: &[String]) -> Option<String> {
    let mut held = facts.observed.as_ref()?.words.clone();
    for w in sent {
        held.insert(w.clone(), facts.desired.words.get(w)?.clone());
    }
    (held == facts.desired.words).then(|| crate::digest::language_words(&held))
}

/// Moves the current operation to the history with its outcome and duration.
fn finish(
    st: &mut ModelStatus,
    kind: OperationKind,
    succeeded: bool,
    digest: &str,
    now: Timestamp,
) {
    if let Some(mut op) = st.current_operation.take() {
        op.finished_at = Some(Time(now));
        op.expected_finish_at = None;
        op.duration_seconds = Some(now.as_second() - op.started_at.0.as_second());
        op.outcome = Some(if succeeded {
            OperationOutcome::Succeeded
        } else {
            OperationOutcome::Failed
        });
        if kind == OperationKind::Train {
            if succeeded {
                st.trained_inputs_digest = op.inputs_digest.clone();
            } else {
                op.message = Some(
                    "the service reported the training as failed; see the resource errors".into(),
                );
            }
        }
        st.history.insert(0, op);
        st.history.truncate(HISTORY_LENGTH);
    }
    if kind == OperationKind::Train && !succeeded {
        // Failed trainings are remembered through the history and the TrainingFailed reason.
        st.warnings = vec![format!("training failed for inputs {digest}")];
    }
}

/// `t` plus `d` (saturating at the end of representable time).
fn later(t: Timestamp, d: Duration) -> Timestamp {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_second(t.as_second().saturating_add(secs)).unwrap_or(t)
}

/// The message for an operation running past `overdue_factor` times its expected length: a
/// training or upgrade (from `currentOperation`), or the analysis of a resource (from its
/// upload). `None` when nothing is overdue. Nothing is re-created or deleted for it.
pub fn overdue(
    st: &ModelStatus,
    resources: &[TrackedResource],
    action: &Action,
    expected: &Expected,
    now: Timestamp,
) -> Option<String> {
    let (what, since, expected_len) = match action {
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading,
        } => {
            let op = st.current_operation.as_ref()?;
            let what = if op.kind == OperationType::Upgrade {
                "the upgrade"
            } else {
                "the training"
            };
            (what.to_string(), op.started_at.0, expected.of(&op.kind))
        }
        Action::Wait {
            reason: WaitReason::Processing,
        } => {
            let (name, since) = resources
                .iter()
                .filter(|r| r.status.service_status == Some(ResourceServiceStatus::BeingProcessed))
                .filter_map(|r| Some((r.status.name.clone(), r.status.added_at.as_ref()?.0)))
                .min_by_key(|(_, t)| *t)?;
            (format!("the analysis of {name}"), since, expected.analysis)
        }
        _ => return None,
    };
    let running = Duration::from_secs((now.as_second() - since.as_second()).max(0) as u64);
    let limit = expected_len.saturating_mul(expected.overdue_factor.max(1));
    (running > limit).then(|| {
        format!(
            "{what} has been running for {} s, more than {} times the expected {} s; the operator keeps waiting and changes nothing (if the service never finishes it, contact IBM support with the customization ID)",
            running.as_secs(),
            expected.overdue_factor,
            expected_len.as_secs()
        )
    })
}

/// How long an operation of `kind` is expected to take: the model's last successful one of that
/// kind (from `status.history`), else `audio_seconds` for an acoustic training (training takes
/// about as long as the audio), else `default`.
pub fn expected_duration(
    st: &ModelStatus,
    kind: OperationKind,
    audio_seconds: i64,
    default: Duration,
) -> Duration {
    match last_succeeded(st, kind) {
        Some(d) => d,
        None if audio_seconds > 0 => Duration::from_secs(audio_seconds as u64),
        None => default,
    }
}

/// How long the model's last successful operation of `kind` took (`status.history`, newest
/// first), at least 1 s; `None` when the history holds none.
fn last_succeeded(st: &ModelStatus, kind: OperationKind) -> Option<Duration> {
    let name = kind.record_type();
    st.history
        .iter()
        .find(|h| h.kind == name && h.outcome == Some(OperationOutcome::Succeeded))
        .and_then(|h| h.duration_seconds)
        .map(|s| Duration::from_secs(s.max(1) as u64))
}
