//! `status.nextAction`: what the operator does next for a model and why, in one line, derived
//! from the decided [`Action`] and the [`Facts`] it was decided on.
//!
//! The line reads `<step>: <why>` (`train: the inputs changed since the last training`,
//! `add corpus c2`, `wait for CustomLanguageModel helpdesk to be Ready (now Training)`,
//! `none: Available on the current spec`). Steps that change nothing start with `wait` or
//! `none`. It depends only on the decision, so a status written again for the same decision
//! carries the same line (no extra write). Under `run --dry-run` every line starts with
//! `dry run: `, and a step the shell skipped ([`Action::skipped_in_dry_run`]) reads
//! `dry run: would <step>`.

use super::ResourceClass;
use super::{Action, Facts, ModelKind, OperationKind, WaitReason};

/// The longest line written (characters); longer ones (a service message) are cut with `…`.
pub const MAX_CHARS: usize = 200;

/// The one line `status.nextAction` shows for `action` decided on `facts` (with the dry-run
/// prefix when `facts.dry_run`).
pub fn text(action: &Action, facts: &Facts) -> String {
    let step = one_line(&step(action, facts));
    let line = marked(facts.dry_run, action.skipped_in_dry_run(), step);
    if line.chars().count() > MAX_CHARS {
        line.chars().take(MAX_CHARS - 1).collect::<String>() + "…"
    } else {
        line
    }
}

/// `step` as `run --dry-run` shows it: `dry run: ` before every line, `dry run: would ` before a
/// step the shell skipped.
fn marked(dry_run: bool, skipped: bool, step: String) -> String {
    match (dry_run, skipped) {
        (false, _) => step,
        (true, true) => format!("dry run: would {step}"),
        (true, false) => format!("dry run: {step}"),
    }
}

/// Whitespace (newlines from a service message included) collapsed to single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a wanted resource is: corpus, grammar or audio (custom voice models have none;
/// "resource" then).
fn class_of(facts: &Facts, name: &str) -> &'static str {
    match facts.desired.resources.get(name) {
        Some(digest) => class_name(facts.kind, ResourceClass::of_digest(digest)),
        None => service_class(facts, name),
    }
}

/// What a resource on the service is (the service lists grammars apart).
fn service_class(facts: &Facts, name: &str) -> &'static str {
    let grammar = facts
        .observed
        .as_ref()
        .is_some_and(|o| o.grammars.contains(name));
    let class = match facts.kind {
        ModelKind::Acoustic => ResourceClass::Audio,
        _ if grammar => ResourceClass::Grammar,
        _ => ResourceClass::Corpus,
    };
    class_name(facts.kind, class)
}

fn class_name(kind: ModelKind, class: ResourceClass) -> &'static str {
    match (kind, class) {
        (ModelKind::Voice, _) => "resource",
        (_, ResourceClass::Grammar) => "grammar",
        (_, ResourceClass::Audio) => "audio",
        (_, ResourceClass::Corpus) => "corpus",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Why the decision trains: a request token, a first training, changed inputs, or the service
/// reporting the model untrained.
fn train_reason(f: &Facts) -> &'static str {
    if f.train_requested() {
        "requested (annotation speech.watson.dev/train-requested-at)"
    } else if f.recorded.trained_inputs_digest.is_none() {
        "not trained yet"
    } else if f.recorded.trained_inputs_digest.as_deref() != Some(f.desired.inputs_digest.as_str())
    {
        "the inputs changed since the last training"
    } else {
        "the service reports the model untrained"
    }
}

/// Why the decision upgrades, and to what.
fn upgrade_step(f: &Facts, custom_language_model_id: &Option<String>) -> String {
    if custom_language_model_id.is_some() {
        return "upgrade: the language model is on a newer base-model version".into();
    }
    let target = f
        .desired
        .target_version
        .as_ref()
        .or(f.newest_version.as_ref());
    let to = target.map(|t| format!(" to {t}")).unwrap_or_default();
    let why = if f.desired.target_version.is_some() {
        "spec.baseModelVersion"
    } else if f.upgrade_requested() {
        "requested (annotation speech.watson.dev/upgrade-requested-at)"
    } else {
        "a newer base-model version is available (upgradePolicy Automatic)"
    };
    format!("upgrade{to}: {why}")
}

fn step(action: &Action, f: &Facts) -> String {
    let id = f.recorded.customization_id.as_deref().unwrap_or("(none)");
    match action {
        Action::Suspended if f.deleting => {
            "none: spec.suspend is true; the deletion waits until it is false".into()
        }
        Action::Suspended => "none: spec.suspend is true".into(),
        Action::AwaitSpecChange => {
            "none: the last failure needs a change of the spec or its inputs".into()
        }
        Action::ReleaseFinalizer if f.release_requested => format!(
            "release the finalizer: annotation {} keeps any model on the service",
            crate::crd::RELEASE_WITHOUT_DELETING
        ),
        Action::ReleaseFinalizer if f.observe_only => {
            "release the finalizer: observe-only, the model stays on the service".into()
        }
        Action::ReleaseFinalizer if f.retain_on_delete => {
            "release the finalizer: deletionPolicy Retain keeps the model on the service".into()
        }
        Action::ReleaseFinalizer => {
            "release the finalizer: no model on the service to delete".into()
        }
        Action::DeleteModel => format!("delete model {id}: the resource is being deleted"),
        Action::DeleteMarked {
            customization_id,
            duplicate: false,
        } => format!(
            "delete model {customization_id}: it carries this resource's ownership marker and the resource is being deleted"
        ),
        Action::DeleteMarked {
            customization_id, ..
        } => format!(
            "delete model {customization_id}: it carries this resource's ownership marker and is not kept (model {id} is: a re-create replaced it, or it is a duplicate)"
        ),
        Action::Adopt {
            customization_id,
            recovered: false,
        } => format!("adopt model {customization_id}: spec.customizationId"),
        Action::Adopt {
            customization_id,
            recovered: true,
        } => format!(
            "adopt model {customization_id}: it carries this resource's ownership marker (created before a restart)"
        ),
        Action::Create => "create the model: none exists on the service yet".into(),
        Action::Reset => {
            "reset the model: requested (annotation speech.watson.dev/reset-requested-at)".into()
        }
        Action::Recreate => {
            format!("re-create the model: model {id} was deleted outside the operator")
        }
        Action::AdoptedModelMissing => {
            format!("none: the adopted model {id} no longer exists on the service (not re-created)")
        }
        Action::DeleteResource { name } => {
            let class = service_class(f, name);
            match f.desired.resources.get(name) {
                Some(digest) => format!(
                    "delete {class} {name}: it is a {} in the spec now",
                    class_name(f.kind, ResourceClass::of_digest(digest))
                ),
                None => format!("delete {class} {name}: no longer in the spec"),
            }
        }
        Action::AddResource {
            name,
            overwrite: true,
        } => format!("replace {} {name}: its content changed", class_of(f, name)),
        Action::AddResource { name, .. } if f.recorded.resources.contains_key(name) => {
            format!("add {} {name}: missing on the service", class_of(f, name))
        }
        Action::AddResource { name, .. } => format!("add {} {name}", class_of(f, name)),
        Action::AddWords { words } => {
            let what = if f.kind == ModelKind::Voice {
                plural(words.len(), "word translation", "word translations")
            } else {
                plural(words.len(), "custom word", "custom words")
            };
            format!("add {what}: new or changed in the spec")
        }
        Action::DeleteWord { word } => format!("delete the word {word:?}: no longer in the spec"),
        Action::Upgrade {
            custom_language_model_id,
        } => upgrade_step(f, custom_language_model_id),
        Action::Train { .. } => format!("train: {}", train_reason(f)),
        Action::Finish { kind, succeeded } => format!(
            "record the {} {}",
            if *succeeded { "finished" } else { "failed" },
            match kind {
                OperationKind::Train => "training",
                OperationKind::Upgrade => "upgrade",
            }
        ),
        Action::Wait { reason } => wait_step(reason, f),
        Action::UpToDate => match f.successor.as_ref().and_then(|s| s.record.message.as_ref()) {
            Some(failed)
                if f.successor
                    .as_ref()
                    .is_some_and(|s| s.in_flight().is_none()) =>
            {
                format!(
                    "none: Available on the current spec; the re-create failed ({failed}): set a new {} to retry",
                    crate::crd::RECREATE_REQUESTED_AT
                )
            }
            _ => "none: Available on the current spec".into(),
        },
        Action::CreateSuccessor => format!(
            "create a new model on {} beside model {id}: {}",
            f.base_model_name.as_deref().unwrap_or("the base model"),
            crate::successor::wanted(f).unwrap_or_default()
        ),
        Action::Successor(inner) => match &f.successor {
            Some(s) => format!(
                "new model {}: {}",
                s.in_flight().unwrap_or_default(),
                step(inner, &crate::successor::sub_facts(f, s))
            ),
            None => step(inner, f),
        },
        Action::SwitchToSuccessor => format!(
            "switch to the new model {} (trained on the current inputs): status.customizationId and the export, then delete model {id}",
            f.successor
                .as_ref()
                .and_then(|s| s.in_flight())
                .unwrap_or_default()
        ),
        Action::AbandonSuccessor { reason } => {
            format!("give up the new model: {reason}; model {id} keeps serving")
        }
        Action::Observe(o) if o.drift.is_empty() => format!(
            "none: observe only (the service reports the model {})",
            o.service_status
        ),
        Action::Observe(o) => format!(
            "none: observe only (the service reports the model {}; the spec differs, see Ready)",
            o.service_status
        ),
    }
}

fn wait_step(reason: &WaitReason, f: &Facts) -> String {
    let then = if f.deleting { ", then delete it" } else { "" };
    match reason {
        WaitReason::Training => format!("wait: the service is training the model{then}"),
        WaitReason::Upgrading => format!("wait: the service is upgrading the model{then}"),
        WaitReason::Processing => {
            format!("wait: the service is analysing the model's data{then}")
        }
        WaitReason::Dependency(m) => match m.strip_prefix("waiting for ") {
            Some(rest) => format!("wait for {rest}"),
            None => format!("wait: {m}"),
        },
        WaitReason::TrainingFailed => {
            "none: training failed on these inputs; change them to retry".into()
        }
        WaitReason::TrainingRequested => "wait: the inputs changed; training.policy is Manual: set the annotation speech.watson.dev/train-requested-at to train".into(),
        WaitReason::UpgradeRequested => "wait: a newer base-model version is available; upgradePolicy is Manual: set the annotation speech.watson.dev/upgrade-requested-at to upgrade".into(),
        WaitReason::NoData => {
            "wait: no data to train on (add corpora, words, grammars or audio)".into()
        }
        WaitReason::InvalidResource(m) => {
            format!("none: the service rejected {m}; fix the content")
        }
        WaitReason::UnknownStatus(s) => {
            format!("wait: the service reports the unknown status {s:?}")
        }
        WaitReason::Measuring(m) => format!("wait: {m}"),
        WaitReason::QualityGateFailed(_) => format!(
            "hold: measured worse than spec.evaluation.toleranceWerPoints allows (condition Promoted); fix the data, raise the tolerance or set a new {}",
            crate::crd::PROMOTE_REQUESTED_AT
        ),
        WaitReason::ServiceMissing { service, .. } => format!(
            "wait: SpeechService {service} does not exist; create it, or set the annotation {}: \"true\" to release without deleting",
            crate::crd::RELEASE_WITHOUT_DELETING
        ),
    }
}

/// The line after a failed reconcile ([`super::status::after_failure`]): a terminal failure waits
/// for the user, any other is retried; `category` is the error's (the Ready reason).
pub fn after_failure(category: &str, terminal: bool, stalled: bool, dry_run: bool) -> String {
    let step = if category == "ModelsVanished" {
        // Issue 25: a service-wide halt, not this model's fault.
        format!(
            "wait: {category}: too many of the service's models are missing from its listing at once; nothing is re-created until the service lists them again (see Ready)"
        )
    } else if terminal {
        format!("none: {category}: the spec or its inputs must change (see Ready)")
    } else if stalled {
        format!("retry: {category}: needs the user (see Ready)")
    } else {
        format!("retry: {category} (with backoff)")
    };
    marked(dry_run, false, step)
}
