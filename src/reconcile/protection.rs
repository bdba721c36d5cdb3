//! The in-use finalizer of a SpeechService and its credentials Secret (issue 24): while any
//! model resource names the service in `spec.serviceRef`, both carry
//! [`IN_USE_FINALIZER`](crate::crd::IN_USE_FINALIZER), so deleting a namespace (or
//! `kubectl delete -f` of a whole directory) keeps them until the models' deletions, which
//! need them, are done. Added and released by the SpeechService reconcile
//! ([`super::service`]), the step chosen by [`crate::decision::service::protection`].
//!
//! Added to the Secret first and released from it first, so a crash in between never leaves a
//! Secret protected by a SpeechService that is gone. A Secret used by several SpeechServices
//! keeps the finalizer while any of them carries it. Every SpeechService reconcile also releases
//! it from each Secret of the namespace that carries it but that no protected SpeechService names
//! any more (a changed `secretRef`, a deleted service, a service no model uses:
//! [`crate::decision::service::secrets_to_release`]). The Secret's finalizer is best effort (an
//! installation whose role may not patch Secrets logs a warning and protects the SpeechService
//! only).

use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::context::Context;
use super::error::Error;
use crate::crd::{IN_USE_FINALIZER, SpeechService};
use crate::decision::service::{Protection, SecretUse, protection, secrets_to_release};

/// Adds or releases the in-use finalizer of `obj` and its Secret. Returns true when it released
/// the finalizer of a SpeechService being deleted: the object is gone, the reconcile ends.
pub(crate) async fn protect(obj: &SpeechService, ctx: &Context) -> Result<bool, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let has = carries_finalizer(obj);
    let deleting = obj.meta().deletion_timestamp.is_some();
    let in_use = in_use(ctx, obj).await?;
    let secret = obj.spec.auth.secret_ref.as_ref().map(|r| r.name.clone());
    let step = protection(in_use, has, deleting);
    // Whether this service needs protection once this step is done.
    let protected = match step {
        Protection::Add => true,
        Protection::Release => false,
        Protection::Keep => has,
    };
    if protected && let Some(secret) = &secret {
        // Also on Keep: a changed secretRef names a Secret without the finalizer yet.
        set_secret_finalizer(ctx, &ns, secret, true).await?;
    }
    match step {
        Protection::Keep => {
            release_unused_secrets(ctx, &ns, &name, protected, secret.as_deref()).await?;
            Ok(false)
        }
        Protection::Add => {
            let version = obj.resource_version();
            set_finalizer::<SpeechService>(ctx, &ns, &name, obj.finalizers(), version, true)
                .await?;
            info!(namespace = %ns, service = %name, "SpeechService in use: finalizer {IN_USE_FINALIZER} added");
            release_unused_secrets(ctx, &ns, &name, protected, secret.as_deref()).await?;
            Ok(false)
        }
        Protection::Release => {
            // The Secrets first: a crash in between leaves no Secret protected by a
            // SpeechService that is gone.
            release_unused_secrets(ctx, &ns, &name, protected, secret.as_deref()).await?;
            let version = obj.resource_version();
            set_finalizer::<SpeechService>(ctx, &ns, &name, obj.finalizers(), version, false)
                .await?;
            info!(namespace = %ns, service = %name, "SpeechService no longer in use: finalizer {IN_USE_FINALIZER} released");
            Ok(deleting)
        }
    }
}

/// Whether `obj` carries [`IN_USE_FINALIZER`].
pub(crate) fn carries_finalizer(obj: &impl Resource) -> bool {
    obj.finalizers().iter().any(|f| f == IN_USE_FINALIZER)
}

/// Whether model resources use `svc`. The models this process saw are a hint; the API decides
/// before anything is released (after a start no model has been read yet), and only for a
/// service carrying the finalizer (one without it has nothing to release).
async fn in_use(ctx: &Context, svc: &SpeechService) -> Result<bool, Error> {
    let ns = svc.namespace().unwrap_or_default();
    Ok(ctx.users.any(&ns, &svc.name_any())
        || (carries_finalizer(svc) && !super::service::models_using(ctx, svc).await?.is_empty()))
}

/// Releases the in-use finalizer of every Secret of the namespace that carries it but that no
/// SpeechService needing protection names any more ([`secrets_to_release`]): the old Secret of a
/// changed `secretRef`, the Secret of a deleted SpeechService or of one no model uses. This
/// service (`name`) counts as `protected` with `secret`, whatever the listing read (the step
/// just taken may not show in it yet). Best effort per Secret, like adding.
async fn release_unused_secrets(
    ctx: &Context,
    ns: &str,
    name: &str,
    protected: bool,
    secret: Option<&str>,
) -> Result<(), Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let carrying: Vec<String> = secrets
        .list_metadata(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(carries_finalizer)
        .map(|s| s.name_any())
        .collect();
    if carrying.is_empty() {
        return Ok(());
    }
    let services: Api<SpeechService> = Api::namespaced(ctx.client.clone(), ns);
    let listed = services.list(&ListParams::default()).await?.items;
    let mut uses: Vec<SecretUse<'_>> = Vec::new();
    for other in listed.iter().filter(|s| s.name_any() != name) {
        // Another SpeechService being deleted protects nothing once no model uses it, even
        // while its own finalizer is still on: two services sharing a Secret and deleted
        // together each saw the other's finalizer and kept the Secret, and once both were
        // gone nothing reconciled it again (its deletion hung).
        let protected = carries_finalizer(other)
            && (other.meta().deletion_timestamp.is_none() || in_use(ctx, other).await?);
        uses.push(SecretUse {
            secret: other.spec.auth.secret_ref.as_ref().map(|r| r.name.as_str()),
            protected,
        });
    }
    uses.push(SecretUse { secret, protected });
    let carrying: Vec<&str> = carrying.iter().map(String::as_str).collect();
    for stale in secrets_to_release(&carrying, &uses) {
        set_secret_finalizer(ctx, ns, stale, false).await?;
        info!(namespace = %ns, secret = %stale, "credentials Secret no longer used by a protected SpeechService: finalizer {IN_USE_FINALIZER} released");
    }
    Ok(())
}

/// Adds (`on`) or removes the in-use finalizer of the Secret `ns/name`. A role that may not
/// patch Secrets (403) is logged and tolerated: the SpeechService alone is protected then; so is
/// a Secret being deleted that refuses a new finalizer (422). Any
/// other failure (a 409 when two SpeechServices sharing the Secret write at once, an API server
/// away) is returned, so the reconcile is retried with backoff: a Secret never keeps a finalizer
/// nobody will remove.
async fn set_secret_finalizer(ctx: &Context, ns: &str, name: &str, on: bool) -> Result<(), Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let result = match api.get_metadata_opt(name).await {
        Ok(Some(meta)) => {
            let fins = meta.metadata.finalizers.clone().unwrap_or_default();
            let version = meta.metadata.resource_version.clone();
            set_finalizer::<Secret>(ctx, ns, name, &fins, version, on).await
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    match result {
        Err(Error::Kube(kube::Error::Api(e))) if e.code == 403 || e.code == 422 => {
            warn!(namespace = %ns, secret = %name, error = %e, "cannot {} the in-use finalizer of the credentials Secret", if on { "add" } else { "remove" });
            Ok(())
        }
        other => other,
    }
}

/// Adds (`on`) or removes [`IN_USE_FINALIZER`] in `current` (the object's finalizers as read at
/// `version`) and writes the list when it changed; a write over a newer version fails (409) and
/// is retried with the next reconcile, so no other finalizer is ever lost.
async fn set_finalizer<K>(
    ctx: &Context,
    ns: &str,
    name: &str,
    current: &[String],
    version: Option<String>,
    on: bool,
) -> Result<(), Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let has = current.iter().any(|f| f == IN_USE_FINALIZER);
    if has == on {
        return Ok(());
    }
    let mut fins: Vec<String> = current
        .iter()
        .filter(|f| *f != IN_USE_FINALIZER)
        .cloned()
        .collect();
    if on {
        fins.push(IN_USE_FINALIZER.to_string());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": version}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Gone meanwhile: nothing left to protect or release.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
