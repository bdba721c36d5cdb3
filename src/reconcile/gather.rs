//! Step 1 of a model's reconcile: gather the facts the decision needs. The model itself (one GET),
//! the facts that need no call, the desired inputs resolved, and what the service holds: the
//! model in the shared listing (and its data when the record cannot be trusted), the model
//! carrying the object's ownership marker, and an acoustic model's language model.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use tracing::info;

use super::context::listings::Entry;
use super::context::memory::key_of;
use super::context::{Context, ServiceHandle};
use super::decide::{drift_interval, timing};
use super::error::Error;
use super::kind::{Check, Gathered, KindOps, listing_age};
use super::watches::{Dependent, Router};
use crate::decision::status::{self as decided, Observation, Previous, changed_elsewhere};
use crate::decision::{Dependency, Desired, Facts, Observed, Recorded};
use crate::model::{ModelResource, Referencing};

/// Reads the model for this reconcile (the controller caches its metadata only) and records
/// what it references in `router` and its status for the metrics. `None` when it is gone: the
/// GET found nothing, or the watch saw it deleted while the GET was in flight (the watch updates
/// `cache` before it forgets a deleted object, so a model `cache` no longer holds, or holds as
/// another object of the same name, was deleted): then what was just recorded goes again, and
/// cannot bring the model back.
pub(crate) async fn read<K: KindOps + Referencing>(
    meta: &PartialObjectMeta<K>,
    ctx: &Context,
    router: &Router,
    cache: &Store<PartialObjectMeta<K>>,
    api: &Api<K>,
) -> Result<Option<K>, Error> {
    let (key, ns, name) = (
        key_of(meta),
        meta.namespace().unwrap_or_default(),
        meta.name_any(),
    );
    let who = Dependent::from(K::KIND);
    let obj = api.get_opt(&name).await?;
    if let Some(obj) = &obj {
        router.hold(who, obj);
        ctx.memory.saw_status(&key, obj);
        // A model first seen using a service not known to be protected (e.g. one created
        // before the in-use finalizer existed) wakes the service, which protects it.
        if ctx.users.saw(&key, &ns, obj.service_name())
            && !ctx.services.protected(&ns, obj.service_name())
        {
            ctx.notify_service_of(&format!("{ns}/{}", obj.service_name()));
        }
    }
    let cached = cache.get(&ObjectRef::from_obj(meta));
    match obj {
        Some(obj) if cached.is_some_and(|c| c.uid() == obj.uid()) => Ok(Some(obj)),
        _ => {
            router.release(who, &ns, &name);
            ctx.memory.forget(&key);
            if let Some(service) = ctx.users.gone(&key) {
                ctx.notify_service_of(&service);
            }
            Ok(None)
        }
    }
}

/// The facts that need no call to the service (the inputs are resolved later).
pub(crate) fn standing<K: KindOps>(obj: &K, ctx: &Context, prev: &Previous) -> Facts {
    let timing = timing(ctx, ctx.settings.drift_interval);
    let expected = decided::expectations(&prev.model, obj.audio_seconds(), &timing);
    Facts {
        kind: K::KIND,
        generation: obj.meta().generation,
        suspended: obj.suspended(),
        deleting: obj.meta().deletion_timestamp.is_some(),
        release_requested: obj
            .annotations()
            .get(crate::crd::RELEASE_WITHOUT_DELETING)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        retain_on_delete: obj.deletion_policy() == crate::crd::DeletionPolicy::Retain,
        observe_only: obj.observe_only(),
        adopt_id: obj.adopt_id().map(str::to_string),
        marked_model: None,
        duplicates: Vec::new(),
        service_missing: None,
        desired: Desired::default(),
        recorded: Recorded {
            operation_age: prev.model.current_operation.as_ref().map(|o| {
                let secs = Timestamp::now().as_second() - o.started_at.0.as_second();
                Duration::from_secs(secs.max(0) as u64)
            }),
            ..Recorded::from_status(&prev.model)
        },
        observed: None,
        newest_version: None,
        dependency: Dependency::None,
        expected,
        dry_run: ctx.settings.dry_run,
        audio_seconds: obj.audio_seconds(),
        base_model_name: obj.base_model_name().map(str::to_string),
        current_base: None,
        successor: None,
        gate: obj.gate(),
    }
}

/// Resolves the desired inputs into `facts` and remembers their digest (so a failure recorded
/// later names the inputs it failed on); returns the contents to upload.
pub(crate) async fn inputs<K: KindOps>(
    obj: &K,
    ctx: &Context,
    facts: &mut Facts,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let (desired, contents) = obj.desired(ctx).await?;
    ctx.memory
        .remember_inputs(&key_of(obj), &desired.inputs_digest);
    facts.desired = desired;
    Ok(contents)
}

/// The observed model plus what status shows about it.
pub(crate) struct ObservedFull {
    /// What the decision reads of the model on the service.
    pub observed: Observed,
    /// What status shows of it.
    pub seen: Observation,
    /// Its base model, as the listing shows it.
    pub base_model: Option<String>,
    /// The newest base-model version any model of the instance on the same base model has.
    pub newest_version: Option<String>,
}

/// Observes the model, its marker, its dependency; checks an adopted model's base model.
pub(crate) async fn gather<K: KindOps>(
    obj: &K,
    ctx: &Context,
    svc: &ServiceHandle,
    prev: &Previous,
    mut facts: Facts,
    contents: BTreeMap<String, Vec<u8>>,
) -> Result<Gathered, Error> {
    let old = &prev.model;
    // Available, or just done recording the operation that made it so (`Finish`): nothing
    // changed since the last full comparison (the data was locked during the operation).
    let steady = matches!(
        old.phase,
        Some(crate::crd::Phase::Available | crate::crd::Phase::Processing)
    ) && old.trained_inputs_digest.as_deref()
        == Some(facts.desired.inputs_digest.as_str())
        && old.observed_generation == facts.generation;
    // An observed model's words may change behind the operator's back: always list them.
    let unsure;
    let prev = if facts.observe_only {
        unsure = Previous {
            word_count: None,
            words_digest: None,
            ..prev.clone()
        };
        &unsure
    } else {
        prev
    };
    // The dependency first: while the model waits for it, a check may take the data from the
    // record (see `data_from_record`).
    if !facts.deleting && !facts.observe_only {
        facts.dependency = obj.dependency(ctx).await?;
    }
    let waits_for_dependency = matches!(
        facts.dependency,
        Dependency::Missing | Dependency::NotReady { .. }
    );
    // A new `reconcile-requested-at` token: a new listing and all the data (issue 29).
    let requested = facts.reconcile_requested();
    let check = Check {
        steady,
        prev,
        waits_for_dependency,
        read_all: requested,
        requested,
        drift_interval: drift_interval(obj, ctx),
        deleting: facts.deleting,
    };
    let observed = match &facts.recorded.customization_id {
        Some(id) => match observe(obj, svc, id, &check, &facts.desired, ctx).await {
            // Deleting: IBM's answer for a model that does not exist (401 "Invalid
            // customization_id" or 404 on the model's own path; the client has confirmed a
            // 401 with a collection call that the same credentials pass) means it is gone.
            Err(Error::Watson(e)) if facts.deleting && e.is_not_found() => None,
            other => other?,
        },
        None => None,
    };
    // The new model of a re-create (language models), observed like the model itself.
    facts.successor = super::recreate::gather_successor(obj, ctx, svc, prev, &facts).await?;
    let successor = facts
        .successor
        .as_ref()
        .and_then(|s| s.in_flight())
        .map(str::to_string);
    // What the operator uploaded, per resource, as recorded in status.
    if let Some(o) = &observed {
        for r in &o.seen.resources {
            if let Some(d) = &r.status.digest {
                facts
                    .recorded
                    .resources
                    .insert(r.status.name.clone(), d.clone());
            }
        }
    }
    if !facts.observe_only {
        // Without a model in hand, any listing of this process (at most the drift interval
        // old): it postdates every create of an earlier process (the leader lease), this
        // process's creates are in it as soon as they are answered (`ServiceHandle::created`),
        // and a create that failed, whose model the service may have made all the same (a lost
        // answer), invalidated it (`perform::write_to_service`). So a new resource's first look
        // makes no LIST.
        // Deleting with no model in hand, a listing of this moment: the finalizer goes when it
        // shows no marked model, and a model created half a second ago must not be orphaned.
        // With the model in hand, the listing the observation just used (no extra call).
        let unknown = facts.recorded.customization_id.is_none() || observed.is_none();
        let age = if unknown && facts.deleting {
            Duration::ZERO
        } else if unknown {
            ctx.settings.drift_interval
        } else {
            // Made anew by the observation on request: current now.
            listing_age(check.steady, check.drift_interval)
        };
        // With the model in hand, the listing its observation used: its entry is current, so no
        // LIST (a check of the whole list would list again whenever the operator changed any
        // model since, e.g. right after its own create).
        let recorded = facts.recorded.customization_id.clone();
        let about = recorded.as_deref().filter(|_| !unknown);
        let owner = Owner::of(obj, ctx.settings.cluster_name.as_deref());
        let all = find_marked::<K>(&owner, svc, age, about).await?.into_iter();
        // The new model of a re-create carries the marker too: it is neither the model to
        // recover nor a duplicate (the decision deletes it with the resource).
        let mut all = all.filter(|id| Some(id) != successor.as_ref());
        if unknown {
            facts.marked_model = all.by_ref().find(|id| Some(id) != recorded.as_ref());
        }
        facts.duplicates = all.filter(|id| Some(id) != recorded.as_ref()).collect();
    }
    // Adoption: the adopted model's base model must match.
    if let (Some(id), Some(o)) = (obj.adopt_id(), observed.as_ref()) {
        same_base_model(obj, id, o)?;
    }
    let seen = observed
        .as_ref()
        .map(|o| o.seen.clone())
        .unwrap_or_default();
    facts.newest_version = observed.as_ref().and_then(|o| o.newest_version.clone());
    facts.current_base = observed.as_ref().and_then(|o| o.base_model.clone());
    facts.observed = observed.map(|o| o.observed);
    Ok(Gathered {
        facts,
        contents,
        seen,
        cluster_name: ctx.settings.cluster_name.clone(),
    })
}

/// The model `id` as the service reports it (`None`: gone): its entry in the shared listing
/// (`check` says how old it may be), then what the kind reads of its data.
pub(crate) async fn observe<K: KindOps>(
    obj: &K,
    svc: &ServiceHandle,
    id: &str,
    check: &Check<'_>,
    desired: &Desired,
    ctx: &Context,
) -> Result<Option<ObservedFull>, Error> {
    let list = svc
        .models::<K::Entry>(check.listing_age(), Some(id))
        .await?;
    let confirmed;
    let entry = match list.iter().find(|m| m.id() == id) {
        Some(entry) => entry,
        // Missing from a fresh listing: one bad or partial listing is not a verdict (issue 25).
        // A GET of its own ID confirms it before anything is re-created; a deletion needs no
        // confirmation (nothing is re-created, and a gone model lets the finalizer go).
        None if !check.deleting => match svc.confirm::<K::Entry>(id).await? {
            Some(found) => {
                confirmed = found;
                &confirmed
            }
            // Gone, but so are too many of the service's models at once: an IBM incident, not
            // a deletion; nothing is re-created until the service lists them again.
            None => match svc.vanished(K::KIND).await {
                Some((missing, known)) => {
                    let rule = svc.vanish_rule().await;
                    let _ = ctx.notices.service_changed.send((
                        obj.namespace().unwrap_or_default(),
                        obj.service_name().to_string(),
                    ));
                    return Err(Error::ModelsVanished(crate::decision::vanished::message(
                        K::KIND.plural(),
                        missing,
                        known,
                        rule,
                    )));
                }
                None => return Ok(None),
            },
        },
        // Deleting, and the model is gone: no longer counted, nor awaited by a halt of
        // re-creation (deleting the resources of models deleted on purpose lifts it).
        None => {
            svc.deleted(K::KIND, id).await;
            return Ok(None);
        }
    };
    // Issue 25: the service is the truth. A steady model whose listing shows a change the
    // operator did not make has all its data read before the decision.
    let elsewhere = changed_elsewhere(
        check.steady,
        entry.status().as_ref(),
        check.prev.model.service_updated.as_deref(),
        entry.updated(),
    );
    if elsewhere {
        info!(
            customization_id = id,
            service_status = ?entry.status(),
            updated = entry.updated().unwrap_or(""),
            "the service shows the model changed elsewhere: reading all its data"
        );
    }
    let check = Check {
        read_all: check.read_all || elsewhere,
        ..*check
    };
    let Some((observed, mut seen)) = obj.observe(svc, entry, &check, desired, ctx).await? else {
        return Ok(None);
    };
    seen.service_updated = entry.updated().map(str::to_string);
    Ok(Some(ObservedFull {
        observed,
        seen,
        base_model: entry.base_model().map(str::to_string),
        newest_version: newest_version(
            entry.base_model(),
            list.iter().map(|x| (x.base_model(), x.versions())),
        ),
    }))
}

/// The IDs of the models carrying this object's ownership marker, in the listing's order, from
/// a listing at most `age` old (current for the model `about` when given: see
/// `ServiceHandle::models`).
async fn find_marked<K: KindOps>(
    owner: &Owner,
    svc: &ServiceHandle,
    age: Duration,
    about: Option<&str>,
) -> Result<Vec<String>, Error> {
    let list = svc.models::<K::Entry>(age, about).await?;
    Ok(marked(
        owner,
        list.iter().map(|m| (m.description(), m.id())),
    ))
}

/// The newest base-model version any model of the instance on base model `base` has, from
/// `(base model, versions)` pairs of the shared listing.
fn newest_version<'a>(
    base: Option<&str>,
    listing: impl Iterator<Item = (Option<&'a str>, &'a [String])>,
) -> Option<String> {
    listing
        .filter(|(b, _)| *b == base)
        .filter_map(|(_, versions)| versions.last())
        .max()
        .cloned()
}

/// The ownership marker put in the description of every model the operator creates, so a model
/// created just before a crash is found again instead of duplicated: `[wso:<token>]`, the token
/// being an [`Owner`]'s.
pub fn marker(token: &str) -> String {
    format!(" [wso:{token}]")
}

/// Who owns a model, as its ownership marker says (issue 25, point 2). Without a cluster name
/// (`--cluster-name` unset) the object's UID, as every earlier release wrote; with one, a token
/// derived from the cluster name and the object's kind, namespace and name
/// ([`named_token`]), which survives a rebuild of the cluster (new UIDs, no status). Either
/// token is recognised, so markers written by earlier releases (UID) still find their models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The object's UID (the marker of earlier releases, and of no cluster name).
    pub uid: String,
    /// The name-derived token, with a cluster name.
    pub named: Option<String>,
    /// [`cluster_tag`] of the cluster name, with one.
    pub cluster: Option<String>,
}

impl Owner {
    /// The owner `obj` is, in the cluster named `cluster` (if named).
    pub fn of<K: kube::Resource<DynamicType = ()>>(obj: &K, cluster: Option<&str>) -> Owner {
        let uid = obj.meta().uid.clone().unwrap_or_default();
        let named = cluster.map(|c| {
            named_token(
                c,
                &K::kind(&()),
                obj.meta().namespace.as_deref().unwrap_or_default(),
                obj.meta().name.as_deref().unwrap_or_default(),
            )
        });
        Owner {
            uid,
            named,
            cluster: cluster.map(cluster_tag),
        }
    }

    /// The token the operator writes into a new model's marker.
    pub fn written(&self) -> &str {
        self.named.as_deref().unwrap_or(&self.uid)
    }

    /// Whether a marker's token names this owner (either token).
    pub fn owns(&self, token: &str) -> bool {
        !token.is_empty() && (token == self.uid || self.named.as_deref() == Some(token))
    }
}

pub use crate::decision::ownership::{cluster_tag, named_token, token_cluster};

/// The IDs of the models whose description carries the ownership marker of `owner` (either
/// token), in the listing's order, from `(description, customization id)` pairs of a listing.
pub(crate) fn marked<'a>(
    owner: &Owner,
    models: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Vec<String> {
    models
        .into_iter()
        .filter(|(description, _)| {
            description
                .and_then(marker_uid)
                .is_some_and(|token| owner.owns(token))
        })
        .map(|(_, id)| id.to_string())
        .collect()
}

/// The token (a UID, or a named token) in the ownership marker a model's description carries,
/// if any (`[wso:<token>]`).
pub(crate) fn marker_uid(description: &str) -> Option<&str> {
    let start = description.rfind("[wso:")? + "[wso:".len();
    let rest = &description[start..];
    let end = rest.find(']')?;
    Some(&rest[..end]).filter(|uid| !uid.is_empty())
}

/// An adopted (or recovered) model must be on the base model the spec names; a mismatch
/// changes nothing on the service.
pub(crate) fn same_base_model<K: ModelResource>(
    obj: &K,
    id: &str,
    found: &ObservedFull,
) -> Result<(), Error> {
    match (&found.base_model, obj.base_model_name()) {
        (Some(base), Some(want)) if base != want => Err(Error::AdoptionMismatch(format!(
            "model {id} is on base model {base}, but spec.baseModelName is {want}: fix spec.baseModelName or adopt another model; the model was not changed"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid_owner(uid: &str) -> Owner {
        Owner {
            uid: uid.into(),
            named: None,
            cluster: None,
        }
    }

    /// Issue 25, point 2: with a cluster name, the marker is derived from the cluster name,
    /// kind, namespace and name: the same in a rebuilt cluster (new UID), another in another
    /// cluster with equal namespace and name; UID markers of earlier releases still count.
    #[test]
    fn a_named_marker_survives_a_rebuild_and_differs_between_clusters() {
        let a = named_token("prod-eu", "CustomLanguageModel", "team", "helpdesk");
        assert_eq!(a.len(), 36, "fits where a UID fits: {a}");
        assert_eq!(
            a,
            named_token("prod-eu", "CustomLanguageModel", "team", "helpdesk"),
            "stable"
        );
        // Pinned: a change of the derivation orphans every model created with a cluster name.
        assert_eq!(a, "n-27944896-9349657ea0d529e6380201d0f");
        let b = named_token("prod-us", "CustomLanguageModel", "team", "helpdesk");
        assert_ne!(a, b);
        assert_ne!(
            a,
            named_token("prod-eu", "CustomAcousticModel", "team", "helpdesk")
        );
        assert_ne!(
            a,
            named_token("prod-eu", "CustomLanguageModel", "team2", "helpdesk")
        );
        assert_eq!(token_cluster(&a), Some(cluster_tag("prod-eu").as_str()));
        assert_ne!(token_cluster(&a), token_cluster(&b));
        assert_eq!(token_cluster("0f9e1234-1111-2222-3333-444455556666"), None);

        let rebuilt = Owner {
            uid: "new-uid".into(),
            named: Some(a.clone()),
            cluster: Some(cluster_tag("prod-eu")),
        };
        let listing = [
            (Some("helpdesk [wso:old-uid]".to_string()), "by-old-release"),
            (Some(format!("helpdesk [wso:{a}]")), "named"),
            (Some(format!("[wso:{b}]")), "other-cluster"),
        ];
        let pairs = listing.iter().map(|(d, id)| (d.as_deref(), *id));
        assert_eq!(marked(&rebuilt, pairs), vec!["named".to_string()]);
        let old_release_same_cluster = Owner {
            uid: "old-uid".into(),
            ..rebuilt.clone()
        };
        let pairs = listing.iter().map(|(d, id)| (d.as_deref(), *id));
        assert_eq!(
            marked(&old_release_same_cluster, pairs),
            vec!["by-old-release".to_string(), "named".to_string()]
        );
        assert_eq!(rebuilt.written(), a);
        assert_eq!(uid_owner("u").written(), "u");
        assert!(!uid_owner("").owns(""));
    }

    #[test]
    fn the_ownership_marker_finds_only_its_own_model() {
        let listing = [
            (Some("sales calls [wso:other-uid]"), "id-1"),
            (None, "id-2"),
            (Some("helpdesk [wso:my-uid]"), "id-3"),
        ];
        assert_eq!(
            marked(&uid_owner("my-uid"), listing),
            vec!["id-3".to_string()]
        );
        assert!(marked(&uid_owner("absent"), listing).is_empty());
    }

    /// Every marked model is found, so duplicates can be deleted (issue 24).
    #[test]
    fn every_marked_model_is_found_in_listing_order() {
        let listing = [
            (Some("[wso:u]"), "a"),
            (Some("other"), "b"),
            (Some("x [wso:u]"), "c"),
        ];
        assert_eq!(
            marked(&uid_owner("u"), listing),
            vec!["a".to_string(), "c".to_string()]
        );
        assert_eq!(marker_uid("helpdesk [wso:1234-ab]"), Some("1234-ab"));
        assert_eq!(marker_uid("helpdesk"), None);
        assert_eq!(marker_uid("[wso:]"), None);
    }
}
