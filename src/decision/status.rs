//! The status to write for a decision, pure: phase, conditions with stable reasons and messages,
//! the operation record and history, warnings, the Event to emit and when to look again.
//!
//! Status remembers what was observed and uploaded, never what was asked for: the per-resource
//! lists come from the service's listings (plus the digest of what the operator uploaded), the
//! word count from the last word listing. Conditions follow the Kubernetes API conventions
//! (`type`, `status`, `reason`, `message`, `observedGeneration`; the transition time moves only
//! when the status changes).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::{Action, Facts, ModelKind, OperationKind, TerminalFailure, WaitReason};
use crate::crd::{ModelStatus, OperationRecord, Phase, ResourceStatus};

/// Condition type: the model is usable and trained on the current inputs.
pub const READY: &str = "Ready";
/// Condition type: the trained model reflects the current inputs.
pub const TRAINED: &str = "Trained";
/// Condition type: the model is on the newest base-model version it should be on.
pub const UP_TO_DATE: &str = "UpToDate";
/// Condition type: the service, its credentials, every input and the language model are there.
pub const DEPENDENCIES_READY: &str = "DependenciesReady";

/// Condition type (kstatus, Flux, kpt): the operator or the service is working towards the spec.
pub const RECONCILING: &str = "Reconciling";
/// Condition type (kstatus, Flux, kpt): nothing will change without the user.
pub const STALLED: &str = "Stalled";

/// Ready reasons after which nothing changes until the user acts: `Stalled` True (kstatus
/// `Failed`). Errors are judged by their retry class instead ([`Failure::stalled`]).
pub const STALLED_REASONS: &[&str] = &[
    "TrainingFailed",
    "ResourceInvalid",
    "AdoptedModelMissing",
    "NoData",
    "UnknownServiceStatus",
];

/// Ready reasons of a model that is settled on a choice of the user: neither reconciling nor
/// stalled (kstatus `Current` once observed): usable, suspended, or waiting for a manual request.
pub const SETTLED_REASONS: &[&str] = &[
    "Available",
    "Suspended",
    "TrainingPending",
    "UpgradeAvailable",
];

/// Reasons after which the operator waits for the user to change something.
pub const TERMINAL_REASONS: &[&str] = &[
    "InvalidRequest",
    "InvalidSpec",
    "AdoptionMismatch",
    "UnsupportedRequest",
    "TrainingFailed",
    "InputMalformed",
    "InputTooLarge",
    "PlanNotSupported",
];

/// At most this many finished operations are kept in `status.history`.
pub const HISTORY_LENGTH: usize = 10;

/// What kind of data a resource is; it decides the status list it is shown in and which IBM
/// call deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceClass {
    Corpus,
    Grammar,
    Audio,
}

impl ResourceClass {
    /// The class of a desired resource from its digest (`corpus:`, `grammar:`, `audio:`).
    pub fn of_digest(digest: &str) -> Self {
        if digest.starts_with("grammar:") {
            Self::Grammar
        } else if digest.starts_with("audio:") {
            Self::Audio
        } else {
            Self::Corpus
        }
    }
}

/// One data resource as status shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedResource {
    pub class: ResourceClass,
    pub status: ResourceStatus,
}

/// The status fields the decision computes for every kind; the typed per-kind status is built
/// from it (`crate::model::ModelResource::status_from`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusUpdate {
    pub model: ModelStatus,
    /// Corpora, grammars or audio as last observed (plus what was just uploaded).
    pub resources: Vec<TrackedResource>,
    /// Custom words on the service at the last word listing; `None` when unknown (words were just
    /// sent or deleted, or never listed).
    pub word_count: Option<i64>,
    /// Digest of the custom words the service holds ([`super::digest::language_words`]), as the
    /// operator last read them or sent them (`status.wordsDigest`); `None` when unknown. While it
    /// matches the spec's words, a check does not list the words (issue 11).
    pub words_digest: Option<String>,
}

/// What the shell saw of the model on the service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// The service's status string (`pending`, `ready`, `training`, `available`, ...).
    pub service_status: Option<String>,
    /// Base-model versions the model supports.
    pub versions: Vec<String>,
    /// The model's resources (from the listings, or the record when it was trusted).
    pub resources: Vec<TrackedResource>,
    /// User words counted by a word listing made in this reconcile.
    pub word_count: Option<i64>,
    /// The digest of the words that listing found ([`super::digest::language_words`]).
    pub words_digest: Option<String>,
    /// The model's `error` field as the service reports it (raw; see [`service_error_summary`]).
    pub service_error: Option<String>,
}

/// What performing the action produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The customization ID of a model just created.
    pub created_id: Option<String>,
    /// Training warnings from the service.
    pub warnings: Vec<String>,
    /// A train refused with "No input data modified since last training": treat as trained.
    pub already_trained: bool,
}

/// An Event to emit after the status write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

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

    /// The same for an operation record's `type` (`Train`, `Upgrade`).
    fn of(&self, record_type: &str) -> Duration {
        self.of_kind(operation_kind(record_type))
    }
}

/// The operation kind of an operation record's `type`.
pub fn operation_kind(record_type: &str) -> OperationKind {
    if record_type == "Upgrade" {
        OperationKind::Upgrade
    } else {
        OperationKind::Train
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

/// What a check knows of a model's custom words before it reads anything, for
/// [`data_from_record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// The recorded count of custom words (`Some(0)` for kinds without words; `None` right
    /// after words were sent or deleted).
    pub recorded: Option<i64>,
    /// Whether the spec asks for custom words.
    pub to_add: bool,
}

/// Whether a check may take the model's data (corpora, grammars, words, audio) from the record
/// instead of listing it. Each data listing is an IBM call per model; the service-wide model
/// listing that tells `status` is shared by every model of the instance. True when the data
/// cannot have changed since the operator last read or wrote it:
///
/// - the model is `steady` (Available on the inputs it was trained with, status current) and the
///   service says `available`;
/// - the service says `training` or `upgrading`: IBM refuses every change to a model while an
///   operation runs (409, watson-api.md §8.2), so the data is what it was when the operation
///   started; the action is a wait whatever the data;
/// - the service says `available` or `failed` while the operator's own training or upgrade is
///   still recorded: the data was locked during it, and the next action records how it ended;
/// - the service says `pending` and the record says the model holds nothing (just created or
///   reset by the operator: no resource recorded, a word count of 0, no operation): an upload
///   the record missed (a crash between the call and the status write) is refused by the
///   service as a duplicate, and the failed action makes the next check read;
/// - the service says `pending` (analysis running, watson-api.md §8.3) while a resource the
///   operator uploaded is still recorded as `being_processed`: the action is a wait until the
///   listing leaves `pending`. A model without any valid data stays `pending` after the
///   analysis, so the data is still read now and then ([`analysis_check_due`]) to find a
///   resource the service refused.
///
/// - the service says `ready` after the analysis of the operator's own uploads, and words
///   remain to be added to a model the record says holds none: the words come next whatever
///   the analysis found (the listing says it ended), and the data is read once, after them,
///   before the training (a language model's lifecycle: 12 calls → 11, issue 11).
///
/// - the model waits for its dependency (an acoustic model's language model is missing or not
///   Available: `waits_for_dependency`), the service says `ready` or `available`, no operation
///   is recorded, and the last listing found every resource the operator uploaded analysed
///   (`ok`/`analyzed`): the action is that wait whatever the data; a new or changed resource in
///   the spec is missing from the record and is uploaded first. A refused resource was named by
///   that listing. An acoustic model waiting for its language model's training: 5 audio
///   listings → 1 (issue 11).
///
/// Everything else (`ready` with nothing left to add, a `failed` model, an adopted or old
/// record) lists the data.
#[allow(clippy::too_many_arguments)]
pub fn data_from_record(
    status: Option<&super::ServiceStatus>,
    steady: bool,
    st: &ModelStatus,
    resources: &[TrackedResource],
    words: Words,
    waits_for_dependency: bool,
    analysis: Duration,
    now: Timestamp,
) -> bool {
    use super::ServiceStatus as S;
    let operation_recorded = st.current_operation.is_some();
    let holds_no_word = words.recorded == Some(0);
    let all_analysed = !resources.is_empty()
        && resources.iter().all(|r| {
            r.status.added_at.is_some()
                && matches!(r.status.service_status.as_deref(), Some("ok" | "analyzed"))
        });
    if waits_for_dependency
        && matches!(status, Some(S::Ready | S::Available))
        && !operation_recorded
        && all_analysed
    {
        return true;
    }
    match status {
        Some(S::Available) if steady || operation_recorded => true,
        Some(S::Training | S::Upgrading) => true,
        Some(S::Failed) => operation_recorded,
        Some(S::Ready) => {
            holds_no_word
                && words.to_add
                && !operation_recorded
                && !resources.is_empty()
                && resources.iter().all(|r| {
                    r.status.added_at.is_some()
                        && matches!(
                            r.status.service_status.as_deref(),
                            Some("being_processed" | "analyzed")
                        )
                })
        }
        Some(S::Pending) if resources.is_empty() => holds_no_word && !operation_recorded,
        Some(S::Pending) => {
            let newest = resources
                .iter()
                .filter(|r| r.status.service_status.as_deref() == Some("being_processed"))
                .filter_map(|r| r.status.added_at.as_ref())
                .map(|t| t.0)
                .max();
            newest.is_some_and(|t| !analysis_check_due(t, now, analysis))
        }
        _ => false,
    }
}

/// While an upload made at `uploaded` is analysed, whether a check at `now` reads the data: in the
/// first two seconds after each power of two of seconds from 8 s since the upload (8, 16, 32, …
/// s: about one check in each window at the 2 s polling of an analysis), and at every check once
/// `analysis` (the expected analysis time) has passed. A refused resource in a model that stays
/// `pending` is thus found within about twice the time its analysis took, at least 8 s. No read
/// before 8 s: a corpus analysis takes seconds (5 s in the simulator), and the listing says when
/// it ends; reads at 2 and 4 s cost 1,800 of the 6,300 calls of 1,000 new models (benchmark
/// scenario 6, 2026-11-30).
pub fn analysis_check_due(uploaded: Timestamp, now: Timestamp, analysis: Duration) -> bool {
    let elapsed = (now.as_second() - uploaded.as_second()).max(0) as u64;
    if elapsed >= analysis.as_secs() {
        return true;
    }
    if elapsed < 8 {
        return false;
    }
    let power = 1u64 << (63 - elapsed.leading_zeros());
    elapsed - power < 2
}

/// Polling settings (plain data from the operator's flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Between drift checks of Available models and while waiting for the user.
    pub drift_interval: Duration,
    /// Longest wait between two checks of a running operation.
    pub max_poll_interval: Duration,
    /// Expected training length before the model has a history of its own.
    pub expected_training: Duration,
    /// A fixed interval for every wait on the service (the benchmarks' baseline), if set.
    pub fixed_poll: Option<Duration>,
    /// Expected analysis length of one resource.
    pub expected_analysis: Duration,
    /// Operations longer than this many times their expected length are overdue.
    pub overdue_factor: u32,
    /// Expected seconds of acoustic training per second of audio (IBM: 1).
    pub training_per_audio_second: f64,
}

/// Sets (or replaces) a condition; the transition time moves only when the status changes.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    set_condition_at(
        conditions,
        type_,
        status,
        reason,
        message,
        generation,
        now(),
    );
}

fn set_condition_at(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    at: Timestamp,
) {
    let status_s = if status { "True" } else { "False" }.to_string();
    let message = message.into();
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status_s {
            c.last_transition_time = Time(at);
        }
        c.status = status_s;
        c.reason = reason.to_string();
        c.message = message;
        c.observed_generation = generation;
    } else {
        conditions.push(Condition {
            type_: type_.to_string(),
            status: status_s,
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time: Time(at),
        });
    }
}

/// The condition of a type, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The recorded terminal failure (Ready condition with a [`TERMINAL_REASONS`] reason).
pub fn terminal_failure(st: &ModelStatus) -> Option<TerminalFailure> {
    let c = condition(&st.conditions, READY)?;
    TERMINAL_REASONS
        .contains(&c.reason.as_str())
        .then(|| TerminalFailure {
            reason: c.reason.clone(),
            generation: c.observed_generation,
            inputs_digest: st.inputs_digest.clone(),
        })
}

/// A condition message for an error that stays the same while the failure does: the IBM
/// transaction id (new on every call) goes to the Event and the log, not the condition, so a
/// repeated failure does not rewrite status.
pub fn stable_message(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find(" [transaction id ") {
        match out[start..].find(']') {
            Some(end) => out.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    out
}

/// The current time as the type k8s-openapi uses.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// The phase people see for a decision.
pub fn phase_for(action: &Action) -> Phase {
    match action {
        Action::Suspended => Phase::Suspended,
        Action::AwaitSpecChange => Phase::Failed,
        Action::ReleaseFinalizer | Action::DeleteModel => Phase::Deleting,
        Action::Adopt { .. } | Action::Create | Action::Recreate => Phase::Creating,
        Action::Reset => Phase::Processing,
        Action::AdoptedModelMissing => Phase::Failed,
        Action::DeleteResource { .. }
        | Action::AddResource { .. }
        | Action::AddWords { .. }
        | Action::DeleteWord { .. } => Phase::Processing,
        Action::Upgrade { .. } => Phase::Upgrading,
        Action::Train { .. } => Phase::Training,
        Action::Finish {
            succeeded: false, ..
        } => Phase::Failed,
        Action::Finish { .. } => Phase::Processing,
        Action::Wait { reason } => match reason {
            WaitReason::Training => Phase::Training,
            WaitReason::Upgrading => Phase::Upgrading,
            WaitReason::Processing => Phase::Processing,
            WaitReason::Dependency(_) => Phase::WaitingForDependency,
            WaitReason::TrainingFailed | WaitReason::InvalidResource(_) => Phase::Failed,
            WaitReason::NoData => Phase::WaitingForData,
            WaitReason::TrainingRequested
            | WaitReason::UpgradeRequested
            | WaitReason::UnknownStatus(_) => Phase::Ready,
        },
        Action::UpToDate => Phase::Available,
        Action::Observe(o) => o.phase,
    }
}

/// The Ready message of an observe-only model: what the service reports, that the operator
/// changes nothing, how the spec differs from the service and what is not acted on.
pub fn observed_message(o: &super::Observing) -> String {
    let mut m = format!(
        "observed only (spec.managementPolicy ObserveOnly): the service reports the model {}; the operator never changes it",
        o.service_status
    );
    if !o.drift.is_empty() {
        m.push_str(&format!(
            "; the spec differs from the service (reported, not fixed): {}",
            o.drift.join("; ")
        ));
    }
    if !o.ignored.is_empty() {
        m.push_str(&format!(
            "; not acted on: {} (switch spec.managementPolicy to Manage to let the operator act)",
            o.ignored.join(", ")
        ));
    }
    m
}

/// Reason and message of the Ready condition for a decision.
pub fn ready_reason(action: &Action, deleting: bool) -> (&'static str, String) {
    match action {
        Action::Suspended if deleting => ("Suspended", "spec.suspend is true: no calls are made for this model; the deletion waits (the IBM model is kept) until spec.suspend is false".into()),
        Action::Suspended => ("Suspended", "spec.suspend is true: no calls are made for this model".into()),
        Action::AwaitSpecChange => ("Failed", "waiting for a change of the spec or its inputs".into()),
        Action::ReleaseFinalizer | Action::DeleteModel => ("Deleting", "the model is being deleted".into()),
        Action::Adopt { .. } => ("Adopting", "taking over the existing model".into()),
        Action::Create => ("Creating", "creating the model on the service".into()),
        Action::Reset => ("Resetting", "resetting the model (annotation speech.watson.dev/reset-requested-at): the service removes its data; the operator adds it again and trains".into()),
        Action::Recreate => ("Recreating", "the model was deleted outside the operator and is being re-created".into()),
        Action::AdoptedModelMissing => ("AdoptedModelMissing", "the adopted model no longer exists on the service; it is not re-created automatically: set spec.customizationId to an existing model or remove it and re-create the resource".into()),
        Action::DeleteResource { name } => ("Processing", format!("removing {name} from the model")),
        Action::AddResource { name, .. } => ("Processing", format!("adding {name} to the model")),
        Action::AddWords { words } => ("Processing", format!("adding {} custom words", words.len())),
        Action::DeleteWord { word } => ("Processing", format!("removing the word {word:?}")),
        Action::Upgrade { .. } => ("Upgrading", "upgrading to the newer base-model version".into()),
        Action::Train { .. } => ("Training", "training on the current inputs".into()),
        Action::Finish { kind: OperationKind::Train, succeeded: false } => ("TrainingFailed", "training failed on the service; see status.history and the resource errors, then change the inputs to retry".into()),
        Action::Finish { .. } => ("Processing", "recording the finished operation".into()),
        Action::Wait { reason } => match reason {
            WaitReason::Training => ("Training", "the service is training the model".into()),
            WaitReason::Upgrading => ("Upgrading", "the service is upgrading the model".into()),
            WaitReason::Processing => ("Processing", "the service is analysing the model's data".into()),
            WaitReason::Dependency(m) => ("WaitingForDependency", m.clone()),
            WaitReason::TrainingFailed => ("TrainingFailed", "training failed on these inputs; see the history and the resource errors, then change the inputs to retry".into()),
            WaitReason::TrainingRequested => ("TrainingPending", "the inputs changed; training.policy is Manual: set the annotation speech.watson.dev/train-requested-at to a new value to train".into()),
            WaitReason::UpgradeRequested => ("UpgradeAvailable", "a newer base-model version is available; upgradePolicy is Manual: set the annotation speech.watson.dev/upgrade-requested-at to a new value to upgrade".into()),
            WaitReason::NoData => ("NoData", "the model has no data to train on: add corpora, words, grammars or audio (the service does not train a model without data)".into()),
            WaitReason::InvalidResource(m) => (
                "ResourceInvalid",
                format!("the service rejected {m}; fix the content and the operator uploads it again"),
            ),
            WaitReason::UnknownStatus(s) => ("UnknownServiceStatus", format!("the service reports the unknown status {s:?}")),
        },
        Action::UpToDate => ("Available", "the model is available, trained on the current inputs".into()),
        Action::Observe(o) => ("Observed", observed_message(o)),
    }
}

/// One readable line from a model's `error` field, without internal details. IBM stores
/// asynchronous failures there as a *stringified* JSON error document, sometimes a whole internal
/// one (code 500, a message with a temporary file path; `watson-api.md` §1.4, §16): the message
/// is taken from the document (`error`, `message`, `errorMessage`, also when nested as a string),
/// every token that looks like a file path becomes `[internal path]`, only the first line is
/// kept, whitespace is collapsed and the result is cut at 200 characters. `None` when nothing
/// readable is left.
pub fn service_error_summary(raw: &str) -> Option<String> {
    fn message_of(text: &str, depth: u8) -> String {
        let parsed: Option<serde_json::Value> = serde_json::from_str(text.trim()).ok();
        let inner = parsed.as_ref().and_then(|v| {
            ["error", "message", "errorMessage"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()))
        });
        match inner {
            Some(m) if depth < 4 => message_of(m, depth + 1),
            Some(m) => m.to_string(),
            None => text.to_string(),
        }
    }
    let message = message_of(raw, 0);
    let first = message.lines().find(|l| !l.trim().is_empty())?;
    let words: Vec<String> = first
        .split_whitespace()
        .map(|w| {
            let core = w.trim_matches(|c: char| "\"'()[]{},;:".contains(c));
            let path =
                core.starts_with('/') || core.contains(":\\") || core.matches('/').count() >= 2;
            if path {
                "[internal path]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let mut line = words.join(" ");
    if line.chars().count() > 200 {
        line = line.chars().take(199).collect::<String>() + "…";
    }
    (!line.trim().is_empty()).then_some(line)
}

/// The recorded status, as the decision reads it: the same shape as what it writes.
pub type Previous = StatusUpdate;

/// The status after `action` was performed with `outcome`. Pure; `now` is the time of the write.
pub fn next(
    prev: &Previous,
    facts: &Facts,
    seen: &Observation,
    action: &Action,
    outcome: &Outcome,
    now: Timestamp,
) -> StatusUpdate {
    let generation = facts.generation;
    if matches!(action, Action::Suspended) {
        let mut model = prev.model.clone();
        model.phase = Some(Phase::Suspended);
        model.observed_generation = generation;
        model.next_action = Some(super::next_action::text(action, facts));
        let (reason, message) = ready_reason(action, facts.deleting);
        set_condition_at(
            &mut model.conditions,
            READY,
            false,
            reason,
            message.clone(),
            generation,
            now,
        );
        set_progress(
            &mut model.conditions,
            Progress::Settled,
            reason,
            &message,
            generation,
            now,
        );
        return StatusUpdate {
            model,
            ..prev.clone()
        };
    }
    if matches!(action, Action::AwaitSpecChange) {
        return prev.clone();
    }
    let mut st = prev.model.clone();
    st.observed_generation = generation;
    let digest = facts.desired.inputs_digest.clone();
    if !digest.is_empty() {
        st.inputs_digest = Some(digest.clone());
    }
    if let Some(s) = &seen.service_status {
        st.service_status = Some(s.clone());
        st.progress = Some(if s == "available" { 100 } else { 0 });
        // The service has taken up the operation: from now on, a status like the one before the
        // call is its end, not the service's lag.
        if let Some(op) = st.current_operation.as_mut()
            && op.running_seen_at.is_none()
            && matches!(s.as_str(), "training" | "upgrading")
        {
            op.running_seen_at = Some(Time(now));
        }
    }
    if !seen.versions.is_empty() {
        st.versions = seen.versions.clone();
        st.base_model_version = seen.versions.last().cloned();
    }
    let mut resources = seen.resources.clone();
    let mut words = WordRecord {
        count: seen.word_count.or(prev.word_count),
        digest: seen.words_digest.clone().or(prev.words_digest.clone()),
    };
    record_action(
        &mut st,
        &mut resources,
        &mut words,
        facts,
        action,
        outcome,
        now,
    );
    let mut ready = overdue(&st, &resources, action, &facts.expected, now)
        .map(|m| ("OperationOverdue", m))
        .unwrap_or_else(|| ready_reason(action, facts.deleting));
    let training_failed = matches!(
        action,
        Action::Finish {
            kind: OperationKind::Train,
            succeeded: false
        } | Action::Wait {
            reason: WaitReason::TrainingFailed
        }
    );
    if training_failed
        && let Some(summary) = seen
            .service_error
            .as_deref()
            .and_then(service_error_summary)
    {
        let message = format!(
            "training failed on the service: {summary}; change the inputs (or train again with the annotation speech.watson.dev/train-requested-at) to retry"
        );
        if let Some(last) = st.history.first_mut()
            && last.outcome.as_deref() == Some("Failed")
            && matches!(action, Action::Finish { .. })
        {
            last.message = Some(format!("the service reported: {summary}"));
        }
        ready = ("TrainingFailed", message);
    }
    set_conditions(&mut st, facts, action, ready, now);
    st.next_action = Some(super::next_action::text(action, facts));
    if facts.kind == ModelKind::Voice && *action == Action::UpToDate {
        st.trained_inputs_digest = Some(digest);
    }
    StatusUpdate {
        model: st,
        resources,
        word_count: words.count,
        words_digest: words.digest,
    }
}

/// What status records of a language model's custom words.
struct WordRecord {
    /// [`StatusUpdate::word_count`].
    count: Option<i64>,
    /// [`StatusUpdate::words_digest`].
    digest: Option<String>,
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

/// The status when `run --dry-run` skipped `action` ([`Action::skipped_in_dry_run`]): the
/// recorded status unchanged (nothing happened on the service) but for `nextAction`, which says
/// what would have been done (`dry run: would ...`).
pub fn skipped(prev: &Previous, facts: &Facts, action: &Action) -> StatusUpdate {
    let mut update = prev.clone();
    update.model.next_action = Some(super::next_action::text(action, facts));
    update
}

/// The effect of the action itself on status: identity, uploads, operations and history.
fn record_action(
    st: &mut ModelStatus,
    resources: &mut Vec<TrackedResource>,
    words: &mut WordRecord,
    facts: &Facts,
    action: &Action,
    outcome: &Outcome,
    now: Timestamp,
) {
    let digest = &facts.desired.inputs_digest;
    let operation = |kind: &str| OperationRecord {
        kind: kind.into(),
        started_at: Time(now),
        inputs_digest: Some(digest.clone()),
        expected_finish_at: Some(Time(later(now, facts.expected.of(kind)))),
        running_seen_at: None,
        started_from: facts
            .observed
            .as_ref()
            .and_then(|o| o.status.as_ref())
            .map(|s| s.as_str().to_string()),
        finished_at: None,
        outcome: None,
        duration_seconds: None,
        message: None,
    };
    match action {
        Action::Create | Action::Recreate => {
            st.customization_id = outcome.created_id.clone();
            st.adopted = None;
            st.trained_inputs_digest = None;
            st.current_operation = None;
            st.service_status = Some("pending".into());
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
            st.service_status = Some("pending".into());
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
                    service_status: Some("being_processed".into()),
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
                st.current_operation = Some(operation("Train"));
                st.service_status = Some("training".into());
                st.warnings = outcome.warnings.clone();
            }
            if facts.desired.train_token.is_some() {
                st.train_request_token = facts.desired.train_token.clone();
            }
        }
        Action::Upgrade { .. } => {
            st.current_operation = Some(operation("Upgrade"));
            st.service_status = Some("upgrading".into());
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
    (held == facts.desired.words).then(|| super::digest::language_words(&held))
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
        op.outcome = Some(if succeeded { "Succeeded" } else { "Failed" }.into());
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

/// Where a resource stands for GitOps tools: the `Reconciling` and `Stalled` conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The operator or the service is working towards the spec (`Reconciling` True).
    Reconciling,
    /// Nothing will change without the user (`Stalled` True).
    Stalled,
    /// Neither: done, or settled on a choice of the user.
    Settled,
}

/// The table of the Ready reasons of a decision: [`STALLED_REASONS`] stall, [`SETTLED_REASONS`]
/// (and Ready itself) settle, every other reason is work in progress.
pub fn progress_of(ready: bool, reason: &str) -> Progress {
    if ready || SETTLED_REASONS.contains(&reason) {
        Progress::Settled
    } else if STALLED_REASONS.contains(&reason) {
        Progress::Stalled
    } else {
        Progress::Reconciling
    }
}

/// Sets `Reconciling` and `Stalled` (reason: the Ready reason) for `progress`.
pub fn set_progress(
    conditions: &mut Vec<Condition>,
    progress: Progress,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    at: Timestamp,
) {
    let (reconciling, stalled) = (
        progress == Progress::Reconciling,
        progress == Progress::Stalled,
    );
    let text = |on: bool, what: &str| {
        if on {
            message.to_string()
        } else {
            what.to_string()
        }
    };
    let idle = text(reconciling, "nothing is in progress");
    set_condition_at(
        conditions,
        RECONCILING,
        reconciling,
        reason,
        idle,
        generation,
        at,
    );
    let fine = text(stalled, "nothing waits for the user");
    set_condition_at(conditions, STALLED, stalled, reason, fine, generation, at);
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
            let what = if op.kind == "Upgrade" {
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
                .filter(|r| r.status.service_status.as_deref() == Some("being_processed"))
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

/// Phase and the conditions; `ready` is the Ready condition's reason and message.
fn set_conditions(
    st: &mut ModelStatus,
    facts: &Facts,
    action: &Action,
    ready_text: (&str, String),
    now: Timestamp,
) {
    let generation = facts.generation;
    let phase = phase_for(action);
    st.phase = Some(phase);
    let (reason, message) = ready_text;
    let observing = match action {
        Action::Observe(o) => Some(o),
        _ => None,
    };
    let ready = *action == Action::UpToDate || observing.is_some();
    let set = |st: &mut ModelStatus, t: &str, ok: bool, r: &str, m: String| {
        set_condition_at(&mut st.conditions, t, ok, r, m, generation, now)
    };
    set(st, READY, ready, reason, message.clone());
    let progress = progress_of(ready, reason);
    set_progress(
        &mut st.conditions,
        progress,
        reason,
        &message,
        generation,
        now,
    );
    if let Some(o) = observing.filter(|_| facts.kind != ModelKind::Voice) {
        let trained = o.service_status == "available";
        let said = format!(
            "observed only: the service reports the model {}",
            o.service_status
        );
        set(st, TRAINED, trained, "Observed", said);
        let (ok, um) = match &o.upgrade_available {
            Some(v) => (
                false,
                format!(
                    "{v} is available; spec.managementPolicy is ObserveOnly: the operator does not upgrade the model"
                ),
            ),
            None => {
                let version = st.base_model_version.as_deref().unwrap_or("unknown");
                (true, format!("on base-model version {version}"))
            }
        };
        let ur = if ok { "UpToDate" } else { "UpgradeAvailable" };
        set(st, UP_TO_DATE, ok, ur, um);
    } else if facts.kind != ModelKind::Voice {
        let trained =
            st.trained_inputs_digest.as_deref() == Some(facts.desired.inputs_digest.as_str());
        let (tr, tm) = if trained {
            (
                "TrainedOnCurrentInputs",
                "the model is trained on the current inputs".to_string(),
            )
        } else if let Some(c) = st.current_operation.as_ref().filter(|c| c.kind == "Train") {
            (
                "Training",
                format!("training started at {}", c.started_at.0),
            )
        } else {
            (reason, message.clone())
        };
        set(st, TRAINED, trained, tr, tm);
        let upgrade_pending = matches!(
            action,
            Action::Upgrade { .. }
                | Action::Wait {
                    reason: WaitReason::UpgradeRequested | WaitReason::Upgrading
                }
        );
        let (ur, um) = if upgrade_pending {
            (
                "UpgradeAvailable",
                "a newer base-model version is available".to_string(),
            )
        } else {
            let version = st.base_model_version.as_deref().unwrap_or("unknown");
            ("UpToDate", format!("on base-model version {version}"))
        };
        set(st, UP_TO_DATE, !upgrade_pending, ur, um);
    }
    let (dr, dm, dok) = match action {
        Action::Wait {
            reason: WaitReason::Dependency(m),
        } => ("LanguageModelNotReady", m.clone(), false),
        _ => (
            "DependenciesReady",
            "the service, its credentials and every input are available".to_string(),
            true,
        ),
    };
    set(st, DEPENDENCIES_READY, dok, dr, dm);
}

/// The Event for a decision: one per change of phase.
pub fn event(
    prev: &ModelStatus,
    next: &ModelStatus,
    action: &Action,
    deleting: bool,
) -> Option<EventNote> {
    let phase = next.phase?;
    let reason_of = |s: &ModelStatus| condition(&s.conditions, READY).map(|c| c.reason.clone());
    if let Some(c) = condition(&next.conditions, READY).filter(|c| c.reason == "OperationOverdue")
        && reason_of(prev).as_deref() != Some("OperationOverdue")
    {
        return Some(EventNote {
            warning: true,
            reason: c.reason.clone(),
            message: c.message.clone(),
        });
    }
    if let Action::Observe(o) = action {
        // One Event per change of what is observed (status, drift, ignored requests).
        let message = observed_message(o);
        let before = condition(&prev.conditions, READY).map(|c| c.message.as_str());
        if before == Some(message.as_str()) {
            return None;
        }
        let reason = if !o.ignored.is_empty() {
            "RequestIgnored"
        } else if !o.drift.is_empty() {
            "DriftObserved"
        } else {
            "Observed"
        };
        return Some(EventNote {
            warning: reason != "Observed",
            reason: reason.to_string(),
            message,
        });
    }
    if prev.phase == next.phase {
        return None;
    }
    let (reason, message) = ready_reason(action, deleting);
    let (warning, reason) = match (action, phase) {
        (Action::Recreate, _) => (true, "ExternalModelRecreated"),
        (Action::AdoptedModelMissing, _) => (true, "AdoptedModelMissing"),
        (_, Phase::Failed) => (true, reason),
        _ => (false, phase.as_str()),
    };
    Some(EventNote {
        warning,
        reason: reason.to_string(),
        message,
    })
}

/// A failed reconcile: the error's category and message on the Ready condition (and on
/// DependenciesReady for a missing service, input or credentials), the phase that follows, and a
/// Warning Event once per change of reason or message. `inputs_digest` is the last digest resolved
/// for the object, if any.
pub struct Failure<'a> {
    pub category: &'static str,
    pub message: &'a str,
    /// The failure is about a dependency (service, input, credentials).
    pub dependency: bool,
    /// Only the user can fix it (retry class WaitForSpecChange).
    pub terminal: bool,
    /// Nothing changes without the user (`Stalled`): a terminal error or credentials the service
    /// refuses; any other error is retried (`Reconciling`).
    pub stalled: bool,
    pub inputs_digest: Option<&'a str>,
    /// The operator runs with `--dry-run` (for `status.nextAction`).
    pub dry_run: bool,
}

/// The status and Event for a failed reconcile (see [`Failure`]).
pub fn after_failure(
    prev: &ModelStatus,
    f: &Failure<'_>,
    generation: Option<i64>,
    now: Timestamp,
) -> (ModelStatus, Option<EventNote>) {
    let mut model = prev.clone();
    let before = condition(&model.conditions, READY).map(|c| (c.reason.clone(), c.message.clone()));
    let message = stable_message(f.message);
    set_condition_at(
        &mut model.conditions,
        READY,
        false,
        f.category,
        message.clone(),
        generation,
        now,
    );
    if f.dependency {
        set_condition_at(
            &mut model.conditions,
            DEPENDENCIES_READY,
            false,
            f.category,
            message.clone(),
            generation,
            now,
        );
        model.phase = Some(Phase::WaitingForDependency);
    } else if f.terminal {
        model.phase = Some(Phase::Failed);
    }
    let progress = if f.stalled {
        Progress::Stalled
    } else {
        Progress::Reconciling
    };
    set_progress(
        &mut model.conditions,
        progress,
        f.category,
        &message,
        generation,
        now,
    );
    model.observed_generation = generation;
    if let Some(d) = f.inputs_digest {
        model.inputs_digest = Some(d.to_string());
    }
    model.next_action = Some(super::next_action::after_failure(
        f.category, f.terminal, f.stalled, f.dry_run,
    ));
    let changed = before.as_ref().map(|(r, m)| (r.as_str(), m.as_str()))
        != Some((f.category, message.as_str()));
    let event = changed.then(|| EventNote {
        warning: true,
        reason: f.category.to_string(),
        message,
    });
    (model, event)
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
    let name = match kind {
        OperationKind::Train => "Train",
        OperationKind::Upgrade => "Upgrade",
    };
    st.history
        .iter()
        .find(|h| h.kind == name && h.outcome.as_deref() == Some("Succeeded"))
        .and_then(|h| h.duration_seconds)
        .map(|s| Duration::from_secs(s.max(1) as u64))
}

/// When to look again after a decision; `None`: only when the object changes. `expected` gives
/// the expected length of the running operation ([`expectations`]).
pub fn look_again(
    action: &Action,
    st: &ModelStatus,
    timing: &Timing,
    expected: &Expected,
    now: Timestamp,
) -> Option<Duration> {
    let adaptive = match action {
        Action::Suspended | Action::AwaitSpecChange | Action::ReleaseFinalizer => return None,
        Action::UpToDate => timing.drift_interval,
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading,
        } => {
            let (elapsed, kind) = st
                .current_operation
                .as_ref()
                .map(|o| {
                    let secs = (now.as_second() - o.started_at.0.as_second()).max(0) as u64;
                    (Duration::from_secs(secs), operation_kind(&o.kind))
                })
                .unwrap_or((Duration::ZERO, OperationKind::Train));
            poll_after(elapsed, expected.of_kind(kind), timing.max_poll_interval)
        }
        Action::Wait {
            reason: WaitReason::Processing,
        } => Duration::from_secs(2),
        // Woken by watches (language model, annotations, spec); a slow check covers the rest.
        Action::Wait { .. } | Action::AdoptedModelMissing | Action::Observe(_) => {
            timing.drift_interval
        }
        // The first look after the call: IBM checks the data at the call (a 400 for invalid
        // data, watson-api.md §8.3), so nothing is learnt from a look before the operation can
        // have ended.
        Action::Train { .. } => poll_after(
            Duration::ZERO,
            expected.of_kind(OperationKind::Train),
            timing.max_poll_interval,
        ),
        Action::Upgrade { .. } => poll_after(
            Duration::ZERO,
            expected.of_kind(OperationKind::Upgrade),
            timing.max_poll_interval,
        ),
        // A corpus, grammar or audio analysis takes seconds at least (watson-api.md §8.1): a
        // look sooner than the analysis poll finds it running.
        Action::AddResource { .. } => Duration::from_secs(2),
        _ => Duration::from_millis(200),
    };
    // The baseline the benchmarks compare against: a fixed interval for every wait on the
    // service, as IBM's documentation and samples poll.
    let on_service = matches!(
        action,
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading | WaitReason::Processing,
        } | Action::Train { .. }
            | Action::Upgrade { .. }
    );
    Some(match timing.fixed_poll {
        Some(fixed) if on_service => fixed,
        _ => adaptive,
    })
}

/// When to look again while waiting: progress-aware polling. `elapsed` is the time since the
/// operation started; `expected` its typical duration (from the model's own history when known).
///
/// Each wait covers 90 % of the time left, so the checks close in on the expected end in a
/// handful of steps (a 30-minute training costs five reads, where fixed 10-second polling costs
/// 180). No quick check right after the call: IBM refuses invalid data at the call itself, and
/// a look within seconds finds the operation running (issue 11: one IBM call per lifecycle).
///
/// Past half the expected time, a wait is also at most a fifteenth of the elapsed time. Without
/// history `expected` is a guess (the default is twice the simulator's and IBM's typical
/// few-minute training), and an operation may end anywhere in its second half: a look that the
/// cap placed just before such an end would otherwise wait 90 % of the guessed remainder (the
/// 32 s overhead of issue 11's benchmark, for a 30 s training). So an operation is seen within
/// about 7 % of its length (a 30 s training at most 2 s late, the floor), for a few more reads
/// in the second half (11 for a 30-minute training as expected, where a tenth made 9: issue 11's
/// benchmark saw half its 20 language models 3 s late with a tenth).
///
/// Once overdue, the operator checks every 1/30 of the elapsed time, which keeps the detection
/// delay within about 3 % of the operation's length. Always at least `2 s`, at most `cap`.
pub fn poll_after(elapsed: Duration, expected: Duration, cap: Duration) -> Duration {
    let floor = Duration::from_secs(2);
    let remaining = expected.saturating_sub(elapsed);
    let next = if remaining.is_zero() {
        elapsed / 30
    } else if elapsed >= expected / 2 {
        remaining.mul_f64(0.9).min(elapsed / 15)
    } else {
        remaining.mul_f64(0.9)
    };
    next.clamp(floor, cap.max(floor))
}

/// Whether, after `action`, the model waits for an operation on the service whose end shows in
/// the service's model listing (status `pending` while data is analysed or the model reset,
/// `training`, `upgrading`; watson-api.md §8). Such a model is woken by any shared LIST that
/// shows its status moved on ([`listing_wakes`]), not only by its own next look: with many
/// models in flight, the LISTs other models make see its end first, at no extra call.
pub fn awaits_listing(action: &Action) -> bool {
    matches!(
        action,
        Action::Train { .. }
            | Action::Upgrade { .. }
            | Action::Reset
            | Action::AddResource { .. }
            | Action::Wait {
                reason: WaitReason::Training | WaitReason::Upgrading | WaitReason::Processing,
            }
    )
}

/// Whether a LIST that shows a waiting model's status as `now` (`None`: the model is not
/// listed) ends its wait, when the previous LIST (or the model's own look) showed `last`.
///
/// A change to a status of work in progress (`pending`, `training`, `upgrading`) is the
/// operation starting, seen late (the listing lags the call, watson-api.md §13): not an end.
/// Any other change (`ready`, `available`, `failed`, or the model gone) is one.
pub fn listing_wakes(last: Option<&str>, now: Option<&str>) -> bool {
    match now {
        None => true,
        Some(now) => last != Some(now) && !matches!(now, "pending" | "training" | "upgrading"),
    }
}
