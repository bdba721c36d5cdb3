//! The shared listings of one service instance: one LIST of each model kind, shared by every
//! model of the instance, so many models in flight cost one LIST per interval instead of one GET
//! each. What a listing entry of each kind is, and how it is listed, is [`Entry`].

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clients::Clients;
use crate::decision::vanished::{self, Guard, Rule};
use crate::decision::{ModelKind, ServiceStatus};
use crate::reconcile::error::Error;
use crate::watson::stt_types::{AcousticModel, LanguageModel};
use crate::watson::tts_types::VoiceModel;

/// One kind's model as the service lists it (`GET /v1/customizations`,
/// `/v1/acoustic_customizations`, `/v1/customizations` of TTS): its fields as the shell reads
/// them, the LIST that returns it, and its place in [`Listings`].
pub trait Entry: Clone + Send + Sync + 'static {
    /// The model kind this entry lists.
    const KIND: ModelKind;
    /// The customization ID.
    fn id(&self) -> &str;
    /// The service's status of the model (`None`: voice models have none).
    fn status(&self) -> Option<ServiceStatus>;
    /// The description, where the ownership marker is.
    fn description(&self) -> Option<&str>;
    /// The base model (STT kinds).
    fn base_model(&self) -> Option<&str> {
        None
    }
    /// The base-model versions the model is available for (STT kinds).
    fn versions(&self) -> &[String] {
        &[]
    }
    /// The service's `error` text on the model (STT kinds).
    fn error(&self) -> Option<&str> {
        None
    }
    /// The model's last-change time as the service wrote it (STT `updated`, TTS
    /// `last_modified`): a change made elsewhere moves it (issue 25).
    fn updated(&self) -> Option<&str>;
    /// One LIST of every model of this kind the instance holds.
    fn list(clients: &Clients) -> impl Future<Output = Result<Vec<Self>, Error>> + Send;
    /// The model `id` by a GET of its own ID (`None`: the service answers that it does not
    /// exist): confirms a model missing from a listing before anything is re-created (issue 25).
    fn get(clients: &Clients, id: &str)
    -> impl Future<Output = Result<Option<Self>, Error>> + Send;
    /// This kind's listing in `listings`.
    fn slot(listings: &mut Listings) -> &mut Option<Listing<Self>>;
}

/// The entry of an STT kind: the two listings have the same fields.
macro_rules! stt_entry {
    ($entry:ty, $kind:expr, $slot:ident, $list:ident, $get:ident) => {
        impl Entry for $entry {
            const KIND: ModelKind = $kind;
            fn id(&self) -> &str {
                &self.customization_id
            }
            fn status(&self) -> Option<ServiceStatus> {
                self.status
                    .as_ref()
                    .map(|s| ServiceStatus::parse(s.as_str()))
            }
            fn description(&self) -> Option<&str> {
                self.description.as_deref()
            }
            fn base_model(&self) -> Option<&str> {
                self.base_model_name.as_deref()
            }
            fn versions(&self) -> &[String] {
                &self.versions
            }
            fn error(&self) -> Option<&str> {
                self.error.as_deref()
            }
            fn updated(&self) -> Option<&str> {
                self.updated.as_deref()
            }
            async fn list(clients: &Clients) -> Result<Vec<Self>, Error> {
                Ok(clients.stt()?.$list(None).await?.customizations)
            }
            async fn get(clients: &Clients, id: &str) -> Result<Option<Self>, Error> {
                match clients.stt()?.$get(id).await {
                    Ok(m) => Ok(Some(m)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            fn slot(listings: &mut Listings) -> &mut Option<Listing<Self>> {
                &mut listings.$slot
            }
        }
    };
}

stt_entry!(
    LanguageModel,
    ModelKind::Language,
    language,
    list_language_models,
    get_language_model
);
stt_entry!(
    AcousticModel,
    ModelKind::Acoustic,
    acoustic,
    list_acoustic_models,
    get_acoustic_model
);

impl Entry for VoiceModel {
    const KIND: ModelKind = ModelKind::Voice;
    fn id(&self) -> &str {
        &self.customization_id
    }
    fn status(&self) -> Option<ServiceStatus> {
        None
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn updated(&self) -> Option<&str> {
        self.last_modified.as_deref()
    }
    async fn list(clients: &Clients) -> Result<Vec<Self>, Error> {
        Ok(clients
            .tts()?
            .list_custom_models(None)
            .await?
            .customizations)
    }
    async fn get(clients: &Clients, id: &str) -> Result<Option<Self>, Error> {
        match clients.tts()?.get_custom_model(id).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    fn slot(listings: &mut Listings) -> &mut Option<Listing<Self>> {
        &mut listings.voice
    }
}

/// One listing of a service's models of one kind.
pub struct Listing<T> {
    at: Instant,
    /// Read again before any use but counting (after an adoption: a model made moments ago by
    /// a script may be missing).
    stale: bool,
    /// The models the operator changed (created, fed, trained, deleted, ...) since the LIST:
    /// their entries may be out of date, every other entry is as current as the LIST. The
    /// membership stays right: the operator's own creates and deletes are applied to `ids`.
    changed: BTreeSet<String>,
    models: Arc<Vec<T>>,
    /// The customization IDs the service holds, as far as the operator knows.
    ids: BTreeSet<String>,
    /// Entries the operator wrote itself, with when: models it created since the LIST. Such an
    /// entry is as current as its own time, not the LIST's.
    own: BTreeMap<String, Instant>,
}

impl<T: Entry> Listing<T> {
    fn new(models: Vec<T>) -> Self {
        let ids = models.iter().map(|m| m.id().to_string()).collect();
        Listing {
            at: Instant::now(),
            stale: false,
            changed: Default::default(),
            models: Arc::new(models),
            ids,
            own: Default::default(),
        }
    }

    /// When the entry of `id` was current: when the operator wrote it, else when it was listed.
    fn entry_at(&self, id: &str) -> Instant {
        self.own.get(id).copied().unwrap_or(self.at)
    }

    /// Adds the entry of a model the operator has just created (current now).
    fn add_own(&mut self, entry: T) {
        let id = entry.id().to_string();
        self.ids.insert(id.clone());
        self.changed.remove(&id);
        self.own.insert(id, Instant::now());
        Arc::make_mut(&mut self.models).push(entry);
    }

    /// The status this listing shows for the model `id` (`None` when it does not list it).
    fn status_of(&self, id: &str) -> Option<Option<ServiceStatus>> {
        self.models
            .iter()
            .find(|m| m.id() == id)
            .map(|m| m.status())
    }

    /// The models when they are current for a look at `about` (one model: its entry not
    /// changed by the operator since; `None`, the whole list: nothing changed since), at most
    /// `max_age` old.
    fn current(&self, max_age: Duration, about: Option<&str>) -> Option<Arc<Vec<T>>> {
        let fresh = !self.stale
            && match about {
                // A model missing from the listing is confirmed by a new LIST before anyone
                // takes it for deleted out of band.
                Some(id) => {
                    !self.changed.contains(id)
                        && self.ids.contains(id)
                        && self.entry_at(id).elapsed() <= max_age
                }
                None => self.changed.is_empty() && self.at.elapsed() <= max_age,
            };
        fresh.then(|| self.models.clone())
    }
}

/// Model listings of one service, by kind.
pub struct Listings {
    language: Option<Listing<LanguageModel>>,
    acoustic: Option<Listing<AcousticModel>>,
    voice: Option<Listing<VoiceModel>>,
    /// Whether re-creation is open or halted for each kind (language, acoustic, voice) after
    /// the listings so far (issue 25: models vanishing in bulk, [`vanished::after_listing`]).
    guards: [Guard; 3],
    /// The rule of [`Self::guards`].
    rule: Rule,
}

/// The index of `kind` in [`Listings::guards`].
fn guard_index(kind: ModelKind) -> usize {
    match kind {
        ModelKind::Language => 0,
        ModelKind::Acoustic => 1,
        ModelKind::Voice => 2,
    }
}

impl Listings {
    /// No listing yet; re-creation halts when models vanish in bulk as `rule` says.
    pub fn empty(rule: Rule) -> Self {
        Listings {
            language: None,
            acoustic: None,
            voice: None,
            guards: Default::default(),
            rule,
        }
    }

    /// The models of `E`'s kind when current for a look at `about`, at most `max_age` old
    /// (see `Listing::current`).
    pub fn current<E: Entry>(
        &mut self,
        max_age: Duration,
        about: Option<&str>,
    ) -> Option<Arc<Vec<E>>> {
        E::slot(self).as_ref()?.current(max_age, about)
    }

    /// Stores a new LIST (nothing changed since, membership from it) and returns its models.
    /// Compared with the membership before it (the previous LIST with the operator's own creates
    /// and deletes since): too many models missing at once halts re-creation of the kind
    /// ([`Self::guard`]), a listing that shows them again opens it.
    pub fn store<E: Entry>(&mut self, models: Vec<E>) -> Arc<Vec<E>> {
        let listing = Listing::new(models);
        let i = guard_index(E::KIND);
        let (before, rule) = (self.guards[i].clone(), self.rule);
        let previous = E::slot(self).as_ref().map(|l| &l.ids);
        let guard = vanished::after_listing(&before, previous, &listing.ids, rule);
        if guard != self.guards[i] {
            match &guard {
                Guard::Halted { baseline, missing } => tracing::warn!(
                    kind = ?E::KIND,
                    missing,
                    known = baseline.len(),
                    "too many models are missing from the service's listing at once: re-creation stops until it lists them again"
                ),
                Guard::Open => tracing::info!(
                    kind = ?E::KIND,
                    "the service's listing shows the models again: re-creation resumes"
                ),
            }
            self.guards[i] = guard;
        }
        let shared = listing.models.clone();
        *E::slot(self) = Some(listing);
        shared
    }

    /// Adds the entry of a model the operator has just created; without a listing of the kind
    /// yet, nothing (the next look lists).
    pub fn add_own<E: Entry>(&mut self, entry: E) {
        if let Some(listing) = E::slot(self).as_mut() {
            listing.add_own(entry);
        }
    }

    /// The status the current listing shows for the model `id` of `kind` (`None` when it does
    /// not list it; voice models have no status).
    pub fn status_of(&self, kind: ModelKind, id: &str) -> Option<Option<ServiceStatus>> {
        match kind {
            ModelKind::Language => self.language.as_ref()?.status_of(id),
            ModelKind::Acoustic => self.acoustic.as_ref()?.status_of(id),
            ModelKind::Voice => None,
        }
    }

    /// The rule models vanishing in bulk are judged by.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// Whether re-creation of `kind` is open or halted (models vanished in bulk).
    pub fn guard(&self, kind: ModelKind) -> &Guard {
        &self.guards[guard_index(kind)]
    }

    /// The operator deleted the model `id` of `kind` (or found it gone while deleting its
    /// resource): no longer counted, and no longer awaited by a halted guard (deleting the
    /// resources of models deleted on purpose lifts the halt).
    pub fn forget(&mut self, kind: ModelKind, id: &str) {
        if let Some(ids) = self.ids_mut(kind) {
            ids.remove(id);
        }
        let rule = self.rule;
        let guard = &mut self.guards[guard_index(kind)];
        if let Guard::Halted { baseline, missing } = guard
            && baseline.remove(id)
        {
            // The latest listing lacked it, or it would not be deleted as gone.
            *missing = missing.saturating_sub(1);
            if !rule.breaks(baseline.len(), *missing) {
                *guard = Guard::Open;
            }
        }
    }

    /// The customization IDs the service holds of `kind`, as far as the operator knows.
    pub fn ids_mut(&mut self, kind: ModelKind) -> Option<&mut BTreeSet<String>> {
        match kind {
            ModelKind::Language => self.language.as_mut().map(|l| &mut l.ids),
            ModelKind::Acoustic => self.acoustic.as_mut().map(|l| &mut l.ids),
            ModelKind::Voice => self.voice.as_mut().map(|l| &mut l.ids),
        }
    }

    /// The `stale` flag and `changed` set of every listing (customization IDs are unique
    /// across kinds).
    pub fn marks_mut(&mut self) -> impl Iterator<Item = (&mut bool, &mut BTreeSet<String>)> {
        let Listings {
            language,
            acoustic,
            voice,
            ..
        } = self;
        [
            language.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
            acoustic.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
            voice.as_mut().map(|l| (&mut l.stale, &mut l.changed)),
        ]
        .into_iter()
        .flatten()
    }

    /// The number of models of `kind`, when listed at most `max_age` ago (stale or not).
    pub fn count(&self, kind: ModelKind, max_age: Duration) -> Option<usize> {
        let (at, n) = match kind {
            ModelKind::Language => self.language.as_ref().map(|l| (l.at, l.ids.len()))?,
            ModelKind::Acoustic => self.acoustic.as_ref().map(|l| (l.at, l.ids.len()))?,
            ModelKind::Voice => self.voice.as_ref().map(|l| (l.at, l.ids.len()))?,
        };
        (at.elapsed() <= max_age).then_some(n)
    }
}
