//! Measuring a language model on its test set (issue 28), the I/O: after a reconcile of a model
//! with `spec.evaluation`, a task beside the reconcile reads the model as stored, asks the pure
//! rule ([`crate::decision::evaluation::verdict`]) whether this version was measured, and if not
//! reads the manifest, recognises each item (`POST /v1/recognize`), scores it
//! ([`crate::decision::wer`]) and writes `status.evaluation`, the `wso_model_wer` metric and an
//! Event when the WER changed.
//!
//! The task never holds a reconcile slot of the service (recognition of a large test set takes
//! minutes of audio): the reconcile that started it has ended. Its IBM calls go through the
//! service's client, so they share the service's request budget and its gate. One task per
//! model at a time, and at most [`MAX_CONCURRENT_MEASUREMENTS`] recognising in the process. Items
//! are read and sent one at a time; the limits are in [`crate::decision::evaluation`] (200 items,
//! 10 MiB per item, 100 MiB per test set).

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use parking_lot::Mutex;
use tracing::{info, warn};

use super::context::Context;
use crate::crd::evaluation::{Evaluation, EvaluationPolicy, EvaluationStatus, TestAudio};
use crate::crd::{ConfigMapKeyRef, CustomLanguageModel, Phase, SecretKeyRef, ServiceStatus};
use crate::decision::ModelKind;
use crate::decision::evaluation::{
    self as rule, Facts, MAX_ITEM_BYTES, MAX_SET_BYTES, TestItem, Verdict,
};
use crate::decision::gate::Gate;
use crate::decision::wer::Score;
use crate::watson::stt_types::RecognizeParams;

/// Most measurements that recognise at the same time in the process. Each holds at most one
/// item's audio ([`MAX_ITEM_BYTES`]), so the audio in memory stays under 4 × 10 MiB however many
/// models have a test set; the others wait their turn in order (a FIFO semaphore), holding
/// nothing but their task.
pub const MAX_CONCURRENT_MEASUREMENTS: usize = 4;

/// The measurements of one operator ([`Context::measurements`]): the models with a task running
/// (`namespace/name`, one task per model) and the permits of [`MAX_CONCURRENT_MEASUREMENTS`].
pub struct Measurements {
    running: Mutex<HashSet<String>>,
    permits: tokio::sync::Semaphore,
}

impl Default for Measurements {
    fn default() -> Self {
        Measurements {
            running: Mutex::default(),
            permits: tokio::sync::Semaphore::new(MAX_CONCURRENT_MEASUREMENTS),
        }
    }
}

/// After a reconcile of `obj`: starts a measurement task when the model has `spec.evaluation`
/// and none runs for it. Cheap when there is nothing to measure (one GET of the model).
pub(crate) fn after_reconcile(obj: &CustomLanguageModel, ctx: &Arc<Context>) {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    // The metric follows the recorded status (also after a restart of the operator).
    if let Some(metrics) = &ctx.metrics {
        let recorded = obj
            .status
            .as_ref()
            .and_then(|s| s.evaluation.as_ref())
            .and_then(|e| e.current.as_ref())
            .and_then(|m| m.wer_basis_points)
            .filter(|_| obj.spec.evaluation.is_some());
        metrics.model_wer(&ns, &name, recorded.map(|bp| bp as f64 / 10_000.0));
    }
    if obj.spec.evaluation.is_none() || obj.meta().deletion_timestamp.is_some() {
        return;
    }
    let key = format!("{ns}/{name}");
    if !ctx.measurements.running.lock().insert(key.clone()) {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        measure_if_due(&ctx, &ns, &name).await;
        ctx.measurements.running.lock().remove(&key);
    });
}

/// Why a measurement failed (the message goes to status: it never holds a secret; inputs name
/// their Secret and key, URLs are shown without userinfo and query).
type Failure = String;

/// What a reconcile's gate reads of `obj` ([`crate::decision::gate`]): `None` unless
/// `spec.evaluation.policy` is `Gate`.
pub(crate) fn gate(obj: &CustomLanguageModel) -> Option<Gate> {
    let spec = obj
        .spec
        .evaluation
        .as_ref()
        .filter(|e| e.policy == EvaluationPolicy::Gate)?;
    Some(Gate {
        tolerance_points: i64::from(spec.tolerance_wer_points.unwrap_or(0)),
        measured_spec: rule::measured_spec(spec),
        recorded: obj
            .status
            .as_ref()
            .and_then(|s| s.evaluation.clone())
            .unwrap_or_default(),
    })
}

/// Measures what is due, one measurement after the other: the model in service (the baseline),
/// then, under `Gate`, the new model beside it. At most three steps per task.
async fn measure_if_due(ctx: &Context, ns: &str, name: &str) {
    for _ in 0..3 {
        if !measure_once(ctx, ns, name).await {
            break;
        }
    }
}

/// The model measured: which, on which base model, version and training.
struct Subject {
    id: String,
    base_model: String,
    version: Option<String>,
    trained: Option<String>,
    key: String,
    candidate: bool,
}

/// One step of [`measure_if_due`]; `true` when it recorded something (another step may be due).
async fn measure_once(ctx: &Context, ns: &str, name: &str) -> bool {
    let api: Api<CustomLanguageModel> = Api::namespaced(ctx.client.clone(), ns);
    let obj = match api.get_opt(name).await {
        Ok(Some(o)) => o,
        Ok(None) => return false,
        Err(e) => {
            warn!(namespace = ns, name, error = %e, "cannot read the model to evaluate it");
            return false;
        }
    };
    let Some(spec) = obj.spec.evaluation.clone() else {
        return false;
    };
    let status = obj.status.clone().unwrap_or_default();
    let m = &status.model;
    let available = m.phase == Some(Phase::Available)
        && m.service_status == Some(ServiceStatus::Available)
        && m.current_operation.is_none();
    let measured_spec = rule::measured_spec(&spec);
    let serving = rule::serving_key(m, &measured_spec).map(|key| Subject {
        id: m.customization_id.clone().unwrap_or_default(),
        base_model: m
            .base_model_name
            .clone()
            .unwrap_or_else(|| obj.spec.base_model_name.clone()),
        version: m.base_model_version.clone(),
        trained: m.trained_inputs_digest.clone(),
        key,
        candidate: false,
    });
    // Under Gate: the new model beside, once ready to measure.
    let candidate = m
        .successor
        .as_ref()
        .filter(|_| spec.policy == EvaluationPolicy::Gate)
        .and_then(|s| {
            Some(Subject {
                key: rule::candidate_key(s, &measured_spec)?,
                id: s.customization_id.clone()?,
                base_model: s.base_model_name.clone(),
                version: s.versions.last().cloned(),
                trained: s.trained_inputs_digest.clone(),
                candidate: true,
            })
        });
    let recorded = status.evaluation.as_ref();
    let max_per_day = spec
        .max_measurements_per_day
        .map_or(rule::DEFAULT_MAX_MEASUREMENTS_PER_DAY, |n| {
            n.max(1) as usize
        });
    let now = k8s_openapi::jiff::Timestamp::now();
    let verdict = rule::verdict(&Facts {
        enabled: true,
        available,
        key: serving.as_ref().map(|s| s.key.as_str()),
        candidate_key: candidate.as_ref().map(|s| s.key.as_str()),
        recorded,
        max_per_day,
        now: now.as_second(),
    });
    let subject = match verdict {
        Verdict::Measure => serving,
        Verdict::MeasureCandidate => candidate,
        Verdict::TakeCandidate => {
            let Some(r) = recorded else { return false };
            let next = rule::take_candidate(r);
            let note = next
                .current
                .as_ref()
                .and_then(|c| rule::note(r.current.as_ref(), c));
            return finish(ctx, &api, &obj, &next, note, true).await;
        }
        Verdict::DayLimit(at) => {
            let message = rule::day_limit_message(max_per_day, at);
            if recorded.and_then(|r| r.message.as_ref()) != Some(&message) {
                let mut next = recorded.cloned().unwrap_or_default();
                next.message = Some(message);
                finish(ctx, &api, &obj, &next, None, false).await;
            }
            return false;
        }
        Verdict::Nothing | Verdict::RetryAt(_) => return false,
    };
    let Some(subject) = subject else {
        return false;
    };
    let Ok(_permit) = ctx.measurements.permits.acquire().await else {
        return false;
    };
    info!(namespace = ns, name, customization_id = %subject.id, candidate = subject.candidate, "measuring the model on its test set");
    let result = score(ctx, &obj, &spec, &subject).await;
    let at = Time(k8s_openapi::jiff::Timestamp::now());
    let (next, note) = match result {
        Ok(score) => {
            let measured = rule::measurement(
                &subject.id,
                subject.version.as_deref(),
                subject.trained.as_deref(),
                &subject.key,
                &score,
                at,
            );
            let previous = recorded.and_then(|r| r.current.as_ref());
            if subject.candidate {
                let note = rule::Note {
                    reason: "CandidateMeasured",
                    warning: false,
                    message: format!(
                        "the new model {} beside the one in service: word error rate {} ({} items, {} words, {} errors); the model in service: {}",
                        subject.id,
                        measured.wer.as_deref().unwrap_or("no WER"),
                        measured.items,
                        measured.words,
                        measured.errors,
                        previous
                            .and_then(|p| p.wer.as_deref())
                            .unwrap_or("not measured")
                    ),
                };
                (rule::record_candidate(recorded, measured), Some(note))
            } else {
                let note = rule::note(previous, &measured);
                (rule::record(recorded, measured), note)
            }
        }
        Err(message) => {
            warn!(namespace = ns, name, error = %message, "evaluation failed");
            let note = rule::Note {
                reason: "EvaluationFailed",
                warning: true,
                message: message.clone(),
            };
            (
                rule::record_failure(recorded, &subject.key, at, message),
                Some(note),
            )
        }
    };
    finish(ctx, &api, &obj, &next, note, true).await
}

/// Writes `next` as `status.evaluation`, feeds the metric, publishes `note`, and under `Gate`
/// wakes the model's reconcile (its switch may wait for this measurement). `true` when written
/// and `go_on`.
async fn finish(
    ctx: &Context,
    api: &Api<CustomLanguageModel>,
    obj: &CustomLanguageModel,
    next: &EvaluationStatus,
    note: Option<rule::Note>,
    go_on: bool,
) -> bool {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let recorded = obj.status.as_ref().and_then(|s| s.evaluation.clone());
    if let Err(e) = write(api, &name, recorded.unwrap_or_default(), next).await {
        warn!(namespace = %ns, name, error = %e, "cannot write status.evaluation");
        return false;
    }
    if let Some(metrics) = &ctx.metrics {
        let wer = next.current.as_ref().and_then(|m| m.wer_basis_points);
        metrics.model_wer(&ns, &name, wer.map(|bp| bp as f64 / 10_000.0));
    }
    if let Some(note) = note {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.to_string(),
            note: Some(crate::decision::text::cut(&note.message, 1024)),
            action: "Evaluate".to_string(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
            warn!(error = %e, "cannot publish Event");
        }
    }
    if obj
        .spec
        .evaluation
        .as_ref()
        .is_some_and(|e| e.policy == EvaluationPolicy::Gate)
    {
        let _ = ctx
            .notices
            .model_woken
            .send((ModelKind::Language, ns, name));
    }
    go_on
}

/// Patches `status.evaluation` from `recorded` to `next`: a JSON merge patch in which a field
/// `next` no longer has (a `candidate` taken, a `message` cleared) is sent as `null`, so it goes.
async fn write(
    api: &Api<CustomLanguageModel>,
    name: &str,
    recorded: EvaluationStatus,
    next: &EvaluationStatus,
) -> Result<(), kube::Error> {
    let Some(change) = super::write::merge_patch(&recorded, next) else {
        return Ok(());
    };
    let patch = serde_json::json!({ "status": { "evaluation": change } });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
}

/// Recognises every item of the test set with the model `subject` and sums the scores.
async fn score(
    ctx: &Context,
    obj: &CustomLanguageModel,
    spec: &Evaluation,
    subject: &Subject,
) -> Result<Score, Failure> {
    let ns = obj.namespace().unwrap_or_default();
    let svc = ctx
        .services
        .handle(&ns, &obj.spec.service_ref.name)
        .await
        .map_err(|e| e.to_string())?;
    let sources = svc.sources().map_err(|e| e.to_string())?;
    let manifest = sources
        .source(&spec.test_set.manifest)
        .await
        .map_err(|e| format!("test set manifest: {e}"))?;
    let manifest =
        String::from_utf8(manifest).map_err(|_| "test set manifest: not UTF-8 text".to_string())?;
    let items = rule::parse_manifest(&manifest).map_err(|e| e.to_string())?;
    let stt = svc.stt().map_err(|e| e.to_string())?;
    let params = RecognizeParams {
        model: Some(subject.base_model.clone()),
        language_customization_id: Some(subject.id.clone()),
        customization_weight: spec.customization_weight,
        parameter_set: spec.parameter_set.clone(),
        ..RecognizeParams::default()
    };
    let content_type = spec.content_type.as_deref().unwrap_or("audio/wav");
    let mut total = Score::default();
    let mut bytes = 0u64;
    for item in &items {
        let audio = read_audio(sources, &spec.test_set.audio, item).await?;
        let len = audio.len() as u64;
        if len > MAX_ITEM_BYTES {
            return Err(format!(
                "test set item {}: {len} bytes of audio, more than the limit of {MAX_ITEM_BYTES}",
                item.audio
            ));
        }
        bytes += len;
        if bytes > MAX_SET_BYTES {
            return Err(format!(
                "test set: more than {MAX_SET_BYTES} bytes of audio in all (at item {})",
                item.audio
            ));
        }
        let answer = stt
            .recognize(&params, content_type, crate::watson::Bytes::from(audio))
            .await
            .map_err(|e| format!("recognition of test set item {}: {e}", item.audio))?;
        total = total.plus(Score::item(&item.reference, &answer.transcript()));
    }
    Ok(total)
}

/// The audio of one item.
async fn read_audio(
    sources: &super::inputs::Resolver,
    audio: &TestAudio,
    item: &TestItem,
) -> Result<Vec<u8>, Failure> {
    let read = if let Some(cm) = &audio.config_map_name {
        sources
            .config_map_key(&ConfigMapKeyRef {
                name: cm.clone(),
                key: item.audio.clone(),
            })
            .await
    } else if let Some(secret) = &audio.secret_name {
        sources
            .secret_key(&SecretKeyRef {
                name: secret.clone(),
                key: item.audio.clone(),
            })
            .await
    } else if let Some(base) = &audio.base_url {
        sources
            .url(&format!("{}/{}", base.trim_end_matches('/'), item.audio))
            .await
    } else {
        return Err("spec.evaluation.testSet.audio names no place".to_string());
    };
    read.map_err(|e| format!("test set item {}: {e}", item.audio))
}
