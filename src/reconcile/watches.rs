//! The dependency watches of one scope (a namespace, or the whole cluster): which objects
//! reference which, and the wake-ups that follow from a change.
//!
//! Clusters hold thousands of Secrets and ConfigMaps that have nothing to do with speech models
//! (Helm keeps every release in a Secret of up to 1 MiB). So:
//!
//! - each watched kind has **one** stream per scope, shared by every controller that depends on
//!   it (kube-runtime's `Controller::watches` would open one per controller);
//! - Secrets and ConfigMaps are watched **metadata only** (`PartialObjectMetadata`, a few hundred
//!   bytes each instead of the whole object); a reconcile reads the contents of the few objects
//!   its resource references, when it needs them;
//! - an event finds the objects that reference it through an [`Index`] (namespace/name →
//!   dependents), not by scanning every cached model: a model's entry is written by its
//!   reconcile, which reads the whole object ([`Router::hold`]; the model streams carry
//!   metadata only), a SpeechService's by its stream; the streams drop the entries of deleted
//!   objects, including those a re-listing no longer lists;
//! - an event wakes its dependents only when the object really changed (a new
//!   `resourceVersion`; for a SpeechService, a new generation or Ready status), so the periodic
//!   re-listing of a watch does not re-run every reconcile.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kube::ResourceExt;
use kube::core::ObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{Error as WatchError, Event};
use tokio::sync::mpsc;

use crate::model::{RefKind, Referencing};

/// The annotation `kubectl apply` writes with a copy of the whole applied object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the operator never reads from an object before it enters a cache: the
/// `managedFields` (often larger than the spec) and `kubectl apply`'s copy of the object.
pub fn strip(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// The controller an object that references others belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependent {
    /// A SpeechService (its credentials Secret and CA bundle ConfigMap).
    Service,
    /// A CustomLanguageModel.
    Language,
    /// A CustomAcousticModel.
    Acoustic,
    /// A CustomVoiceModel.
    Voice,
}

impl From<crate::decision::ModelKind> for Dependent {
    fn from(kind: crate::decision::ModelKind) -> Self {
        use crate::decision::ModelKind;
        match kind {
            ModelKind::Language => Dependent::Language,
            ModelKind::Acoustic => Dependent::Acoustic,
            ModelKind::Voice => Dependent::Voice,
        }
    }
}

/// A referenced object: its kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub kind: RefKind,
    pub namespace: String,
    pub name: String,
}

/// An object that references others: its controller, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    pub who: Dependent,
    pub namespace: String,
    pub name: String,
}

/// namespace/name → the objects that reference it, and back. Lookups and updates cost the size
/// of one object's references, never the number of cached objects.
#[derive(Debug, Default)]
pub struct Index {
    dependents: HashMap<Target, BTreeSet<Holder>>,
    targets: HashMap<Holder, Vec<Target>>,
    /// Holders seen since the current re-listing of each controller's stream began.
    relisting: HashMap<Dependent, HashSet<Holder>>,
}

impl Index {
    /// Records that `holder` references exactly `targets` (replacing what it referenced before).
    /// It does not count as listed by a re-listing in progress ([`Index::listed`]): a reconcile
    /// that records a model the re-listing does not list was about a deleted model.
    pub fn set(&mut self, holder: Holder, targets: Vec<Target>) {
        self.remove(&holder);
        for t in &targets {
            self.dependents
                .entry(t.clone())
                .or_default()
                .insert(holder.clone());
        }
        // Kept even when it references nothing: a re-listing must know every object to
        // report the ones it no longer lists ([`Index::relisted`]).
        self.targets.insert(holder, targets);
    }

    /// `holder` is listed (by a re-listing in progress: it is kept at [`Index::relisted`]).
    pub fn listed(&mut self, holder: &Holder) {
        if let Some(seen) = self.relisting.get_mut(&holder.who) {
            seen.insert(holder.clone());
        }
    }

    /// Forgets `holder` (deleted).
    pub fn remove(&mut self, holder: &Holder) {
        for t in self.targets.remove(holder).unwrap_or_default() {
            if let Some(set) = self.dependents.get_mut(&t) {
                set.remove(holder);
                if set.is_empty() {
                    self.dependents.remove(&t);
                }
            }
        }
    }

    /// The objects that reference `target`, in a stable order.
    pub fn dependents(&self, target: &Target) -> Vec<Holder> {
        self.dependents
            .get(target)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A re-listing of `who`'s stream begins: holders it does not list again are dropped at
    /// [`Index::relisted`] (they were deleted while the watch was down).
    pub fn relisting(&mut self, who: Dependent) {
        self.relisting.insert(who, HashSet::new());
    }

    /// The re-listing of `who`'s stream is complete: returns the holders it did not list again
    /// (deleted while the watch was down), now forgotten.
    pub fn relisted(&mut self, who: Dependent) -> Vec<Holder> {
        let Some(seen) = self.relisting.remove(&who) else {
            return Vec::new();
        };
        let gone: Vec<Holder> = self
            .targets
            .keys()
            .filter(|h| h.who == who && !seen.contains(*h))
            .cloned()
            .collect();
        for h in &gone {
            self.remove(h);
        }
        gone
    }

    /// How many objects the index knows (for tests and metrics).
    pub fn holders(&self) -> usize {
        self.targets.len()
    }
}

/// The wake-up channels of one scope's controllers, fed by the dependency streams through the
/// [`Index`].
pub struct Router {
    index: Mutex<Index>,
    /// Last `resourceVersion` (or, for SpeechServices, readiness) that woke the dependents of a
    /// referenced object; only referenced objects have an entry.
    woke_at: Mutex<HashMap<Target, String>>,
    senders: HashMap<Dependent, mpsc::UnboundedSender<(String, String)>>,
}

/// The receiving ends of a [`Router`], one per controller.
pub struct Wakeups {
    receivers: HashMap<Dependent, mpsc::UnboundedReceiver<(String, String)>>,
}

impl Wakeups {
    /// The wake-ups of `who`'s controller, as object references (for
    /// `Controller::reconcile_on`). Each may be taken once; a second call yields an empty stream.
    pub fn take<K>(
        &mut self,
        who: Dependent,
    ) -> impl futures::Stream<Item = ObjectRef<K>> + Send + 'static
    where
        K: kube::Resource<DynamicType = ()> + 'static,
    {
        let rx = self.receivers.remove(&who);
        futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let (ns, name) = rx.recv().await?;
            Some((ObjectRef::<K>::new(&name).within(&ns), Some(rx)))
        })
    }
}

impl Router {
    /// A router and its receivers.
    pub fn new() -> (Arc<Router>, Wakeups) {
        let mut senders = HashMap::new();
        let mut receivers = HashMap::new();
        for who in [
            Dependent::Service,
            Dependent::Language,
            Dependent::Acoustic,
            Dependent::Voice,
        ] {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.insert(who, tx);
            receivers.insert(who, rx);
        }
        let router = Router {
            index: Mutex::new(Index::default()),
            woke_at: Mutex::new(HashMap::new()),
            senders,
        };
        (Arc::new(router), Wakeups { receivers })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An `inspect` hook for a primary stream of `who`'s whole objects (SpeechServices): as
    /// [`Router::track_holders`], and each listed object's references are recorded from the
    /// event itself ([`Router::hold`]).
    pub fn track<K>(
        self: &Arc<Self>,
        who: Dependent,
        gone: impl Fn(&str, &str) + Send + 'static,
    ) -> impl FnMut(&Result<Event<K>, WatchError>) + Send + 'static
    where
        K: kube::Resource + Referencing + 'static,
    {
        let mut holders = self.track_holders::<K>(who, gone);
        let router = self.clone();
        move |event| {
            holders(event);
            if let Ok(Event::Apply(o) | Event::InitApply(o)) = event {
                router.hold(who, o);
            }
        }
    }

    /// An `inspect` hook for a primary stream of `who`'s objects that carries metadata only
    /// (the models): what each object references is recorded by its reconcile, which reads the
    /// whole object ([`Router::hold`]); this keeps the holders current across re-listings (an
    /// object not listed again was deleted while the watch was down) and deletions, and calls
    /// `gone(namespace, name)` for every object deleted either way, so what the process
    /// remembers of it goes too.
    pub fn track_holders<K>(
        self: &Arc<Self>,
        who: Dependent,
        gone: impl Fn(&str, &str) + Send + 'static,
    ) -> impl FnMut(&Result<Event<K>, WatchError>) + Send + 'static
    where
        K: kube::Resource + 'static,
    {
        let router = self.clone();
        move |event| {
            let Ok(event) = event else { return };
            let deleted = {
                let mut index = router.index();
                match event {
                    Event::Init => {
                        index.relisting(who);
                        Vec::new()
                    }
                    Event::InitDone => index.relisted(who),
                    Event::Apply(o) | Event::InitApply(o) => {
                        index.listed(&holder(who, o));
                        Vec::new()
                    }
                    Event::Delete(o) => {
                        let h = holder(who, o);
                        index.remove(&h);
                        vec![h]
                    }
                }
            };
            for h in deleted {
                gone(&h.namespace, &h.name);
            }
        }
    }

    /// Records what `o`, one of `who`'s objects as its reconcile read it, references now: from
    /// then on a change of any of them wakes it. Called before the reconcile reads any of them,
    /// so a change is either read or wakes the object again.
    pub fn hold<K: kube::Resource + Referencing>(&self, who: Dependent, o: &K) {
        let (holder, targets) = references(who, o);
        self.index().set(holder, targets);
    }

    /// Forgets what `who`'s object `namespace/name` references (it was deleted while its
    /// reconcile recorded it, see [`Router::hold`]).
    pub fn release(&self, who: Dependent, namespace: &str, name: &str) {
        self.index().remove(&Holder {
            who,
            namespace: namespace.to_string(),
            name: name.to_string(),
        });
    }

    /// Wakes the dependents of `target` when `version` differs from the version that last woke
    /// them (`None`: the object was deleted, which always wakes them).
    pub fn changed(&self, target: Target, version: Option<String>) {
        let dependents = self.index().dependents(&target);
        let mut woke = self.woke_at.lock().unwrap_or_else(PoisonError::into_inner);
        if dependents.is_empty() {
            woke.remove(&target);
            return;
        }
        match version {
            Some(v) => {
                if woke.get(&target) == Some(&v) {
                    return;
                }
                woke.insert(target, v);
            }
            None => {
                woke.remove(&target);
            }
        }
        drop(woke);
        for h in dependents {
            if let Some(tx) = self.senders.get(&h.who) {
                // A closed channel means that controller stopped (shutdown): nothing to wake.
                let _ = tx.send((h.namespace, h.name));
            }
        }
    }

    /// Feeds one event of a dependency stream of `kind` to [`Router::changed`].
    pub fn observe<K: kube::Resource>(&self, kind: RefKind, event: &Event<K>) {
        self.observe_with(kind, event, |o| o.resource_version());
    }

    /// Like [`Router::observe`], with the version that counts as a change given by `version`.
    pub fn observe_with<K: kube::Resource>(
        &self,
        kind: RefKind,
        event: &Event<K>,
        version: impl Fn(&K) -> Option<String>,
    ) {
        let target = |o: &K| Target {
            kind,
            namespace: o.namespace().unwrap_or_default(),
            name: o.name_any(),
        };
        match event {
            Event::Apply(o) | Event::InitApply(o) => {
                self.changed(target(o), Some(version(o).unwrap_or_default()))
            }
            Event::Delete(o) => self.changed(target(o), None),
            Event::Init | Event::InitDone => {}
        }
    }
}

/// The holder an object of `who`'s is.
fn holder<K: kube::Resource>(who: Dependent, o: &K) -> Holder {
    Holder {
        who,
        namespace: o.namespace().unwrap_or_default(),
        name: o.name_any(),
    }
}

/// The holder an object is and the targets it references.
fn references<K: kube::Resource + Referencing>(who: Dependent, o: &K) -> (Holder, Vec<Target>) {
    let holder = holder(who, o);
    let namespace = holder.namespace.clone();
    let mut targets = Vec::new();
    for kind in [
        RefKind::ConfigMap,
        RefKind::Secret,
        RefKind::SpeechService,
        RefKind::LanguageModel,
    ] {
        for name in o.references(kind) {
            targets.push(Target {
                kind,
                namespace: namespace.clone(),
                name: name.to_string(),
            });
        }
    }
    targets.sort();
    targets.dedup();
    (holder, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: RefKind, name: &str) -> Target {
        Target {
            kind,
            namespace: "ns".into(),
            name: name.into(),
        }
    }
    fn h(who: Dependent, name: &str) -> Holder {
        Holder {
            who,
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[test]
    fn set_replaces_and_remove_forgets() {
        let mut ix = Index::default();
        ix.set(
            h(Dependent::Language, "a"),
            vec![t(RefKind::Secret, "s"), t(RefKind::ConfigMap, "c")],
        );
        ix.set(h(Dependent::Acoustic, "b"), vec![t(RefKind::Secret, "s")]);
        assert_eq!(
            ix.dependents(&t(RefKind::Secret, "s")),
            vec![h(Dependent::Language, "a"), h(Dependent::Acoustic, "b")]
        );
        // `a` now references only the ConfigMap.
        ix.set(
            h(Dependent::Language, "a"),
            vec![t(RefKind::ConfigMap, "c")],
        );
        assert_eq!(
            ix.dependents(&t(RefKind::Secret, "s")),
            vec![h(Dependent::Acoustic, "b")]
        );
        ix.remove(&h(Dependent::Acoustic, "b"));
        assert!(ix.dependents(&t(RefKind::Secret, "s")).is_empty());
        assert_eq!(ix.holders(), 1);
        // Same name, other namespace: a different target.
        let other = Target {
            namespace: "other".into(),
            ..t(RefKind::ConfigMap, "c")
        };
        assert!(ix.dependents(&other).is_empty());
    }

    #[test]
    fn a_relisting_drops_holders_it_did_not_list_again_of_its_own_controller_only() {
        let mut ix = Index::default();
        ix.set(
            h(Dependent::Language, "kept"),
            vec![t(RefKind::Secret, "s")],
        );
        ix.set(
            h(Dependent::Language, "gone"),
            vec![t(RefKind::Secret, "s")],
        );
        ix.set(h(Dependent::Voice, "v"), vec![t(RefKind::Secret, "s")]);
        ix.relisting(Dependent::Language);
        ix.listed(&h(Dependent::Language, "kept"));
        // A reconcile of the deleted model records it during the re-listing: still gone.
        ix.set(
            h(Dependent::Language, "gone"),
            vec![t(RefKind::Secret, "s")],
        );
        assert_eq!(
            ix.relisted(Dependent::Language),
            vec![h(Dependent::Language, "gone")]
        );
        assert_eq!(
            ix.dependents(&t(RefKind::Secret, "s")),
            vec![h(Dependent::Language, "kept"), h(Dependent::Voice, "v")]
        );
    }

    /// An object that references nothing (a SpeechService without a Secret or CA bundle) is
    /// known to the index all the same: a re-listing that no longer lists it reports it gone,
    /// so what the process remembers of it goes too.
    #[test]
    fn a_relisting_reports_gone_objects_that_reference_nothing() {
        let mut ix = Index::default();
        ix.set(h(Dependent::Service, "plain"), vec![]);
        ix.set(h(Dependent::Service, "kept"), vec![]);
        ix.relisting(Dependent::Service);
        ix.listed(&h(Dependent::Service, "kept"));
        assert_eq!(
            ix.relisted(Dependent::Service),
            vec![h(Dependent::Service, "plain")]
        );
        assert_eq!(ix.holders(), 1);
    }

    /// The models' streams carry metadata only: a re-listing keeps the holders it lists again
    /// (their references, written by their reconciles, unchanged) and reports the others gone,
    /// as a Delete does, so what the process remembers of them goes too.
    #[test]
    fn a_metadata_stream_keeps_listed_holders_and_reports_deleted_ones() {
        use crate::crd::CustomLanguageModel;
        use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
        let (router, _wakeups) = Router::new();
        let meta = |name: &str| {
            ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            }
            .into_response_partial::<CustomLanguageModel>()
        };
        for name in ["kept", "gone", "deleted"] {
            router
                .index()
                .set(h(Dependent::Language, name), vec![t(RefKind::Secret, "s")]);
        }
        let forgotten = Arc::new(Mutex::new(Vec::new()));
        let mut hook =
            router.track_holders::<PartialObjectMeta<CustomLanguageModel>>(Dependent::Language, {
                let f = forgotten.clone();
                move |ns, name| {
                    f.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!("{ns}/{name}"))
                }
            });
        hook(&Ok(Event::Delete(meta("deleted"))));
        hook(&Ok(Event::Init));
        hook(&Ok(Event::InitApply(meta("kept"))));
        hook(&Ok(Event::InitDone));
        assert_eq!(
            router.index().dependents(&t(RefKind::Secret, "s")),
            vec![h(Dependent::Language, "kept")]
        );
        assert_eq!(
            *forgotten.lock().unwrap_or_else(PoisonError::into_inner),
            vec!["ns/deleted".to_string(), "ns/gone".to_string()]
        );
    }

    #[tokio::test]
    async fn only_referenced_objects_wake_and_only_when_their_version_changes() {
        let (router, mut wakeups) = Router::new();
        router
            .index()
            .set(h(Dependent::Language, "lm"), vec![t(RefKind::Secret, "s")]);
        router
            .index()
            .set(h(Dependent::Service, "svc"), vec![t(RefKind::Secret, "s")]);
        let lm = wakeups.take::<crate::crd::CustomLanguageModel>(Dependent::Language);
        let svc = wakeups.take::<crate::crd::SpeechService>(Dependent::Service);
        router.changed(t(RefKind::Secret, "unrelated"), Some("1".into()));
        router.changed(t(RefKind::Secret, "s"), Some("7".into()));
        // A re-listing brings the same version again: no second wake-up.
        router.changed(t(RefKind::Secret, "s"), Some("7".into()));
        router.changed(t(RefKind::Secret, "s"), Some("8".into()));
        router.changed(t(RefKind::Secret, "s"), None);
        drop(router);
        use futures::StreamExt;
        let lm: Vec<_> = lm.collect().await;
        let svc: Vec<_> = svc.collect().await;
        assert_eq!(lm.len(), 3, "versions 7, 8 and the deletion: {lm:?}");
        assert!(
            lm.iter()
                .all(|r| r.name == "lm" && r.namespace.as_deref() == Some("ns"))
        );
        assert_eq!(svc.len(), 3);
    }

    #[test]
    fn unreferenced_objects_leave_no_trace() {
        let (router, _w) = Router::new();
        for i in 0..1000 {
            router.changed(t(RefKind::ConfigMap, &format!("c{i}")), Some("1".into()));
        }
        assert!(router.woke_at.lock().map(|w| w.is_empty()).unwrap_or(false));
    }

    #[test]
    fn strip_drops_managed_fields_and_the_last_applied_copy_only() {
        let mut meta = ObjectMeta {
            managed_fields: Some(vec![Default::default()]),
            annotations: Some(
                [
                    (LAST_APPLIED.to_string(), "{...}".to_string()),
                    ("keep".to_string(), "me".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        };
        strip(&mut meta);
        assert!(meta.managed_fields.is_none());
        assert_eq!(
            meta.annotations,
            Some([("keep".to_string(), "me".to_string())].into())
        );
    }
}
