//! The SpeechService reconciler: one cheap authenticated call per drift interval proves the
//! credentials and the endpoint (`Ready`), and counts the instance's custom models against the
//! quota. It first keeps the in-use finalizer on the service and its credentials Secret while
//! model resources use them ([`super::protection`]).

use std::sync::Arc;

use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::context::memory::service_key;
use super::context::{Context, ServiceHandle};
use super::error::Error;
use crate::crd::speech_service::ServiceKind;
use crate::crd::{
    CustomAcousticModel, CustomLanguageModel, CustomVoiceModel, ERASE_CUSTOMER_DATA_REQUESTED_AT,
    SpeechService, SpeechServiceStatus,
};
use crate::decision::status::EventNote;
use crate::decision::{ModelKind, service};
use crate::errors::Classified;
use crate::metrics::result::{ERROR, SUCCESS};

/// Reconciles one SpeechService.
pub async fn reconcile(obj: Arc<SpeechService>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    // A served CRD of another schema (issue 25): the service is left as it is.
    if ctx.schema_stale("SpeechService") {
        return Ok(Requeue::await_change());
    }
    let started = std::time::Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let api: Api<SpeechService> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = obj.metadata.generation;
    let old = obj.status.clone().unwrap_or_default();
    let quota = ctx.settings.model_quota as i64;

    // The in-use finalizer first: a model waits for it before it creates anything.
    if super::protection::protect(&obj, &ctx).await? {
        ctx.forget_service(&ns, &name);
        return Ok(Requeue::await_change());
    }
    let span =
        tracing::info_span!("reconcile", kind = "SpeechService", namespace = %ns, name = %name);
    let check = async {
        let handle = ctx.services.handle(&ns, &name).await?;
        handle.verify().await?;
        // Half the drift interval: the check proves the credentials at least once per interval
        // and the models of the service reuse the same LIST.
        let age = ctx.settings.drift_interval / 2;
        let in_use = match handle.clients.kind {
            ServiceKind::SpeechToText => {
                let lm = handle.model_count(ModelKind::Language, age).await?;
                let am = handle.model_count(ModelKind::Acoustic, age).await?;
                lm.max(am)
            }
            ServiceKind::TextToSpeech => handle.model_count(ModelKind::Voice, age).await?,
        };
        Ok::<(Arc<ServiceHandle>, usize), Error>((handle, in_use))
    };
    let deadline = ctx.settings.reconcile_deadline;
    let result = tokio::time::timeout(deadline, tracing::Instrument::instrument(check, span))
        .await
        .unwrap_or(Err(Error::Deadline(deadline)));
    let failure_text = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let outcome = match &result {
        Ok((_, count)) => service::Check::Connected {
            models_in_use: *count as i64,
        },
        Err(e) => service::Check::Failed {
            category: e.category(),
            message: &failure_text,
            needs_user: e.stalls_service(),
        },
    };
    let (st, event) = service::next(
        &old,
        &outcome,
        quota,
        generation,
        k8s_openapi::jiff::Timestamp::now(),
    );
    // A customer data erasure, once the service answers.
    let (st, erasure_event, erasure_waits) = match &result {
        Ok((handle, _)) => erase_customer_data(&obj, &ctx, handle, st).await?,
        Err(_) => (st, None, false),
    };
    // Issue 25: models vanished in bulk from the service's listings halt re-creation; the
    // service says so (condition ModelsVanished, one Warning, a Normal Event on recovery).
    let (st, vanish_event) = match &result {
        Ok((handle, _)) => {
            let mut halted = Vec::new();
            for kind in kinds_of(handle.clients.kind) {
                if let Some((missing, known)) = handle.vanished(*kind).await {
                    let rule = handle.vanish_rule().await;
                    halted.push(crate::decision::vanished::message(
                        kind.plural(),
                        missing,
                        known,
                        rule,
                    ));
                }
            }
            crate::decision::vanished::service_condition(
                &old,
                st,
                &halted,
                generation,
                k8s_openapi::jiff::Timestamp::now(),
            )
        }
        Err(_) => (st, None),
    };
    let key = service_key(&ns, &name);
    let (requeue, result_label, category) = match &result {
        Ok(_) => {
            ctx.memory.succeeded(&key);
            let mut wait = ctx.settings.drift_interval;
            if erasure_waits {
                // Retained models leave without waking the service: look again soon.
                wait = wait.min(ERASURE_RECHECK);
            }
            (Requeue::requeue(wait), SUCCESS, "")
        }
        Err(e) => {
            warn!(service = %name, category = e.category(), error = %e, "SpeechService check failed");
            let mut wait = ctx.memory.backoff(&key, std::time::Duration::from_secs(10));
            if crate::errors::Classified::retry_class(e)
                == crate::errors::RetryClass::WaitForSpecChange
            {
                // A plan without customization or the wrong service behind the URL: nothing
                // changes without the user, whose edits (spec, Secret) wake the check at once.
                // Asked again at the drift interval (issue 25): the answer may have been a
                // passing one.
                wait = ctx.settings.drift_interval;
            }
            // A service that said how long to wait (429 `Retry-After`, its request budget's
            // pause) is not checked before then.
            if let Some(after) = e.retry_after() {
                wait = wait.max(after);
            }
            (Requeue::requeue(wait), ERROR, e.category())
        }
    };
    if let Some(m) = &ctx.metrics {
        m.reconciled("SpeechService", result_label, category, started.elapsed());
    }
    // The same merge diff as a model's status: a field the new status no longer has is sent as
    // `null`, so it goes (a merge patch of the whole status would leave it).
    if let Some(change) = super::write::merge_patch(&old, &st) {
        let patch = serde_json::json!({ "status": change });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    for note in [event, erasure_event, vanish_event].into_iter().flatten() {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason,
            // The API server refuses a note over 1 KiB (the whole Event).
            note: Some(crate::decision::text::cut(
                &note.message,
                crate::decision::text::EVENT_NOTE_MAX_BYTES,
            )),
            action: "Check".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, "cannot publish Event");
        }
    }
    Ok(requeue)
}

/// The model kinds a service of `kind` holds.
fn kinds_of(kind: ServiceKind) -> &'static [ModelKind] {
    match kind {
        ServiceKind::SpeechToText => &[ModelKind::Language, ModelKind::Acoustic],
        ServiceKind::TextToSpeech => &[ModelKind::Voice],
    }
}

/// How often a pending erasure looks for the model resources it waits for.
const ERASURE_RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// Carries out (or explains why not yet) the erasure the annotation
/// `speech.watson.dev/erase-customer-data-requested-at` asks for ([`service::erasure`]): the
/// status to write, its Event, and whether it waits for model resources to go.
async fn erase_customer_data(
    obj: &SpeechService,
    ctx: &Context,
    handle: &ServiceHandle,
    st: SpeechServiceStatus,
) -> Result<(SpeechServiceStatus, Option<EventNote>, bool), Error> {
    let requested = obj
        .annotations()
        .get(ERASE_CUSTOMER_DATA_REQUESTED_AT)
        .map(String::as_str);
    let step = service::erasure(
        requested,
        st.customer_data_erasure.as_ref(),
        obj.spec.customer_id.as_deref(),
        &[],
    );
    if step == service::Erasure::Idle {
        return Ok((st, None, false));
    }
    // Only now (a request is pending) list the models that use the service.
    let users = models_using(ctx, obj).await?;
    let step = service::erasure(
        requested,
        st.customer_data_erasure.as_ref(),
        obj.spec.customer_id.as_deref(),
        &users,
    );
    if ctx.settings.dry_run && matches!(step, service::Erasure::Erase { .. }) {
        // Nothing recorded: without --dry-run the operator erases at its next check.
        info!(service = %obj.name_any(), "dry run: skipped DELETE /v1/user_data (would erase the data labelled with spec.customerId)");
        return Ok((st, None, false));
    }
    let error = match &step {
        service::Erasure::Erase { customer_id, .. } => {
            let call = match (&handle.clients.stt, &handle.clients.tts) {
                (Some(c), _) => c.delete_user_data(customer_id).await,
                (_, Some(c)) => c.delete_user_data(customer_id).await,
                (None, None) => Ok(()),
            };
            call.err().map(Error::from)
        }
        _ => None,
    };
    if let Some(e) = &error {
        warn!(service = %obj.name_any(), category = e.category(), error = %e, "customer data erasure failed");
    }
    let text = error.as_ref().map(ToString::to_string).unwrap_or_default();
    let failed = error.as_ref().map(|e| (e.category(), text.as_str()));
    let waits = matches!(&step, service::Erasure::Blocked { .. }) || failed.is_some();
    let (st, note) = service::after_erasure(
        &st,
        &step,
        failed,
        obj.metadata.generation,
        k8s_openapi::jiff::Timestamp::now(),
    );
    Ok((st, note, waits))
}

/// The model resources (`Kind/name`) in the service's namespace whose `spec.serviceRef` names it,
/// including those being deleted.
pub(crate) async fn models_using(ctx: &Context, obj: &SpeechService) -> Result<Vec<String>, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let mut users = Vec::new();
    let lms: Api<CustomLanguageModel> = Api::namespaced(ctx.client.clone(), &ns);
    for m in lms.list(&ListParams::default()).await? {
        if m.spec.service_ref.name == name {
            users.push(format!("CustomLanguageModel/{}", m.name_any()));
        }
    }
    let ams: Api<CustomAcousticModel> = Api::namespaced(ctx.client.clone(), &ns);
    for m in ams.list(&ListParams::default()).await? {
        if m.spec.service_ref.name == name {
            users.push(format!("CustomAcousticModel/{}", m.name_any()));
        }
    }
    let vms: Api<CustomVoiceModel> = Api::namespaced(ctx.client.clone(), &ns);
    for m in vms.list(&ListParams::default()).await? {
        if m.spec.service_ref.name == name {
            users.push(format!("CustomVoiceModel/{}", m.name_any()));
        }
    }
    Ok(users)
}
