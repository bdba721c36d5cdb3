//! The heart of the operator: given the desired model, what the operator recorded, the model as
//! the service reports it and the state of its dependencies, choose the **one** next action.
//!
//! Everything here is pure: plain data in, an [`Action`] out. The reconcilers gather the facts,
//! call [`decide`], perform the action, and write status. Table tests at the bottom cover the
//! branches.
//!
//! Order of concerns (first match wins):
//! 1. suspend: no calls at all;
//! 2. deletion: release, wait while busy, or delete;
//! 3. identity: adopt `spec.customizationId`, recover a model created before a crash (found by the
//!    ownership marker), or create;
//! 4. drift: a model gone from the service is re-created (unless adopted);
//! 5. busy: while the service works on the model, wait;
//! 6. data: delete, then add/replace corpora, grammars, words, audio — one resource at a time,
//!    because the service analyses one at a time;
//! 7. dependencies (acoustic): the language model must be Available on the same version;
//! 8. upgrade before training, as IBM recommends;
//! 9. training when the inputs changed (or on a manual request token);
//! 10. otherwise the model is Available: check again at the drift interval.

use std::collections::BTreeMap;
use std::time::Duration;

/// The kind of model being decided for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// STT custom language model.
    Language,
    /// STT custom acoustic model.
    Acoustic,
    /// TTS custom voice model (no training, no upgrades, everything synchronous).
    Voice,
}

/// The service-side status of a model, as an open enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceStatus {
    Pending,
    Ready,
    Training,
    Available,
    Upgrading,
    Failed,
    /// Voice models have no status: they exist.
    Exists,
    Other(String),
}

impl ServiceStatus {
    /// Parses the service's status string.
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "ready" => Self::Ready,
            "training" => Self::Training,
            "available" => Self::Available,
            "upgrading" => Self::Upgrading,
            "failed" => Self::Failed,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A resource (corpus, grammar, audio) as the service reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceState {
    /// Being analysed.
    Processing,
    /// Analysed and usable (`analyzed`, `ok`).
    Valid,
    /// Analysis failed (`undetermined`, `invalid`).
    Invalid(String),
}

/// A word entry (STT custom word or TTS translation), compared field by field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WordDef {
    pub sounds_like: Vec<String>,
    pub display_as: Option<String>,
    pub mapping_only: Option<bool>,
    /// TTS translation.
    pub translation: Option<String>,
    /// TTS part of speech.
    pub part_of_speech: Option<String>,
}

/// What the user asked for, with every input resolved to a digest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// Text resources (corpora, grammars) or audio: name → content digest.
    pub resources: BTreeMap<String, String>,
    /// User words: word → definition.
    pub words: BTreeMap<String, WordDef>,
    /// Digest over every input and training parameter.
    pub inputs_digest: String,
    /// A specific base-model version to be on (`spec.baseModelVersion`).
    pub target_version: Option<String>,
    pub upgrade_automatic: bool,
    pub train_on_change: bool,
    /// The current `train-requested-at` annotation.
    pub train_token: Option<String>,
    /// The current `upgrade-requested-at` annotation.
    pub upgrade_token: Option<String>,
    /// Train only when every resource is valid (the service's `strict`, default true).
    pub strict: bool,
}

/// What the operator recorded in status (its memory across reconciles and restarts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    pub customization_id: Option<String>,
    pub adopted: bool,
    /// name → digest of the content last uploaded.
    pub resources: BTreeMap<String, String>,
    pub trained_inputs_digest: Option<String>,
    /// Digest whose training failed on the service; not retried until the inputs change.
    pub failed_inputs_digest: Option<String>,
    pub train_token: Option<String>,
    pub upgrade_token: Option<String>,
    /// The operation the operator started and has not seen finish.
    pub operation: Option<(OperationKind, String)>,
}

/// Long-running operations the operator starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Train,
    Upgrade,
}

/// The model as the service reports it (`None` when it does not exist).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub status: Option<ServiceStatus>,
    pub versions: Vec<String>,
    pub resources: BTreeMap<String, ResourceState>,
    /// User words on the service.
    pub words: BTreeMap<String, WordDef>,
    /// A word batch is still being validated (model `pending` with no resource processing).
    pub words_processing: bool,
}

/// The state of the acoustic model's language model.
#[derive(Clone, Debug, PartialEq)]
pub enum Dependency {
    /// No dependency configured.
    None,
    /// The referenced language model does not exist (yet).
    Missing,
    /// It exists but is not Available at the right version yet.
    NotReady { reason: String },
    /// Available: its customization ID and newest base-model version.
    Available {
        customization_id: String,
        version: Option<String>,
    },
}

/// All facts for one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub kind: ModelKind,
    pub suspended: bool,
    pub deleting: bool,
    pub retain_on_delete: bool,
    /// `spec.customizationId`.
    pub adopt_id: Option<String>,
    /// A model on the service carrying this resource's ownership marker (found in the LIST).
    pub marked_model: Option<String>,
    pub desired: Desired,
    pub recorded: Recorded,
    /// `None`: the model does not exist on the service (or no ID is known).
    pub observed: Option<Observed>,
    /// The newest base-model version known for the base model.
    pub newest_version: Option<String>,
    pub dependency: Dependency,
}

/// Why the operator waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// The service is training.
    Training,
    /// The service is upgrading.
    Upgrading,
    /// Resources are being analysed.
    Processing,
    /// The language model is not ready.
    Dependency(String),
    /// The last training failed on these inputs; change the spec to retry.
    TrainingFailed,
    /// Manual training policy: waiting for a request token.
    TrainingRequested,
    /// Manual upgrade policy: a newer version is available.
    UpgradeRequested,
    /// The model has no valid data to train on yet.
    NoData,
    /// The service rejected a resource (strict training would fail); the inputs must change.
    InvalidResource(String),
    /// The service reports a status the operator does not know.
    UnknownStatus(String),
}

/// The one next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Suspended: make no calls.
    Suspended,
    /// Remove the finalizer (model retained, gone, or never created).
    ReleaseFinalizer,
    /// Delete the model on the service.
    DeleteModel,
    /// Take over an existing model (`spec.customizationId` or a marked model after a crash).
    Adopt {
        customization_id: String,
        recovered: bool,
    },
    /// Create the model.
    Create,
    /// The model vanished from the service; create it again.
    Recreate,
    /// An adopted model vanished; report, do not re-create.
    AdoptedModelMissing,
    DeleteResource {
        name: String,
    },
    AddResource {
        name: String,
        overwrite: bool,
    },
    AddWords {
        words: Vec<String>,
    },
    DeleteWord {
        word: String,
    },
    Upgrade {
        custom_language_model_id: Option<String>,
    },
    Train {
        custom_language_model_id: Option<String>,
    },
    /// Record a finished operation (training became available, upgrade done).
    Finish {
        kind: OperationKind,
        succeeded: bool,
    },
    Wait {
        reason: WaitReason,
    },
    /// Available and current.
    UpToDate,
}

/// Chooses the next action. Pure.
pub fn decide(f: &Facts) -> Action {
    if f.suspended {
        return Action::Suspended;
    }
    if f.deleting {
        return decide_deletion(f);
    }
    let Some(obs) = &f.observed else {
        return decide_identity(f);
    };
    let status = obs.status.clone().unwrap_or(ServiceStatus::Exists);

    // A started operation that has ended is recorded before anything else.
    if let Some((kind, _)) = &f.recorded.operation {
        match (kind, &status) {
            (_, ServiceStatus::Training | ServiceStatus::Upgrading) => {}
            (OperationKind::Train, ServiceStatus::Available) => {
                return Action::Finish {
                    kind: *kind,
                    succeeded: true,
                };
            }
            (OperationKind::Train, ServiceStatus::Failed) => {
                return Action::Finish {
                    kind: *kind,
                    succeeded: false,
                };
            }
            (OperationKind::Upgrade, _) => {
                return Action::Finish {
                    kind: *kind,
                    succeeded: true,
                };
            }
            (OperationKind::Train, _) => {
                // Training ended in another state (e.g. the model was reset out of band).
                return Action::Finish {
                    kind: *kind,
                    succeeded: false,
                };
            }
        }
    }

    match &status {
        ServiceStatus::Training => {
            return Action::Wait {
                reason: WaitReason::Training,
            };
        }
        ServiceStatus::Upgrading => {
            return Action::Wait {
                reason: WaitReason::Upgrading,
            };
        }
        ServiceStatus::Other(s) => {
            return Action::Wait {
                reason: WaitReason::UnknownStatus(s.clone()),
            };
        }
        _ => {}
    }
    if obs
        .resources
        .values()
        .any(|r| *r == ResourceState::Processing)
        || obs.words_processing
    {
        return Action::Wait {
            reason: WaitReason::Processing,
        };
    }

    if let Some(a) = decide_data(f, obs) {
        return a;
    }
    if f.kind == ModelKind::Voice {
        return Action::UpToDate;
    }

    // Dependencies (acoustic models with a language model).
    let lm_id = match &f.dependency {
        Dependency::None => None,
        Dependency::Missing => {
            return Action::Wait {
                reason: WaitReason::Dependency("the language model does not exist".into()),
            };
        }
        Dependency::NotReady { reason } => {
            return Action::Wait {
                reason: WaitReason::Dependency(reason.clone()),
            };
        }
        Dependency::Available {
            customization_id,
            version,
        } => {
            // The language model must be on a version this model can reach: upgrade first if
            // the language model is ahead, wait if it is behind.
            let mine = obs.versions.last();
            match (version, mine) {
                (Some(lv), Some(mv)) if lv != mv && !obs.versions.contains(lv) => {
                    if lv > mv {
                        if matches!(status, ServiceStatus::Ready | ServiceStatus::Available) {
                            return Action::Upgrade {
                                custom_language_model_id: Some(customization_id.clone()),
                            };
                        }
                    } else {
                        return Action::Wait {
                            reason: WaitReason::Dependency(format!(
                                "the language model is on {lv}, older than this model's {mv}; it must be upgraded first"
                            )),
                        };
                    }
                }
                _ => {}
            }
            Some(customization_id.clone())
        }
    };

    // Upgrade before training.
    if let Some(a) = decide_upgrade(f, obs, &status) {
        return a;
    }

    if f.desired.strict
        && let Some((name, ResourceState::Invalid(msg))) = obs
            .resources
            .iter()
            .find(|(_, r)| matches!(r, ResourceState::Invalid(_)))
    {
        let detail = if msg.is_empty() {
            "rejected by the service".to_string()
        } else {
            msg.clone()
        };
        return Action::Wait {
            reason: WaitReason::InvalidResource(format!("{name}: {detail}")),
        };
    }
    let changed = f.recorded.trained_inputs_digest.as_deref() != Some(&f.desired.inputs_digest);
    let failed_here =
        f.recorded.failed_inputs_digest.as_deref() == Some(f.desired.inputs_digest.as_str());
    if status == ServiceStatus::Pending {
        // `pending` with valid data means the service is still finishing (the model's status
        // can lag behind its resources' or a word batch is being validated): look again soon.
        // Without any valid data the model waits for the user.
        let has_data =
            obs.resources.values().any(|r| *r == ResourceState::Valid) || !obs.words.is_empty();
        return Action::Wait {
            reason: if has_data {
                WaitReason::Processing
            } else {
                WaitReason::NoData
            },
        };
    }
    if failed_here && status == ServiceStatus::Failed {
        return Action::Wait {
            reason: WaitReason::TrainingFailed,
        };
    }
    let token_new =
        f.desired.train_token.is_some() && f.desired.train_token != f.recorded.train_token;
    if changed || status == ServiceStatus::Failed {
        if f.desired.train_on_change || token_new {
            return Action::Train {
                custom_language_model_id: lm_id,
            };
        }
        return Action::Wait {
            reason: WaitReason::TrainingRequested,
        };
    }
    if token_new {
        return Action::Train {
            custom_language_model_id: lm_id,
        };
    }
    if status == ServiceStatus::Ready {
        // Inputs unchanged but the service considers the model untrained (e.g. retrained data
        // that hashes the same): train once.
        if f.desired.train_on_change {
            return Action::Train {
                custom_language_model_id: lm_id,
            };
        }
        return Action::Wait {
            reason: WaitReason::TrainingRequested,
        };
    }
    Action::UpToDate
}

fn decide_deletion(f: &Facts) -> Action {
    if f.retain_on_delete || f.recorded.customization_id.is_none() {
        return Action::ReleaseFinalizer;
    }
    match &f.observed {
        None => Action::ReleaseFinalizer,
        Some(obs) => match obs.status {
            Some(ServiceStatus::Training) => Action::Wait {
                reason: WaitReason::Training,
            },
            Some(ServiceStatus::Upgrading) => Action::Wait {
                reason: WaitReason::Upgrading,
            },
            _ if obs
                .resources
                .values()
                .any(|r| *r == ResourceState::Processing) =>
            {
                Action::Wait {
                    reason: WaitReason::Processing,
                }
            }
            _ => Action::DeleteModel,
        },
    }
}

fn decide_identity(f: &Facts) -> Action {
    match (&f.recorded.customization_id, &f.adopt_id) {
        (None, Some(id)) => Action::Adopt {
            customization_id: id.clone(),
            recovered: false,
        },
        (None, None) => match &f.marked_model {
            Some(id) => Action::Adopt {
                customization_id: id.clone(),
                recovered: true,
            },
            None => Action::Create,
        },
        (Some(_), _) if f.recorded.adopted => Action::AdoptedModelMissing,
        (Some(_), _) => match &f.marked_model {
            // The recorded ID is gone but a marked model exists: a crash left a newer one.
            Some(id) if Some(id) != f.recorded.customization_id.as_ref() => Action::Adopt {
                customization_id: id.clone(),
                recovered: true,
            },
            _ => Action::Recreate,
        },
    }
}

fn decide_data(f: &Facts, obs: &Observed) -> Option<Action> {
    // Remove what is no longer wanted first (frees names and quota).
    if let Some(name) = obs
        .resources
        .keys()
        .find(|n| !f.desired.resources.contains_key(*n))
    {
        return Some(Action::DeleteResource { name: name.clone() });
    }
    for (name, digest) in &f.desired.resources {
        let on_service = obs.resources.get(name);
        let recorded = f.recorded.resources.get(name);
        if on_service.is_none() || recorded != Some(digest) {
            return Some(Action::AddResource {
                name: name.clone(),
                overwrite: on_service.is_some(),
            });
        }
    }
    if let Some(word) = obs.words.keys().find(|w| !f.desired.words.contains_key(*w)) {
        return Some(Action::DeleteWord { word: word.clone() });
    }
    let missing: Vec<String> = f
        .desired
        .words
        .iter()
        .filter(|(w, d)| obs.words.get(*w) != Some(d))
        .map(|(w, _)| w.clone())
        .collect();
    if !missing.is_empty() {
        return Some(Action::AddWords { words: missing });
    }
    None
}

fn decide_upgrade(f: &Facts, obs: &Observed, status: &ServiceStatus) -> Option<Action> {
    if f.kind == ModelKind::Voice || obs.versions.is_empty() {
        return None;
    }
    let current = obs.versions.last()?;
    let target = f
        .desired
        .target_version
        .as_ref()
        .or(f.newest_version.as_ref())?;
    if obs.versions.contains(target) || target <= current {
        return None;
    }
    if !matches!(status, ServiceStatus::Ready | ServiceStatus::Available) {
        return None;
    }
    if f.kind == ModelKind::Acoustic && f.dependency != Dependency::None {
        // Acoustic models with a language model upgrade after it (handled with dependencies).
        return None;
    }
    let token_new =
        f.desired.upgrade_token.is_some() && f.desired.upgrade_token != f.recorded.upgrade_token;
    if f.desired.upgrade_automatic || f.desired.target_version.is_some() || token_new {
        return Some(Action::Upgrade {
            custom_language_model_id: None,
        });
    }
    Some(Action::Wait {
        reason: WaitReason::UpgradeRequested,
    })
}

/// When to look again while waiting: progress-aware polling. `elapsed` is the time since the
/// operation started; `expected` its typical duration (from the model's own history when known).
///
/// One quick check catches immediate failures; then each wait covers 90 % of the time left, so
/// the checks close in on the expected end in a handful of steps (a 30-minute training costs
/// five reads, where fixed 10-second polling costs 180). Once overdue, the operator checks every
/// 1/30 of the elapsed time, which keeps the detection delay within about 3 % of the operation's
/// length. Always at least `2 s`, at most `cap`.
pub fn poll_after(elapsed: Duration, expected: Duration, cap: Duration) -> Duration {
    let floor = Duration::from_secs(2);
    let remaining = expected.saturating_sub(elapsed);
    let next = if elapsed < floor {
        floor
    } else if !remaining.is_zero() {
        remaining.mul_f64(0.9)
    } else {
        elapsed / 30
    };
    next.clamp(floor, cap.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str) -> WordDef {
        WordDef {
            sounds_like: vec![s.to_string()],
            display_as: None,
            mapping_only: None,
            translation: None,
            part_of_speech: None,
        }
    }

    fn base() -> Facts {
        Facts {
            kind: ModelKind::Language,
            suspended: false,
            deleting: false,
            retain_on_delete: false,
            adopt_id: None,
            marked_model: None,
            desired: Desired {
                resources: [("c1".to_string(), "d1".to_string())].into(),
                words: [("tomato".to_string(), word("tomahto"))].into(),
                inputs_digest: "in1".into(),
                target_version: None,
                upgrade_automatic: true,
                train_on_change: true,
                train_token: None,
                upgrade_token: None,
                strict: true,
            },
            recorded: Recorded {
                customization_id: Some("id1".into()),
                resources: [("c1".to_string(), "d1".to_string())].into(),
                trained_inputs_digest: Some("in1".into()),
                ..Default::default()
            },
            observed: Some(Observed {
                status: Some(ServiceStatus::Available),
                versions: vec!["b.v2020-01-01".into()],
                resources: [("c1".to_string(), ResourceState::Valid)].into(),
                words: [("tomato".to_string(), word("tomahto"))].into(),
                words_processing: false,
            }),
            newest_version: Some("b.v2020-01-01".into()),
            dependency: Dependency::None,
        }
    }

    fn obs(f: &mut Facts) -> &mut Observed {
        f.observed.as_mut().expect("observed")
    }

    #[test]
    fn table() {
        type Case = (&'static str, fn(&mut Facts), Action);
        let cases: Vec<Case> = vec![
            ("steady state is up to date", |_| {}, Action::UpToDate),
            (
                "suspend wins over everything",
                |f| {
                    f.suspended = true;
                    f.deleting = true;
                },
                Action::Suspended,
            ),
            (
                "delete an idle model",
                |f| f.deleting = true,
                Action::DeleteModel,
            ),
            (
                "retain releases",
                |f| {
                    f.deleting = true;
                    f.retain_on_delete = true;
                },
                Action::ReleaseFinalizer,
            ),
            (
                "deleting a gone model releases",
                |f| {
                    f.deleting = true;
                    f.observed = None;
                },
                Action::ReleaseFinalizer,
            ),
            (
                "deleting never-created releases",
                |f| {
                    f.deleting = true;
                    f.recorded.customization_id = None;
                    f.observed = None;
                },
                Action::ReleaseFinalizer,
            ),
            (
                "deleting a training model waits",
                |f| {
                    f.deleting = true;
                    obs(f).status = Some(ServiceStatus::Training);
                },
                Action::Wait {
                    reason: WaitReason::Training,
                },
            ),
            (
                "no id: create",
                |f| {
                    f.recorded.customization_id = None;
                    f.observed = None;
                },
                Action::Create,
            ),
            (
                "no id but marked model: recover",
                |f| {
                    f.recorded.customization_id = None;
                    f.observed = None;
                    f.marked_model = Some("m".into());
                },
                Action::Adopt {
                    customization_id: "m".into(),
                    recovered: true,
                },
            ),
            (
                "adopt by spec",
                |f| {
                    f.recorded.customization_id = None;
                    f.observed = None;
                    f.adopt_id = Some("x".into());
                },
                Action::Adopt {
                    customization_id: "x".into(),
                    recovered: false,
                },
            ),
            ("gone: recreate", |f| f.observed = None, Action::Recreate),
            (
                "adopted and gone: report",
                |f| {
                    f.observed = None;
                    f.recorded.adopted = true;
                },
                Action::AdoptedModelMissing,
            ),
            (
                "training: wait",
                |f| obs(f).status = Some(ServiceStatus::Training),
                Action::Wait {
                    reason: WaitReason::Training,
                },
            ),
            (
                "upgrading: wait",
                |f| obs(f).status = Some(ServiceStatus::Upgrading),
                Action::Wait {
                    reason: WaitReason::Upgrading,
                },
            ),
            (
                "unknown status: wait",
                |f| obs(f).status = Some(ServiceStatus::Other("weird".into())),
                Action::Wait {
                    reason: WaitReason::UnknownStatus("weird".into()),
                },
            ),
            (
                "corpus processing: wait",
                |f| {
                    obs(f)
                        .resources
                        .insert("c1".into(), ResourceState::Processing);
                },
                Action::Wait {
                    reason: WaitReason::Processing,
                },
            ),
            (
                "new corpus: add",
                |f| {
                    f.desired.resources.insert("c2".into(), "d2".into());
                },
                Action::AddResource {
                    name: "c2".into(),
                    overwrite: false,
                },
            ),
            (
                "changed corpus: overwrite",
                |f| {
                    f.desired.resources.insert("c1".into(), "d9".into());
                },
                Action::AddResource {
                    name: "c1".into(),
                    overwrite: true,
                },
            ),
            (
                "unknown recorded digest: overwrite",
                |f| {
                    f.recorded.resources.clear();
                },
                Action::AddResource {
                    name: "c1".into(),
                    overwrite: true,
                },
            ),
            (
                "removed corpus: delete first",
                |f| {
                    f.desired.resources.clear();
                    f.desired.resources.insert("c2".into(), "d2".into());
                },
                Action::DeleteResource { name: "c1".into() },
            ),
            (
                "new word: add",
                |f| {
                    f.desired.words.insert("potato".into(), word("p"));
                },
                Action::AddWords {
                    words: vec!["potato".into()],
                },
            ),
            (
                "changed word: add",
                |f| {
                    f.desired.words.insert("tomato".into(), word("tomayto"));
                },
                Action::AddWords {
                    words: vec!["tomato".into()],
                },
            ),
            (
                "removed word: delete",
                |f| {
                    f.desired.words.clear();
                },
                Action::DeleteWord {
                    word: "tomato".into(),
                },
            ),
            (
                "inputs changed: train",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    obs(f).status = Some(ServiceStatus::Ready);
                },
                Action::Train {
                    custom_language_model_id: None,
                },
            ),
            (
                "manual policy: wait for token",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    f.desired.train_on_change = false;
                    obs(f).status = Some(ServiceStatus::Ready);
                },
                Action::Wait {
                    reason: WaitReason::TrainingRequested,
                },
            ),
            (
                "manual policy with new token: train",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    f.desired.train_on_change = false;
                    f.desired.train_token = Some("t1".into());
                    obs(f).status = Some(ServiceStatus::Ready);
                },
                Action::Train {
                    custom_language_model_id: None,
                },
            ),
            (
                "token already handled: up to date",
                |f| {
                    f.desired.train_token = Some("t1".into());
                    f.recorded.train_token = Some("t1".into());
                },
                Action::UpToDate,
            ),
            (
                "new token on unchanged model: train (force)",
                |f| {
                    f.desired.train_token = Some("t2".into());
                    f.recorded.train_token = Some("t1".into());
                },
                Action::Train {
                    custom_language_model_id: None,
                },
            ),
            (
                "pending with analysed data: the service is finishing",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    obs(f).status = Some(ServiceStatus::Pending);
                },
                Action::Wait {
                    reason: WaitReason::Processing,
                },
            ),
            (
                "pending without any data: wait for the user",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    f.desired.resources.clear();
                    f.desired.words.clear();
                    f.recorded.resources.clear();
                    let o = obs(f);
                    o.status = Some(ServiceStatus::Pending);
                    o.resources.clear();
                    o.words.clear();
                },
                Action::Wait {
                    reason: WaitReason::NoData,
                },
            ),
            (
                "failed on these inputs: wait for change",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    f.recorded.failed_inputs_digest = Some("in2".into());
                    obs(f).status = Some(ServiceStatus::Failed);
                },
                Action::Wait {
                    reason: WaitReason::TrainingFailed,
                },
            ),
            (
                "failed, inputs changed since: train",
                |f| {
                    f.desired.inputs_digest = "in3".into();
                    f.recorded.failed_inputs_digest = Some("in2".into());
                    obs(f).status = Some(ServiceStatus::Failed);
                },
                Action::Train {
                    custom_language_model_id: None,
                },
            ),
            (
                "train finished",
                |f| {
                    f.recorded.operation = Some((OperationKind::Train, "in1".into()));
                },
                Action::Finish {
                    kind: OperationKind::Train,
                    succeeded: true,
                },
            ),
            (
                "train failed",
                |f| {
                    f.recorded.operation = Some((OperationKind::Train, "in1".into()));
                    obs(f).status = Some(ServiceStatus::Failed);
                },
                Action::Finish {
                    kind: OperationKind::Train,
                    succeeded: false,
                },
            ),
            (
                "train still running",
                |f| {
                    f.recorded.operation = Some((OperationKind::Train, "in1".into()));
                    obs(f).status = Some(ServiceStatus::Training);
                },
                Action::Wait {
                    reason: WaitReason::Training,
                },
            ),
            (
                "upgrade finished",
                |f| {
                    f.recorded.operation = Some((OperationKind::Upgrade, "in1".into()));
                },
                Action::Finish {
                    kind: OperationKind::Upgrade,
                    succeeded: true,
                },
            ),
            (
                "newer version, automatic: upgrade",
                |f| f.newest_version = Some("b.v2021-01-01".into()),
                Action::Upgrade {
                    custom_language_model_id: None,
                },
            ),
            (
                "explicit target version: upgrade",
                |f| {
                    f.desired.upgrade_automatic = false;
                    f.desired.target_version = Some("b.v2021-01-01".into());
                },
                Action::Upgrade {
                    custom_language_model_id: None,
                },
            ),
            (
                "newer version, manual: wait",
                |f| {
                    f.desired.upgrade_automatic = false;
                    f.newest_version = Some("b.v2021-01-01".into());
                },
                Action::Wait {
                    reason: WaitReason::UpgradeRequested,
                },
            ),
            (
                "newer version, manual + token: upgrade",
                |f| {
                    f.desired.upgrade_automatic = false;
                    f.desired.upgrade_token = Some("u".into());
                    f.newest_version = Some("b.v2021-01-01".into());
                },
                Action::Upgrade {
                    custom_language_model_id: None,
                },
            ),
            (
                "already on newest: nothing",
                |f| {
                    obs(f).versions.push("b.v2021-01-01".into());
                    f.newest_version = Some("b.v2021-01-01".into());
                },
                Action::UpToDate,
            ),
            (
                "invalid corpus with strict: wait for a fix",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    obs(f).status = Some(ServiceStatus::Ready);
                    obs(f)
                        .resources
                        .insert("c1".into(), ResourceState::Invalid("no words".into()));
                },
                Action::Wait {
                    reason: WaitReason::InvalidResource("c1: no words".into()),
                },
            ),
            (
                "invalid corpus without strict: train",
                |f| {
                    f.desired.inputs_digest = "in2".into();
                    f.desired.strict = false;
                    obs(f).status = Some(ServiceStatus::Ready);
                    obs(f)
                        .resources
                        .insert("c1".into(), ResourceState::Invalid("no words".into()));
                },
                Action::Train {
                    custom_language_model_id: None,
                },
            ),
            (
                "data before upgrade",
                |f| {
                    f.newest_version = Some("b.v2021-01-01".into());
                    f.desired.words.clear();
                },
                Action::DeleteWord {
                    word: "tomato".into(),
                },
            ),
        ];
        for (name, mutate, want) in cases {
            let mut f = base();
            mutate(&mut f);
            assert_eq!(decide(&f), want, "case: {name}");
        }
    }

    fn acoustic() -> Facts {
        let mut f = base();
        f.kind = ModelKind::Acoustic;
        f.desired.words.clear();
        obs(&mut f).words.clear();
        f.dependency = Dependency::Available {
            customization_id: "lm".into(),
            version: Some("b.v2020-01-01".into()),
        };
        f
    }

    #[test]
    fn acoustic_table() {
        type Case = (&'static str, fn(&mut Facts), Action);
        let cases: Vec<Case> = vec![
            ("steady", |_| {}, Action::UpToDate),
            ("lm missing: wait", |f| f.dependency = Dependency::Missing, Action::Wait { reason: WaitReason::Dependency("the language model does not exist".into()) }),
            ("lm not ready: wait", |f| f.dependency = Dependency::NotReady { reason: "training".into() }, Action::Wait { reason: WaitReason::Dependency("training".into()) }),
            ("changed: train with lm", |f| { f.desired.inputs_digest = "x".into(); obs(f).status = Some(ServiceStatus::Ready); }, Action::Train { custom_language_model_id: Some("lm".into()) }),
            ("lm upgraded: upgrade with lm", |f| f.dependency = Dependency::Available { customization_id: "lm".into(), version: Some("b.v2021-01-01".into()) }, Action::Upgrade { custom_language_model_id: Some("lm".into()) }),
            ("lm behind: wait", |f| { obs(f).versions = vec!["b.v2021-01-01".into()]; }, Action::Wait { reason: WaitReason::Dependency("the language model is on b.v2020-01-01, older than this model's b.v2021-01-01; it must be upgraded first".into()) }),
            ("newer version with lm: waits for lm, no own upgrade", |f| f.newest_version = Some("b.v2021-01-01".into()), Action::UpToDate),
            ("data before dependency", |f| { f.dependency = Dependency::Missing; f.desired.resources.insert("a2".into(), "d".into()); }, Action::AddResource { name: "a2".into(), overwrite: false }),
        ];
        for (name, mutate, want) in cases {
            let mut f = acoustic();
            mutate(&mut f);
            assert_eq!(decide(&f), want, "case: {name}");
        }
    }

    #[test]
    fn voice_models_only_sync_words() {
        let mut f = base();
        f.kind = ModelKind::Voice;
        f.desired.resources.clear();
        obs(&mut f).resources.clear();
        obs(&mut f).status = None;
        obs(&mut f).versions.clear();
        f.desired.inputs_digest = "changed".into();
        assert_eq!(decide(&f), Action::UpToDate);
        f.desired.words.insert("IBM".into(), word("I B M"));
        assert_eq!(
            decide(&f),
            Action::AddWords {
                words: vec!["IBM".into()]
            }
        );
    }

    #[test]
    fn polling_is_progress_aware() {
        let cap = Duration::from_secs(600);
        let expected = Duration::from_secs(1800);
        // a quick first check
        assert_eq!(
            poll_after(Duration::ZERO, expected, cap),
            Duration::from_secs(2)
        );
        // then 90 % of the remaining time, bounded by the cap
        assert_eq!(
            poll_after(Duration::from_secs(1700), expected, cap),
            Duration::from_secs(90)
        );
        assert_eq!(poll_after(Duration::from_secs(2), expected, cap), cap);
        // overdue: 1/30 of the elapsed time, at least 2 s
        assert_eq!(
            poll_after(Duration::from_secs(3000), expected, cap),
            Duration::from_secs(100)
        );
        assert_eq!(
            poll_after(Duration::from_secs(10), Duration::from_secs(5), cap),
            Duration::from_secs(2)
        );

        // Simulate a whole operation: count reads and the delay between the real end and the
        // read that sees it.
        let run = |expected: Duration, actual: Duration| {
            let (mut t, mut polls) = (Duration::ZERO, 0u32);
            while t < actual {
                t += poll_after(t, expected, cap);
                polls += 1;
            }
            (polls, t - actual)
        };
        let (polls, late) = run(Duration::from_secs(1800), Duration::from_secs(1800));
        assert!(polls <= 8, "{polls} reads for a 30 minute training");
        assert!(late <= Duration::from_secs(2), "seen {late:?} late");
        // an operation 50 % longer than expected is still seen within ~3.5 % of its length
        let (polls, late) = run(Duration::from_secs(1800), Duration::from_secs(2700));
        assert!(late.as_secs_f64() <= 2700.0 * 0.035, "seen {late:?} late");
        assert!(polls <= 20, "{polls} reads");
    }
}
