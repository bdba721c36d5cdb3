//! What differs per model kind, behind one trait: [`KindOps`], implemented in `language.rs`,
//! `acoustic.rs` and `voice.rs`. The steps ([`super::gather`], [`super::perform`]) are written
//! once over it: finding the model in the shared listing, finding it by its ownership marker,
//! creating and deleting it.
//!
//! | | language | acoustic | voice |
//! |---|---|---|---|
//! | listing entry ([`KindOps::Entry`]) | `LanguageModel` | `AcousticModel` | `VoiceModel` |
//! | inputs ([`KindOps::desired`]) | corpora, grammars, words | audio | words |
//! | dependency | none | its language model | none |
//! | data read ([`KindOps::observe`]) | corpora, grammars, words | audio | the model's words |
//! | create / delete | STT language | STT acoustic | TTS custom model |
//! | other calls ([`KindOps::change`]) | data, words, train, upgrade, reset | audio, train, upgrade (force path), reset | words |

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::context::listings::Entry;
use super::context::{Context, ServiceHandle};
use super::error::Error;
use crate::decision::status::{Observation, Outcome, Previous, ResourceClass, TrackedResource};
use crate::decision::{Action, Dependency, Desired, Facts, Observed, ResourceState, ServiceStatus};
use crate::model::ModelResource;

/// How fresh the shared listing must be while work is in flight.
pub(crate) const IN_FLIGHT_AGE: Duration = Duration::from_millis(500);

/// The listing age for a check: the model's drift interval when it is steady, else fresh.
pub(crate) fn listing_age(steady: bool, drift_interval: Duration) -> Duration {
    if steady {
        drift_interval
    } else {
        IN_FLIGHT_AGE
    }
}

/// One model kind's inputs, observation and IBM calls.
pub(crate) trait KindOps: ModelResource {
    /// The kind's entry in the service's model listing (which LIST, which fields).
    type Entry: Entry;

    /// The desired inputs, resolved, with their contents (resource name to bytes, for uploads).
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error>;

    /// The model this one trains with (acoustic models: their language model).
    async fn dependency(&self, _ctx: &Context) -> Result<Dependency, Error> {
        Ok(Dependency::None)
    }

    /// The model as the service reports it, from its listing `entry` and, where the record
    /// cannot be trusted (`check`), the service's reads of its data. `None`: gone.
    async fn observe(
        &self,
        svc: &ServiceHandle,
        entry: &Self::Entry,
        check: &Check<'_>,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<(Observed, Observation)>, Error>;

    /// Creates the model on the service with `name` and `description` (the ownership marker
    /// included); returns its listing entry as the service now holds it.
    async fn create(
        &self,
        svc: &ServiceHandle,
        name: String,
        description: String,
    ) -> Result<Self::Entry, Error>;

    /// Deletes the model `id` from the service.
    async fn delete(svc: &ServiceHandle, id: &str) -> Result<(), Error>;

    /// Performs any other action that writes to the service (data, words, training, upgrade,
    /// reset) on the model `id`.
    async fn change(
        &self,
        svc: &ServiceHandle,
        id: &str,
        action: &Action,
        g: &Gathered,
    ) -> Result<Outcome, Error>;

    /// Seconds of audio recorded in status (acoustic models), for the expected training length.
    fn audio_seconds(&self) -> i64 {
        0
    }

    /// After a successful reconcile, outside its service slot: work that runs beside the
    /// reconcile (language models: the measurement on the test set, `evaluate.rs`).
    fn after_reconcile(&self, _ctx: &std::sync::Arc<Context>) {}

    /// `spec.evaluation.policy: Gate` (language models): what the decision's gate reads
    /// ([`crate::decision::gate`]); `None` without a gate.
    fn gate(&self) -> Option<crate::decision::gate::Gate> {
        None
    }
}

/// Everything gathered about one model before the decision.
pub(crate) struct Gathered {
    /// The facts the decision reads.
    pub facts: Facts,
    /// Resource contents by name (text or audio bytes), for uploads.
    pub contents: BTreeMap<String, Vec<u8>>,
    /// What status shows of the model as observed.
    pub seen: Observation,
    /// The operator's `--cluster-name`, for the ownership marker of a create ([`super::gather::Owner`]).
    pub cluster_name: Option<String>,
}

/// What a check of a model knows before it calls the service: the record, read once for this
/// reconcile, and whether the model is steady (Available on its current inputs and spec).
#[derive(Clone, Copy)]
pub(crate) struct Check<'a> {
    /// Available on its current inputs and spec: the listing may be as old as the drift
    /// interval.
    pub steady: bool,
    /// The recorded status.
    pub prev: &'a Previous,
    /// The model waits for its dependency (an acoustic model's language model is missing or
    /// not Available).
    pub waits_for_dependency: bool,
    /// Read all the model's data, nothing from the record: a new `reconcile-requested-at`
    /// token, or the listing shows the model changed elsewhere
    /// ([`changed_elsewhere`](crate::decision::status::changed_elsewhere), issue 25).
    pub read_all: bool,
    /// A new `reconcile-requested-at` token: the listing of the service's models is made anew.
    pub requested: bool,
    /// This model's drift interval (`speech.watson.dev/drift-interval`, else the operator's).
    pub drift_interval: Duration,
    /// The resource is being deleted: a model missing from the listing needs no confirmation.
    pub deleting: bool,
}

impl Check<'_> {
    /// The listing age for this check: a new listing on request, the drift interval when
    /// steady, else fresh.
    pub fn listing_age(&self) -> Duration {
        if self.requested {
            Duration::ZERO
        } else {
            listing_age(self.steady, self.drift_interval)
        }
    }

    /// Whether this check may take the model's data from its record (see
    /// [`data_from_record`](crate::decision::status::data_from_record)); `words` is the
    /// recorded word count and whether the spec asks for words.
    pub fn may_trust(
        &self,
        observed: &Observed,
        words: crate::decision::status::Words,
        ctx: &Context,
    ) -> bool {
        !self.read_all
            && crate::decision::status::data_from_record(
                observed.status.as_ref(),
                self.steady,
                &self.prev.model,
                &self.prev.resources,
                words,
                self.waits_for_dependency,
                ctx.settings.expected_analysis,
                Timestamp::now(),
            )
    }
}

/// What the shared listing says of one STT model: its status, versions and `error` text, for the
/// decision and for status. `None` for the status when the service gave none. The raw `error`
/// (which can hold a whole internal JSON error document) goes to the debug log only; status
/// shows the summary the decision makes of it.
pub(crate) fn from_entry<E: Entry>(entry: &E) -> (Observed, Observation) {
    let (status, versions, error) = (entry.status(), entry.versions(), entry.error());
    if let Some(raw) = error {
        tracing::debug!(
            service_error = raw,
            "the service reports an error on the model"
        );
    }
    let observed = Observed {
        status: status.clone(),
        versions: versions.to_vec(),
        ..Default::default()
    };
    let seen = Observation {
        service_status: status,
        versions: versions.to_vec(),
        service_error: error.map(str::to_string),
        ..Default::default()
    };
    (observed, seen)
}

/// The data as recorded, when [`data_from_record`](crate::decision::status::data_from_record)
/// allows it: each recorded resource in the state its recorded service status says, except that
/// an analysis recorded as running has ended once the listing no longer says `pending` (IBM
/// keeps a model `pending` while it analyses, watson-api.md §8.3); how it ended is read before
/// the training.
pub(crate) fn trust_record(
    recorded: Vec<TrackedResource>,
    observed: &mut Observed,
    seen: &mut Observation,
) {
    let analysing = !matches!(&observed.status, Some(s) if *s != ServiceStatus::Pending);
    for r in recorded {
        let name = r.status.name.clone();
        if r.class == ResourceClass::Grammar {
            observed.grammars.insert(name.clone());
        }
        let error = r.status.error.clone().unwrap_or_default();
        let state = ResourceState::of(r.status.service_status.as_ref(), error, analysing);
        observed.resources.insert(name, state);
        seen.resources.push(r);
    }
}

/// The outcome of a training call: the warnings of the resources it left out (`strict=false`).
pub(crate) fn trained(resp: crate::watson::stt_types::TrainingResponse) -> Outcome {
    Outcome {
        warnings: resp
            .warnings
            .into_iter()
            .filter_map(|w| w.message)
            .collect(),
        ..Default::default()
    }
}
