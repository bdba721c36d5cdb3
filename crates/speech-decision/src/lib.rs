//! The heart of the operator, pure: given the desired model, what the operator recorded, the model
//! as the service reports it and the state of its dependencies, choose the **one** next action
//! ([`decide`]) and the status to write ([`status::next`]), with the Event to emit and when to look
//! again.
//!
//! Nothing here performs I/O, reads the clock or knows the IBM client or the Kubernetes client:
//! plain data in, plain data out (the time is an argument). The crate depends on the API types
//! (`speech-crd`) and pure libraries only. The reconcile shell (`watson_speech_operator::reconcile`)
//! gathers the facts, calls these functions, performs the one action and writes what they
//! computed. Table tests cover every branch (`tests.rs`).
//!
//! Modules: [`action`] (the next action), [`capability`] (what a base model can do), [`successor`] (re-create without downtime), [`status`] (phase, conditions, history, Events, polling),
//! [`next_action`] (the one line `status.nextAction`), [`digest`] (the stable inputs digest),
//! [`service`] (a SpeechService's status), [`export`] (the ConfigMap that hands a model to
//! applications), [`text`] (messages cut to the API server's limits, URLs without secrets),
//! [`wer`] (word error rate with IBM's normalisation, for measuring a model), [`evaluation`]
//! (when to measure a model on its test set and what to record), [`gate`] (a change proved on
//! the test set before applications use it).
//!
//! Order of concerns in [`decide`] (first match wins):
//! 1. suspend: no calls at all, not even for a deletion (the finalizer stays until un-suspended);
//! 2. a terminal failure on the same generation and inputs: no calls until the user changes them;
//! 3. deletion: release, wait while busy, or delete (an observe-only or retained model, and one
//!    annotated `speech.watson.dev/release-without-deleting`, is released without a call; models
//!    carrying the ownership marker are deleted too, with or without a recorded ID);
//! 4. identity: adopt `spec.customizationId`, recover a model created before a crash (found by the
//!    ownership marker), or create;
//! 5. drift: a model gone from the service is re-created (unless adopted); an observe-only model
//!    is only read and reported ([`Action::Observe`]: phase as the service says, drift and
//!    ignored requests listed), whatever else holds;
//! 6. busy: while the service works on the model, wait; then a re-create (language models: a
//!    `recreate-requested-at` token or a new `spec.baseModelName`) builds a new model beside
//!    the current one and switches to it once trained ([`successor`]); under an evaluation gate a
//!    data change or an upgrade is built the same way, and the switch waits for a measurement
//!    within the tolerance ([`gate`]);
//! 7. data: delete, then add/replace corpora, grammars, words, audio, one resource at a time,
//!    because the service analyses one at a time; a name that changed between corpus and grammar
//!    is deleted first;
//! 8. dependencies (acoustic): the language model must be Available on the same version;
//! 9. upgrade before training, as IBM recommends;
//! 10. no data at all: wait for data (the service refuses to train an empty model);
//! 11. training when the inputs changed (or on a manual request token);
//! 12. otherwise the model is Available: check again at the drift interval.

#![forbid(unsafe_code)]

pub mod action;
pub mod capability;
pub mod digest;
#[cfg(test)]
mod digest_tests;
pub mod evaluation;
pub mod export;
pub mod gate;
#[cfg(test)]
mod gate_tests;
pub mod next_action;
#[cfg(test)]
mod next_action_tests;
pub mod ownership;
pub mod service;
pub mod status;
pub mod successor;
#[cfg(test)]
mod successor_tests;
#[cfg(test)]
mod tests;
pub mod text;
pub mod vanished;
pub mod wer;

use std::collections::{BTreeMap, BTreeSet};

/// The Kubernetes API types (crate `speech-crd`).
use speech_crd as crd;

pub use action::{decide, precheck, quota_guard, upgrade_blocked};

/// The kind of model being decided for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// STT custom language model.
    Language,
    /// STT custom acoustic model.
    Acoustic,
    /// TTS custom voice model (no training, no upgrades, everything synchronous).
    Voice,
}

impl ModelKind {
    /// The kind in plain words, plural ("language models"), for messages.
    pub fn plural(self) -> &'static str {
        match self {
            ModelKind::Language => "custom language models",
            ModelKind::Acoustic => "custom acoustic models",
            ModelKind::Voice => "custom voice models",
        }
    }
}

/// The service-side status of a model (an open enum of the API types: `Unknown` keeps a status
/// this operator does not know).
pub use crate::crd::ServiceStatus;

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

/// A resource (corpus, grammar, audio) as the service reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceState {
    /// Being analysed.
    Processing,
    /// Analysed and usable (`analyzed`, `ok`).
    Valid,
    /// Analysis failed (`undetermined`, `invalid`).
    Invalid(String),
}

impl ResourceState {
    /// What a resource's service status means for the decision: `being_processed` is an
    /// analysis running (taken as ended when `analysing` is false: the model's listing no longer
    /// says `pending`), `undetermined` (corpus, grammar) and `invalid` (audio) are refusals with
    /// `error`, anything else (`analyzed`, `ok`, a status this operator does not know, none) is
    /// usable. One table for fresh listings and for the record (IBM's API reference: corpus,
    /// grammar and audio `status`).
    pub fn of(status: Option<&crd::ResourceServiceStatus>, error: String, analysing: bool) -> Self {
        use crd::ResourceServiceStatus as S;
        match status {
            Some(S::BeingProcessed) if analysing => Self::Processing,
            Some(S::Undetermined | S::Invalid) => Self::Invalid(error),
            _ => Self::Valid,
        }
    }
}

/// A word entry (STT custom word or TTS translation), compared field by field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WordDef {
    pub sounds_like: Vec<String>,
    pub display_as: Option<String>,
    pub mapping_only: Option<bool>,
    /// TTS translation.
    pub translation: Option<String>,
    /// TTS part of speech.
    pub part_of_speech: Option<String>,
}

/// What the user asked for, with every input resolved to a digest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// Text resources (corpora, grammars) or audio: name → content digest.
    pub resources: BTreeMap<String, String>,
    /// User words: word → definition.
    pub words: BTreeMap<String, WordDef>,
    /// Digest over every input and training parameter.
    pub inputs_digest: String,
    /// A specific base-model version to be on (`spec.baseModelVersion`).
    pub target_version: Option<String>,
    pub upgrade_automatic: bool,
    pub train_on_change: bool,
    /// The current `train-requested-at` annotation.
    pub train_token: Option<String>,
    /// The current `upgrade-requested-at` annotation.
    pub upgrade_token: Option<String>,
    /// The current `reset-requested-at` annotation (language and acoustic models).
    pub reset_token: Option<String>,
    /// The current `reconcile-requested-at` annotation: a full read of the model and a new
    /// listing of its service's models (issue 29).
    pub reconcile_token: Option<String>,
    /// The current `recreate-requested-at` annotation (language models): build a new model
    /// beside the current one and switch to it (issue 27).
    pub recreate_token: Option<String>,
    /// The current `promote-requested-at` annotation (language models with a gate): promote the
    /// new model beside the one in service whatever its WER (issue 28).
    pub promote_token: Option<String>,
    /// Train only when every resource is valid (the service's `strict`, default true).
    pub strict: bool,
}

/// What the operator recorded in status (its memory across reconciles and restarts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    pub customization_id: Option<String>,
    pub adopted: bool,
    /// name → digest of the content last uploaded.
    pub resources: BTreeMap<String, String>,
    pub trained_inputs_digest: Option<String>,
    /// Digest whose training failed on the service; not retried until the inputs change.
    pub failed_inputs_digest: Option<String>,
    pub train_token: Option<String>,
    pub upgrade_token: Option<String>,
    pub reset_token: Option<String>,
    /// The last `reconcile-requested-at` token acted upon.
    pub reconcile_token: Option<String>,
    /// The last `recreate-requested-at` token acted upon (switched, or its model failed).
    pub recreate_token: Option<String>,
    /// The last `promote-requested-at` token acted upon.
    pub promote_token: Option<String>,
    /// The operation the operator started and has not seen finish.
    pub operation: Option<(OperationKind, String)>,
    /// The last failure that needs the user (a terminal reason on the Ready condition), with the
    /// generation and inputs it happened on.
    pub terminal: Option<TerminalFailure>,
    /// How long ago the recorded operation started (set by the shell from
    /// `status.currentOperation.startedAt` and the clock).
    pub operation_age: Option<std::time::Duration>,
    /// The service has reported the recorded operation running
    /// (`status.currentOperation.runningSeenAt`).
    pub operation_seen_running: bool,
    /// The service status the recorded operation started from
    /// (`status.currentOperation.startedFrom`); `None` in records written before it existed.
    pub operation_started_from: Option<ServiceStatus>,
}

/// A failure that no retry can fix: the operator waits for a new generation or new inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TerminalFailure {
    /// The Ready condition's reason (one of [`status::TERMINAL_REASONS`]).
    pub reason: String,
    /// The generation the condition was written for.
    pub generation: Option<i64>,
    /// The inputs digest recorded with it.
    pub inputs_digest: Option<String>,
}

/// Long-running operations the operator starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Train,
    Upgrade,
}

impl OperationKind {
    /// The type an operation record of this kind carries in status.
    pub fn record_type(self) -> crd::OperationType {
        match self {
            Self::Train => crd::OperationType::Train,
            Self::Upgrade => crd::OperationType::Upgrade,
        }
    }

    /// The operation a record's type names. A type this operator does not know (written by a
    /// newer one) is waited for like a training: both end when the service leaves `training` or
    /// `upgrading`.
    pub fn of_record(record_type: &crd::OperationType) -> Self {
        match record_type {
            crd::OperationType::Upgrade => Self::Upgrade,
            crd::OperationType::Train | crd::OperationType::Unknown(_) => Self::Train,
        }
    }
}

/// The model as the service reports it (`None` when it does not exist).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub status: Option<ServiceStatus>,
    pub versions: Vec<String>,
    pub resources: BTreeMap<String, ResourceState>,
    /// Names of the resources the service lists as grammars (the others are corpora or audio).
    pub grammars: BTreeSet<String>,
    /// User words on the service.
    pub words: BTreeMap<String, WordDef>,
}

/// The state of the acoustic model's language model.
#[derive(Clone, Debug, PartialEq)]
pub enum Dependency {
    /// No dependency configured.
    None,
    /// The referenced language model does not exist (yet).
    Missing,
    /// It exists but is not Available at the right version yet.
    NotReady { reason: String },
    /// Available: its customization ID and newest base-model version.
    Available {
        customization_id: String,
        version: Option<String>,
    },
}

/// All facts for one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub kind: ModelKind,
    /// `metadata.generation` of the object.
    pub generation: Option<i64>,
    pub suspended: bool,
    pub deleting: bool,
    pub retain_on_delete: bool,
    /// `spec.managementPolicy: ObserveOnly`: read and report, never write to the service (and
    /// never delete the model, whatever `retain_on_delete` says).
    pub observe_only: bool,
    /// `spec.customizationId`.
    pub adopt_id: Option<String>,
    /// A model on the service carrying this resource's ownership marker (found in the LIST):
    /// the one the resource keeps when it has no recorded model (the first the listing shows).
    pub marked_model: Option<String>,
    /// The other models on the service carrying this resource's ownership marker (neither the
    /// recorded model nor [`Facts::marked_model`]): duplicates a lost create answer left, deleted
    /// one at a time (`Action::DeleteMarked`), also while the resource is being deleted.
    pub duplicates: Vec<String>,
    /// The annotation `speech.watson.dev/release-without-deleting` is `"true"`: a deletion
    /// releases the resource without any call to the service (the IBM model is kept).
    pub release_requested: bool,
    /// While deleting: the resource's SpeechService (this name) does not exist, so no call can
    /// be made. Set by the shell only when the GET of the SpeechService found nothing.
    pub service_missing: Option<String>,
    pub desired: Desired,
    pub recorded: Recorded,
    /// `None`: the model does not exist on the service (or no ID is known).
    pub observed: Option<Observed>,
    /// The newest base-model version known for the base model.
    pub newest_version: Option<String>,
    pub dependency: Dependency,
    /// How long operations are expected to take ([`status::expectations`]).
    pub expected: status::Expected,
    /// `run --dry-run`: the shell skips every action that [`Action::skipped_in_dry_run`] and
    /// `status.nextAction` says so ([`next_action::text`]).
    pub dry_run: bool,
    /// Seconds of audio the acoustic model holds (`status.totalMinutesOfAudio`; 0 for the other
    /// kinds): over IBM's cap ([`action::AUDIO_CAP_SECONDS`]) no upgrade is attempted.
    pub audio_seconds: i64,
    /// `spec.baseModelName` (STT kinds): its lifecycle is shown in the condition
    /// `BaseModelCurrent` ([`capability::lifecycle`]).
    pub base_model_name: Option<String>,
    /// The base model the current model is on, as the service lists it (`None`: unknown). A
    /// language model whose spec names another base is re-created on it ([`successor`]).
    pub current_base: Option<String>,
    /// The new model a re-create builds beside the current one, or the last one that failed
    /// (`status.successor`), with what the service reports of it.
    pub successor: Option<successor::Successor>,
    /// `spec.evaluation.policy: Gate` (language models): what the gate knows ([`gate`]); `None`
    /// without a gate.
    pub gate: Option<gate::Gate>,
}

/// Why the operator waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// The service is training.
    Training,
    /// The service is upgrading.
    Upgrading,
    /// Resources are being analysed.
    Processing,
    /// The language model is not ready.
    Dependency(String),
    /// The last training failed on these inputs; change the spec to retry.
    TrainingFailed,
    /// Manual training policy: waiting for a request token.
    TrainingRequested,
    /// Manual upgrade policy: a newer version is available.
    UpgradeRequested,
    /// The model has no valid data to train on yet.
    NoData,
    /// The service rejected a resource (strict training would fail); the inputs must change.
    InvalidResource(String),
    /// The service reports a status the operator does not know.
    UnknownStatus(String),
    /// `Gate`: the new model beside the one in service is trained and waits for its measurement
    /// (or the model in service for its own, the baseline); the message says which ([`gate`]).
    Measuring(String),
    /// `Gate`: the new model measured worse than the one in service by more than the tolerance;
    /// the message gives both WERs and what the user can do ([`gate`]).
    QualityGateFailed(String),
    /// Deleting, and the SpeechService (this name) does not exist: no call can be made. The
    /// user creates it, or releases the resource with the annotation
    /// `speech.watson.dev/release-without-deleting: "true"` (the IBM model is kept).
    ServiceMissing {
        /// The SpeechService's name (`spec.serviceRef.name`).
        service: String,
        /// The recorded IBM model the deletion would delete.
        customization_id: String,
    },
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Suspended: make no calls (also while the object is being deleted: the finalizer stays).
    Suspended,
    /// The last failure needs the user and nothing changed since: no calls, no status write.
    AwaitSpecChange,
    /// Remove the finalizer (model retained, gone, or never created).
    ReleaseFinalizer,
    /// Delete the model on the service.
    DeleteModel,
    /// Delete a model that carries this resource's ownership marker but is not the one it keeps:
    /// a duplicate (`duplicate: true`; a create whose answer was lost, then created again), or,
    /// while deleting a resource with no recorded model, the model a lost create answer made.
    DeleteMarked {
        customization_id: String,
        duplicate: bool,
    },
    /// Take over an existing model (`spec.customizationId` or a marked model after a crash).
    Adopt {
        customization_id: String,
        recovered: bool,
    },
    /// Create the model.
    Create,
    /// Reset the model on request (`reset-requested-at`): the service removes all its data; the
    /// operator then adds it again and trains.
    Reset,
    /// The model vanished from the service; create it again.
    Recreate,
    /// An adopted model vanished; report, do not re-create.
    AdoptedModelMissing,
    DeleteResource {
        name: String,
    },
    AddResource {
        name: String,
        overwrite: bool,
    },
    AddWords {
        words: Vec<String>,
    },
    DeleteWord {
        word: String,
    },
    Upgrade {
        custom_language_model_id: Option<String>,
    },
    Train {
        custom_language_model_id: Option<String>,
    },
    /// Record a finished operation (training became available, upgrade done).
    Finish {
        kind: OperationKind,
        succeeded: bool,
    },
    Wait {
        reason: WaitReason,
    },
    /// Available and current.
    UpToDate,
    /// Re-create (a new `recreate-requested-at` token or a new `spec.baseModelName`): create a
    /// new model beside the current one, on the spec's base model, with the ownership marker
    /// ([`successor`]).
    CreateSuccessor,
    /// The next step of the new model's lifecycle (data, training, recording its end, waiting),
    /// performed on the successor while the current model keeps serving.
    Successor(Box<Action>),
    /// The new model is trained on the current inputs: switch `status.customizationId` and the
    /// export to it in one status write. The old model then carries the ownership marker without
    /// being the one kept, and goes as a duplicate (`DeleteMarked`).
    SwitchToSuccessor,
    /// The new model failed (training failed, data refused, gone): delete it (when it exists)
    /// and record why; the current model keeps serving.
    AbandonSuccessor {
        reason: String,
    },
    /// `spec.managementPolicy: ObserveOnly`: the model was read; report it, change nothing.
    Observe(Observing),
}

/// What a check of an observe-only model found: the phase as the service reports the model, how
/// the spec differs from the service, and the requests the operator does not act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observing {
    /// The phase that mirrors the service's status (`available` → Available, ...).
    pub phase: crate::crd::Phase,
    /// The service's status as reported (`available`, `training`, ...; `exists` for voice).
    pub service_status: ServiceStatus,
    /// Differences between the spec and the service, one short line each (reported, never
    /// fixed).
    pub drift: Vec<String>,
    /// Requests the operator does not act on for this model (annotations, an upgrade the
    /// upgrade policy would make), one short line each.
    pub ignored: Vec<String>,
    /// A newer base-model version the model is not upgraded to (STT kinds).
    pub upgrade_available: Option<String>,
}

impl Action {
    /// True for the actions that change the model on the service (create, data, training,
    /// upgrade, reset, delete). An observe-only model never gets one: [`decide`] does not choose
    /// them and the shell refuses them.
    pub fn writes_to_service(&self) -> bool {
        matches!(
            self,
            Action::DeleteModel
                | Action::DeleteMarked { .. }
                | Action::Create
                | Action::Reset
                | Action::Recreate
                | Action::DeleteResource { .. }
                | Action::AddResource { .. }
                | Action::AddWords { .. }
                | Action::DeleteWord { .. }
                | Action::Upgrade { .. }
                | Action::Train { .. }
                | Action::CreateSuccessor
                | Action::AbandonSuccessor { .. }
        ) || matches!(self, Action::Successor(inner) if inner.writes_to_service())
    }
}

impl Action {
    /// True for the actions `run --dry-run` does not perform: every write to the service
    /// ([`Action::writes_to_service`]) and releasing the finalizer (which lets Kubernetes delete
    /// the resource).
    pub fn skipped_in_dry_run(&self) -> bool {
        self.writes_to_service() || matches!(self, Action::ReleaseFinalizer)
    }
}

/// A request annotation's token that the operator has not acted on yet (set, and not the one
/// recorded as done).
fn new_token(wanted: &Option<String>, done: &Option<String>) -> bool {
    wanted.is_some() && wanted != done
}

impl Facts {
    /// A train request (annotation `speech.watson.dev/train-requested-at`) not acted on yet.
    pub fn train_requested(&self) -> bool {
        new_token(&self.desired.train_token, &self.recorded.train_token)
    }

    /// An upgrade request (annotation `speech.watson.dev/upgrade-requested-at`) not acted on yet.
    pub fn upgrade_requested(&self) -> bool {
        new_token(&self.desired.upgrade_token, &self.recorded.upgrade_token)
    }

    /// A reset request (annotation `speech.watson.dev/reset-requested-at`) not acted on yet.
    pub fn reset_requested(&self) -> bool {
        new_token(&self.desired.reset_token, &self.recorded.reset_token)
    }

    /// A promote request (annotation `speech.watson.dev/promote-requested-at`) not acted on yet.
    pub fn promote_requested(&self) -> bool {
        new_token(&self.desired.promote_token, &self.recorded.promote_token)
    }

    /// A re-create request (annotation `speech.watson.dev/recreate-requested-at`) not acted on
    /// yet.
    pub fn recreate_requested(&self) -> bool {
        new_token(&self.desired.recreate_token, &self.recorded.recreate_token)
    }

    /// A request for a full read (annotation `speech.watson.dev/reconcile-requested-at`) not
    /// acted on yet.
    pub fn reconcile_requested(&self) -> bool {
        new_token(
            &self.desired.reconcile_token,
            &self.recorded.reconcile_token,
        )
    }
}

impl Recorded {
    /// What the operator recorded, read from a model's status. The per-resource digests come
    /// with the observation (they live in the per-resource status lists).
    pub fn from_status(st: &crate::crd::ModelStatus) -> Self {
        Recorded {
            customization_id: st.customization_id.clone(),
            adopted: st.adopted.unwrap_or(false),
            resources: BTreeMap::new(),
            trained_inputs_digest: st.trained_inputs_digest.clone(),
            failed_inputs_digest: st
                .history
                .first()
                .filter(|h| {
                    h.kind == crd::OperationType::Train
                        && h.outcome == Some(crd::OperationOutcome::Failed)
                })
                .and_then(|h| h.inputs_digest.clone()),
            train_token: st.train_request_token.clone(),
            upgrade_token: st.upgrade_request_token.clone(),
            reset_token: st.reset_request_token.clone(),
            reconcile_token: st.reconcile_request_token.clone(),
            recreate_token: st.recreate_request_token.clone(),
            promote_token: st.promote_request_token.clone(),
            operation: st.current_operation.as_ref().map(|o| {
                let digest = o.inputs_digest.clone().unwrap_or_default();
                (OperationKind::of_record(&o.kind), digest)
            }),
            terminal: status::terminal_failure(st),
            operation_age: None,
            operation_seen_running: st
                .current_operation
                .as_ref()
                .is_some_and(|o| o.running_seen_at.is_some()),
            operation_started_from: st
                .current_operation
                .as_ref()
                .and_then(|o| o.started_from.clone()),
        }
    }
}
