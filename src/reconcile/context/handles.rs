//! One SpeechService's handle, shared by the service check and every model of the service: its
//! IBM clients, the shared listings of its instance's models, the models waiting on it, the lock
//! creates take to respect the quota, and what answers at its URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clients::{Clients, identity_verdict};
use super::listings::{Entry, Listings};
use super::wakeups::Waiters;
use crate::decision::capability::Features;
use crate::decision::{ModelKind, ServiceStatus};
use crate::reconcile::error::Error;
use crate::watson::stt_types::{AcousticModel, LanguageModel};
use crate::watson::tts_types::VoiceModel;
use crate::watson::{SttClient, TtsClient};

/// What answers at a SpeechService's `spec.url`, as far as its handle knows (issue 25: one bad
/// answer is not a verdict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// Not asked yet.
    Unknown,
    /// The API `spec.service` needs answered.
    Right,
    /// One answer said it is the wrong API (the condition message): asked again.
    Suspect(String),
    /// Two answers in a row said so, the last at `at`: asked again after the drift interval.
    Wrong {
        /// The condition message (what is wrong and the fix).
        message: String,
        /// When the last wrong answer came.
        at: Instant,
    },
}

/// What the handle knows after `answer` (from [`identity_verdict`]), given what it knew: a right
/// answer is remembered at once; a wrong one is a suspicion until it repeats. Pure.
pub(crate) fn identity_after(
    known: &Identity,
    answer: Result<(), String>,
    now: Instant,
) -> Identity {
    match (answer, known) {
        (Ok(()), _) => Identity::Right,
        (Err(message), Identity::Suspect(_) | Identity::Wrong { .. }) => {
            Identity::Wrong { message, at: now }
        }
        (Err(message), _) => Identity::Suspect(message),
    }
}

/// One SpeechService's IBM client(s) and shared listings.
pub struct ServiceHandle {
    /// What the handle was built from (generation, UID, Secret version, CA digest): another
    /// key builds another handle.
    pub(super) key: String,
    /// The IBM client of the service.
    pub clients: Clients,
    listings: tokio::sync::Mutex<Listings>,
    /// The models waiting for an operation on this service.
    pub(super) waiters: Waiters,
    /// Held while counting models and creating one, so concurrent creates cannot overshoot the
    /// quota.
    pub create_lock: tokio::sync::Mutex<()>,
    /// Which API answers at `spec.url`, as far as the handle knows ([`Identity`]).
    identity: tokio::sync::Mutex<Identity>,
    /// `spec.url`, for messages.
    url: String,
    /// `supported_features` of the base models asked about (`GET /v1/models/{id}`), by name;
    /// `None`: the service does not offer it (404). Asked once per base model and handle.
    base_models: tokio::sync::Mutex<std::collections::HashMap<String, (Option<Features>, Instant)>>,
    /// How long a service-level conclusion (the base models' features, a repeated wrong answer
    /// about the API at `spec.url`) stands before it is asked again: the drift interval.
    recheck: Duration,
    /// Base models whose custom models upgrade by a forced retrain, as the service said once
    /// (a 400 to `upgrade_model` naming `train`'s `force`: IBM's improved next-generation
    /// bases): the next upgrade on them makes no refused call.
    retrain_upgrades: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Reads the inputs of the service's models at upload time (`url` sources streamed to the
    /// service); `None` in unit tests.
    sources: Option<crate::reconcile::inputs::Resolver>,
}

impl ServiceHandle {
    /// A handle with no listing yet, built for `key`.
    pub fn new(key: String, clients: Clients, waiters: Waiters, url: String) -> Self {
        ServiceHandle {
            key,
            clients,
            listings: tokio::sync::Mutex::new(Listings::empty(
                crate::decision::vanished::DEFAULT_RULE,
            )),
            waiters,
            create_lock: tokio::sync::Mutex::new(()),
            identity: tokio::sync::Mutex::new(Identity::Unknown),
            url,
            base_models: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            retrain_upgrades: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            recheck: Duration::from_secs(600),
            sources: None,
        }
    }

    /// This handle, halting re-creation when models vanish in bulk as `rule` says
    /// (`--max-vanished-fraction`).
    pub fn with_vanish_rule(self, rule: crate::decision::vanished::Rule) -> Self {
        ServiceHandle {
            listings: tokio::sync::Mutex::new(Listings::empty(rule)),
            ..self
        }
    }

    /// This handle, asking service-level conclusions again after `recheck` (the drift
    /// interval).
    pub fn with_recheck(mut self, recheck: Duration) -> Self {
        self.recheck = recheck;
        self
    }

    /// Models of `kind` vanished in bulk from the service's listings: `Some((missing, known))`
    /// while re-creation is halted (issue 25), `None` while it goes ahead.
    pub async fn vanished(&self, kind: ModelKind) -> Option<(usize, usize)> {
        match self.listings.lock().await.guard(kind) {
            crate::decision::vanished::Guard::Halted { baseline, missing } => {
                Some((*missing, baseline.len()))
            }
            crate::decision::vanished::Guard::Open => None,
        }
    }

    /// The rule models vanishing in bulk are judged by.
    pub async fn vanish_rule(&self) -> crate::decision::vanished::Rule {
        self.listings.lock().await.rule()
    }

    /// This handle, reading its models' inputs with `resolver` at upload time.
    pub fn with_sources(mut self, resolver: crate::reconcile::inputs::Resolver) -> Self {
        self.sources = Some(resolver);
        self
    }

    /// The resolver of the service's namespace for inputs read at upload time (a model and its
    /// SpeechService share a namespace).
    pub fn sources(&self) -> Result<&crate::reconcile::inputs::Resolver, Error> {
        self.sources
            .as_ref()
            .ok_or_else(|| Error::Service("no source resolver for this service handle".into()))
    }

    /// Whether custom models on base model `base` upgrade by a forced retrain, as learned by
    /// [`Self::learned_upgrades_by_retrain`] (for the handle's life: once per SpeechService
    /// generation and credentials).
    pub fn upgrades_by_retrain(&self, base: &str) -> bool {
        self.retrain_upgrades
            .lock()
            .is_ok_and(|known| known.contains(base))
    }

    /// The service refused `upgrade_model` on base model `base` because its models upgrade by a
    /// forced retrain: later upgrades on it go straight to the retrain.
    pub fn learned_upgrades_by_retrain(&self, base: &str) {
        if let Ok(mut known) = self.retrain_upgrades.lock() {
            known.insert(base.to_owned());
        }
    }

    /// What base model `name` supports (`GET /v1/models/{id}`, cached for the drift interval
    /// and the handle's life, so at most once per interval, SpeechService generation and
    /// credentials: one answer is not a verdict for ever, issue 25); `None` when the service
    /// does not offer it (404: unknown, or withdrawn like the previous-generation models).
    pub async fn base_model_features(&self, name: &str) -> Result<Option<Features>, Error> {
        let mut known = self.base_models.lock().await;
        if let Some((f, at)) = known.get(name)
            && at.elapsed() < self.recheck
        {
            return Ok(*f);
        }
        let features = match self.stt()?.get_model(name).await {
            Ok(m) => {
                let f = m.supported_features.unwrap_or_default();
                Some(Features {
                    custom_language_model: f.custom_language_model.unwrap_or(false),
                    custom_acoustic_model: f.custom_acoustic_model.unwrap_or(false),
                })
            }
            Err(crate::watson::Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        known.insert(name.to_owned(), (features, Instant::now()));
        Ok(features)
    }

    /// `spec.url` of the SpeechService, as written (exported to applications without its user
    /// information: [`crate::decision::export::service_url`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The STT client, or an error naming the mismatch.
    pub fn stt(&self) -> Result<&SttClient, Error> {
        self.clients.stt()
    }

    /// The TTS client, or an error naming the mismatch.
    pub fn tts(&self) -> Result<&TtsClient, Error> {
        self.clients.tts()
    }

    /// Checks that `spec.url` serves the API of `spec.service` (people paste the URL of the other
    /// service, or one with a path below the instance's base URL, and the other service then
    /// answers some calls in a confusing way). One probe ([`crate::watson::ServedApi`], at most
    /// two GETs) shared by the service check and every model of the service, so models of a
    /// wrong URL make no call of their own. The right API is remembered for the handle (once per
    /// SpeechService generation and credentials). One wrong answer is not a verdict (issue 25: a
    /// transient 404, 400 or HTML page): it is asked again at the next look (`Unconfirmed`,
    /// retried with backoff), and only a repeated wrong answer is `WrongService`, itself asked
    /// again once the drift interval has passed. Transient and credential failures
    /// are not remembered.
    pub async fn verify(&self) -> Result<(), Error> {
        let mut known = self.identity.lock().await;
        match &*known {
            Identity::Right => return Ok(()),
            Identity::Wrong { message, at } if at.elapsed() < self.recheck => {
                return Err(Error::WrongService(message.clone()));
            }
            _ => {}
        }
        let Some(served) = self.clients.served_api().await? else {
            return Ok(());
        };
        let answer = identity_verdict(self.clients.kind, served, &self.url);
        *known = identity_after(&known, answer, Instant::now());
        match &*known {
            Identity::Right | Identity::Unknown => Ok(()),
            Identity::Suspect(message) => Err(Error::Unconfirmed(message.clone())),
            Identity::Wrong { message, .. } => Err(Error::WrongService(message.clone())),
        }
    }

    /// All models of `E`'s kind on the instance, listed at most `max_age` ago, for a look at
    /// the model `about` (its entry not changed by the operator since, and present: a missing
    /// model is confirmed by a new LIST) or, with `None`, at the whole list (nothing changed
    /// since). One LIST shared by every model of the service: a change to one model makes only
    /// its own next look list again. A new LIST wakes the models it shows done waiting.
    pub async fn models<E: Entry>(
        &self,
        max_age: Duration,
        about: Option<&str>,
    ) -> Result<Arc<Vec<E>>, Error> {
        let mut l = self.listings.lock().await;
        if let Some(v) = l.current::<E>(max_age, about) {
            return Ok(v);
        }
        let list = E::list(&self.clients).await?;
        self.waiters.after_listing(&list, about);
        Ok(l.store(list))
    }

    /// A model missing from a listing, looked up by a GET of its own ID (issue 25: one bad or
    /// partial listing is not a verdict): `Some` when the service still has it (the listing was
    /// partial; logged, and nothing is re-created), `None` when the service answers that it does
    /// not exist.
    pub async fn confirm<E: Entry>(&self, id: &str) -> Result<Option<E>, Error> {
        let found = E::get(&self.clients, id).await?;
        if found.is_some() {
            tracing::warn!(
                customization_id = id,
                kind = ?E::KIND,
                "a model missing from the service's listing answers a GET of its own ID: the listing was partial; nothing is re-created"
            );
        }
        Ok(found)
    }

    /// How many models of `kind` the instance holds (for the quota and the SpeechService's
    /// `modelsInUse`): from a listing at most `max_age` old plus the operator's own creates and
    /// deletes since ([`Self::created`], [`Self::deleted`]), else from a new LIST. Models created
    /// or deleted by others since the listing are not counted until the next one.
    pub async fn model_count(&self, kind: ModelKind, max_age: Duration) -> Result<usize, Error> {
        if let Some(n) = self.listings.lock().await.count(kind, max_age) {
            return Ok(n);
        }
        let fresh = Duration::ZERO;
        Ok(match kind {
            ModelKind::Language => self.models::<LanguageModel>(fresh, None).await?.len(),
            ModelKind::Acoustic => self.models::<AcousticModel>(fresh, None).await?.len(),
            ModelKind::Voice => self.models::<VoiceModel>(fresh, None).await?.len(),
        })
    }

    /// Before an adoption: every look lists again (a model made moments ago by a script may be
    /// missing from the listing); the membership stays.
    pub async fn invalidate(&self) {
        for (stale, _) in self.listings.lock().await.marks_mut() {
            *stale = true;
        }
    }

    /// After the operator changed the model `id` (any call but a read): its next look lists
    /// again, and so does a look at the whole list; other models keep using the listing.
    pub async fn changed(&self, id: &str) {
        for (_, changed) in self.listings.lock().await.marks_mut() {
            changed.insert(id.to_string());
        }
    }

    /// The operator created a model: counted at once, and its entry is what the create's answer
    /// says (IBM answers a create with the customization ID only, and a new model is `pending`
    /// and holds nothing: watson-api.md §13 items 1 and 7), so the next look at it makes no LIST.
    /// Without a listing of the kind yet, the next look lists.
    pub async fn created<E: Entry>(&self, entry: E) {
        self.listings.lock().await.add_own(entry);
    }

    /// The operator deleted the model `id` of `kind` (or found it gone): no longer counted.
    pub async fn deleted(&self, kind: ModelKind, id: &str) {
        self.waiters.stop(id);
        self.listings.lock().await.forget(kind, id);
    }

    /// The model `namespace/name` (customization ID `id`, last seen with `status`) waits for an
    /// operation on the service (`waits`, from
    /// [`crate::decision::status::awaits_listing`]), or no longer does. A waiting model is
    /// woken ([`super::Notices::model_woken`]) by the first LIST of its kind, made for any model
    /// of the service, that shows the wait over; its own next look stays scheduled as well, so a
    /// missed wake-up only costs the time it always did.
    ///
    /// A LIST made since the model's look (for another model) may already show the end: then
    /// the model is woken at once. With a LIST in flight, that LIST compares when it arrives.
    pub fn await_listing(
        &self,
        kind: ModelKind,
        id: &str,
        (namespace, name): (&str, &str),
        status: Option<&ServiceStatus>,
        waits: bool,
    ) {
        if !waits {
            self.waiters.stop(id);
            return;
        }
        self.waiters.wait(kind, id, (namespace, name), status);
        let listed = match self.listings.try_lock() {
            Ok(l) => l.status_of(kind, id),
            Err(_) => return,
        };
        if let Some(now) = listed
            && crate::decision::status::listing_wakes(status, now.as_ref())
            && self.waiters.stop(id)
        {
            self.waiters
                .wake(vec![(kind, namespace.to_string(), name.to_string())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25: one wrong answer about what serves `spec.url` is a suspicion; the second in a
    /// row is the verdict; a right answer at any point clears it.
    #[test]
    fn one_wrong_answer_is_not_a_verdict() {
        let now = Instant::now();
        let wrong = || Err::<(), String>("the Text to Speech API answers here".into());
        let first = identity_after(&Identity::Unknown, wrong(), now);
        assert_eq!(
            first,
            Identity::Suspect("the Text to Speech API answers here".into())
        );
        let flapped = identity_after(&first, Ok(()), now);
        assert_eq!(flapped, Identity::Right);
        let second = identity_after(&first, wrong(), now);
        assert!(matches!(second, Identity::Wrong { .. }), "{second:?}");
        // Re-checked after the drift interval: a right answer clears the verdict, a wrong one
        // keeps it.
        assert_eq!(identity_after(&second, Ok(()), now), Identity::Right);
        assert!(matches!(
            identity_after(&second, wrong(), now),
            Identity::Wrong { .. }
        ));
    }
    use crate::crd::speech_service::ServiceKind;
    use crate::reconcile::context::wakeups::Woken;
    use crate::reconcile::context::wakeups::tests::listed;

    fn handle(models: &[(&str, &str)]) -> (ServiceHandle, tokio::sync::broadcast::Receiver<Woken>) {
        let (tx, rx) = tokio::sync::broadcast::channel(16);
        let clients = Clients {
            kind: ServiceKind::SpeechToText,
            stt: None,
            tts: None,
        };
        let h = ServiceHandle::new("k".into(), clients, Waiters::new(tx), "http://sim".into());
        h.listings
            .try_lock()
            .expect("unlocked")
            .store(listed(models));
        (h, rx)
    }

    /// A LIST made for another model between a model's look and its recording of the wait
    /// already shows the end: the model is woken at once, not at its own next look (review of
    /// issue 11's wake-ups).
    #[test]
    fn a_wait_the_current_listing_shows_ended_wakes_at_once() {
        let (h, mut rx) = handle(&[("a", "available"), ("b", "training")]);
        h.await_listing(
            ModelKind::Language,
            "a",
            ("ns", "lm-a"),
            Some(&ServiceStatus::Training),
            true,
        );
        assert_eq!(
            rx.try_recv().expect("woken"),
            (ModelKind::Language, "ns".to_string(), "lm-a".to_string())
        );
        assert!(h.waiters.none_waits());
        // Still running as the listing shows it: recorded, no wake.
        h.await_listing(
            ModelKind::Language,
            "b",
            ("ns", "lm-b"),
            Some(&ServiceStatus::Training),
            true,
        );
        assert!(rx.try_recv().is_err());
        assert!(h.waiters.waits("b"));
        // The wait ends with the reconcile: the entry goes.
        h.await_listing(
            ModelKind::Language,
            "b",
            ("ns", "lm-b"),
            Some(&ServiceStatus::Available),
            false,
        );
        assert!(h.waiters.none_waits());
    }
}
