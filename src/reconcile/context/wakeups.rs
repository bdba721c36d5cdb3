//! Wake-ups between reconciles: a SpeechService whose model count changed, and a model whose wait
//! on the service (training, upgrading, data being analysed) a shared LIST made for another
//! model shows ended ([`crate::decision::status::listing_wakes`]). A wake-up only brings a look
//! forward: every model keeps its own next look, so a lost one costs what polling always did.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::listings::Entry;
use crate::decision::{ModelKind, ServiceStatus};

/// A model a shared listing woke: its kind, namespace and name.
pub type Woken = (ModelKind, String, String);

/// The wake-up channels of every controller, heard by each scope's controllers.
pub struct Notices {
    /// Wakes a SpeechService (namespace, name) whose model count changed: a model was created
    /// or deleted on its instance, so its `modelsInUse` is right at once, not a drift later.
    pub service_changed: broadcast::Sender<(String, String)>,
    /// Wakes a model (kind, namespace, name) whose wait on the service a shared listing shows
    /// ended ([`Waiters`]).
    pub model_woken: broadcast::Sender<Woken>,
}

impl Notices {
    /// Channels with room for bursts (a lagging receiver skips what it missed).
    pub fn new() -> Self {
        Notices {
            service_changed: broadcast::channel(256).0,
            model_woken: broadcast::channel(1024).0,
        }
    }
}

impl Default for Notices {
    fn default() -> Self {
        Self::new()
    }
}

/// A model waiting for an operation on the service to end.
pub(super) struct Awaiting {
    pub kind: ModelKind,
    pub namespace: String,
    pub name: String,
    /// The status the last listing (or the model's own look) showed.
    pub last: Option<ServiceStatus>,
}

/// The models waiting for an operation on one service, by customization ID. Only models in
/// flight: a steady model has no entry. A plain mutex: never held across a call, so a model
/// recording its wait does not wait for a LIST in flight.
pub struct Waiters {
    waiting: Mutex<HashMap<String, Awaiting>>,
    /// Where the woken models go ([`Notices::model_woken`]).
    woken: broadcast::Sender<Woken>,
}

impl Waiters {
    /// No model waiting yet; wake-ups go to `woken`.
    pub fn new(woken: broadcast::Sender<Woken>) -> Self {
        Waiters {
            waiting: Mutex::new(HashMap::new()),
            woken,
        }
    }

    /// The model `id` (`namespace/name`, last seen with `status`) waits.
    pub fn wait(
        &self,
        kind: ModelKind,
        id: &str,
        (namespace, name): (&str, &str),
        status: Option<&ServiceStatus>,
    ) {
        self.waiting.lock().insert(
            id.to_string(),
            Awaiting {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                last: status.cloned(),
            },
        );
    }

    /// The model `id` waits no more; `true` when it did.
    pub fn stop(&self, id: &str) -> bool {
        self.waiting.lock().remove(id).is_some()
    }

    /// Whether the model `id` waits (for tests).
    #[cfg(test)]
    pub fn waits(&self, id: &str) -> bool {
        self.waiting.lock().contains_key(id)
    }

    /// Whether no model waits (for tests).
    #[cfg(test)]
    pub fn none_waits(&self) -> bool {
        self.waiting.lock().is_empty()
    }

    /// After a LIST made for a look at `about`: wakes the waiting models of its kind whose wait
    /// it shows ended.
    pub fn after_listing<E: Entry>(&self, models: &[E], about: Option<&str>) {
        let woken = woken(&mut self.waiting.lock(), models, about);
        self.wake(woken);
    }

    /// Sends wake-ups. Nobody listening (in unit tests) is fine.
    pub fn wake(&self, woken: Vec<Woken>) {
        for w in woken {
            let _ = self.woken.send(w);
        }
    }
}

/// After a LIST of `E`'s kind (`models`) made for a look at `about`: the waiting models of that
/// kind whose wait it shows ended ([`crate::decision::status::listing_wakes`]), removed from the
/// waiting ones; the others remember the status it shows. `about` itself is not woken: the
/// reconcile that listed sees the LIST, and records its wait again or ends it.
fn woken<E: Entry>(
    waiting: &mut HashMap<String, Awaiting>,
    models: &[E],
    about: Option<&str>,
) -> Vec<Woken> {
    let kind = E::KIND;
    if !waiting.values().any(|a| a.kind == kind) {
        return Vec::new();
    }
    let listed: HashMap<&str, Option<ServiceStatus>> = models
        .iter()
        .filter(|m| waiting.contains_key(m.id()))
        .map(|m| (m.id(), m.status()))
        .collect();
    let mut woken = Vec::new();
    waiting.retain(|cid, a| {
        if a.kind != kind || about == Some(cid.as_str()) {
            return true;
        }
        let now = listed.get(cid.as_str()).cloned().flatten();
        if crate::decision::status::listing_wakes(a.last.as_ref(), now.as_ref()) {
            woken.push((
                a.kind,
                std::mem::take(&mut a.namespace),
                std::mem::take(&mut a.name),
            ));
            return false;
        }
        a.last = now;
        true
    });
    woken
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::watson::stt_types::LanguageModel;

    /// Listing entries of language models from (customization ID, status) pairs.
    pub(in crate::reconcile::context) fn listed(models: &[(&str, &str)]) -> Vec<LanguageModel> {
        models
            .iter()
            .map(|(id, status)| {
                serde_json::from_value(serde_json::json!({
                    "customization_id": id, "status": status
                }))
                .expect("model")
            })
            .collect()
    }

    type Waiting = HashMap<String, Awaiting>;

    fn woken_about(l: &mut Waiting, models: &[(&str, &str)], about: Option<&str>) -> Vec<Woken> {
        super::woken(l, &listed(models), about)
    }

    fn woken(l: &mut Waiting, models: &[(&str, &str)]) -> Vec<Woken> {
        woken_about(l, models, None)
    }

    fn waiting(l: &mut Waiting, kind: ModelKind, id: &str, name: &str, last: &str) {
        l.insert(
            id.into(),
            Awaiting {
                kind,
                namespace: "ns".into(),
                name: name.into(),
                last: Some(last.into()),
            },
        );
    }

    /// Issue 11 (language-model overhead): a model's training end is seen by the first LIST any
    /// model of the service makes, not only at its own next look; the entry goes with the wake.
    #[test]
    fn a_listing_wakes_the_models_whose_operation_ended() {
        let mut l = Waiting::new();
        waiting(&mut l, ModelKind::Language, "a", "lm-a", "ready");
        waiting(&mut l, ModelKind::Language, "b", "lm-b", "training");
        waiting(&mut l, ModelKind::Language, "gone", "lm-gone", "training");
        waiting(&mut l, ModelKind::Acoustic, "c", "am-c", "training");
        // The listing lags the train call of a (still `ready`), b still trains, "gone" was
        // deleted out of band, and the acoustic model is not in a language listing at all.
        let w = woken(
            &mut l,
            &[("a", "ready"), ("b", "training"), ("x", "available")],
        );
        assert_eq!(
            w,
            vec![(ModelKind::Language, "ns".into(), "lm-gone".into())]
        );
        // a is seen training (work in progress: no wake, remembered), b ends.
        let w = woken(&mut l, &[("a", "training"), ("b", "available")]);
        assert_eq!(w, vec![(ModelKind::Language, "ns".into(), "lm-b".into())]);
        assert_eq!(l["a"].last, Some(ServiceStatus::Training));
        // a LIST made for a's own look does not wake a (its reconcile sees the LIST itself).
        assert!(woken_about(&mut l, &[("a", "failed")], Some("a")).is_empty());
        assert_eq!(l["a"].last, Some(ServiceStatus::Training));
        // a fails: woken once, then no longer waiting; the acoustic model still waits.
        let w = woken(&mut l, &[("a", "failed")]);
        assert_eq!(w, vec![(ModelKind::Language, "ns".into(), "lm-a".into())]);
        assert!(woken(&mut l, &[("a", "available")]).is_empty());
        assert_eq!(l.len(), 1);
        assert!(l.contains_key("c"));
    }
}
