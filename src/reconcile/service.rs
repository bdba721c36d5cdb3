//! The SpeechService reconciler: one cheap authenticated call per drift interval proves the
//! credentials and the endpoint (`Ready`), and counts the instance's custom models against the
//! quota.

use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use super::context::Context;
use super::error::Error;
use crate::crd::SpeechService;
use crate::crd::speech_service::ServiceKind;
use crate::decision::{ModelKind, service, status};
use crate::errors::Classified;
use crate::metrics::result::{ERROR, SUCCESS};

/// Reconciles one SpeechService.
pub async fn reconcile(obj: Arc<SpeechService>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = std::time::Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let api: Api<SpeechService> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = obj.metadata.generation;
    let old = obj.status.clone().unwrap_or_default();
    let quota = ctx.settings.model_quota as i64;

    let span =
        tracing::info_span!("reconcile", kind = "SpeechService", namespace = %ns, name = %name);
    let check = async {
        let handle = ctx.service(&ns, &name).await?;
        handle.verify().await?;
        // Half the drift interval: the check proves the credentials at least once per interval
        // and the models of the service reuse the same LIST.
        let age = ctx.settings.drift_interval / 2;
        let count = match handle.kind {
            ServiceKind::SpeechToText => {
                let lm = handle.model_count(ModelKind::Language, age).await?;
                let am = handle.model_count(ModelKind::Acoustic, age).await?;
                lm.max(am)
            }
            ServiceKind::TextToSpeech => handle.model_count(ModelKind::Voice, age).await?,
        };
        Ok::<usize, Error>(count)
    };
    let result = tracing::Instrument::instrument(check, span).await;
    let failure_text = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let outcome = match &result {
        Ok(count) => service::Check::Connected {
            models_in_use: *count as i64,
        },
        Err(e) => service::Check::Failed {
            category: e.category(),
            message: &failure_text,
            needs_user: e.stalls_service(),
        },
    };
    let (st, event) = service::next(&old, &outcome, quota, generation, status::now());
    let key = format!("sps/{ns}/{name}");
    let (requeue, result_label, category) = match &result {
        Ok(_) => {
            ctx.succeeded(&key);
            (Requeue::requeue(ctx.settings.drift_interval), SUCCESS, "")
        }
        Err(e) => {
            warn!(service = %name, category = e.category(), error = %e, "SpeechService check failed");
            let mut wait = ctx.backoff(&key, std::time::Duration::from_secs(10));
            if crate::errors::Classified::retry_class(e)
                == crate::errors::RetryClass::WaitForSpecChange
            {
                // A plan without customization or the wrong service behind the URL: nothing
                // changes without the user, whose edits (spec, Secret) wake the check at once.
                wait = wait.max(ctx.settings.drift_interval);
            }
            (Requeue::requeue(wait), ERROR, e.category())
        }
    };
    if let Some(m) = &ctx.metrics {
        m.reconciled("SpeechService", result_label, category, started.elapsed());
    }
    if st != old {
        let patch = serde_json::json!({ "status": st });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    if let Some(note) = event {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason,
            note: Some(note.message),
            action: "Check".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, "cannot publish Event");
        }
    }
    Ok(requeue)
}
