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
use crate::crd::speech_service::ServiceKind;
use crate::crd::{SpeechService, SpeechServiceStatus};
use crate::decision::status::{self, READY};
use crate::errors::Classified;

/// Reconciles one SpeechService.
pub async fn reconcile(obj: Arc<SpeechService>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = std::time::Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let api: Api<SpeechService> = Api::namespaced(ctx.client.clone(), &ns);
    let generation = obj.metadata.generation;
    let old = obj.status.clone().unwrap_or_default();
    let mut st = old.clone();
    st.observed_generation = generation;
    let quota = ctx.settings.model_quota as i64;
    st.model_quota = Some(quota);

    let span =
        tracing::info_span!("reconcile", kind = "SpeechService", namespace = %ns, name = %name);
    let check = async {
        let handle = ctx.service(&ns, &name).await?;
        // Half the drift interval: the check proves the credentials at least once per interval
        // and the models of the service reuse the same LIST.
        let age = ctx.settings.drift_interval / 2;
        let count = match handle.kind {
            ServiceKind::SpeechToText => {
                let lm = handle.language_models(age).await?.len();
                let am = handle.acoustic_models(age).await?.len();
                lm.max(am)
            }
            ServiceKind::TextToSpeech => handle.voice_models(age).await?.len(),
        };
        Ok::<usize, Error>(count)
    };
    let requeue = match tracing::Instrument::instrument(check, span).await {
        Ok(count) => {
            st.models_in_use = Some(count as i64);
            let nearly_full = count as i64 * 10 >= quota * 9;
            let (reason, message) = if nearly_full {
                (
                    "QuotaNearlyExhausted",
                    format!(
                        "{count} of {quota} custom models in use: delete unused models before the limit blocks new ones"
                    ),
                )
            } else {
                (
                    "Connected",
                    format!("credentials accepted; {count} custom models in use"),
                )
            };
            status::set_condition(&mut st.conditions, READY, true, reason, message, generation);
            ctx.succeeded(&format!("sps/{ns}/{name}"));
            if let Some(m) = &ctx.metrics {
                m.reconciled(
                    "SpeechService",
                    crate::metrics::result::SUCCESS,
                    "",
                    started.elapsed(),
                );
            }
            Requeue::requeue(ctx.settings.drift_interval)
        }
        Err(e) => {
            let message = status::stable_message(&e.to_string());
            warn!(service = %name, category = e.category(), error = %e, "SpeechService check failed");
            if let Some(m) = &ctx.metrics {
                m.reconciled(
                    "SpeechService",
                    crate::metrics::result::ERROR,
                    e.category(),
                    started.elapsed(),
                );
            }
            status::set_condition(
                &mut st.conditions,
                READY,
                false,
                e.category(),
                message,
                generation,
            );
            Requeue::requeue(ctx.backoff(
                &format!("sps/{ns}/{name}"),
                std::time::Duration::from_secs(10),
            ))
        }
    };
    if st != old {
        let patch = serde_json::json!({ "status": SpeechServiceStatus { ..st.clone() } });
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    // One Event per change of the Ready reason: a failure, the 90 % quota warning, recovery.
    let reason_of = |s: &SpeechServiceStatus| {
        status::condition(&s.conditions, READY)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    if let (Some((ok, reason, message)), before) = (reason_of(&st), reason_of(&old))
        && before.map(|b| b.1) != Some(reason.clone())
    {
        let type_ = if ok == "True" && reason != "QuotaNearlyExhausted" {
            EventType::Normal
        } else {
            EventType::Warning
        };
        let event = Event {
            type_,
            reason,
            note: Some(message),
            action: "Check".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, "cannot publish Event");
        }
    }
    Ok(requeue)
}
