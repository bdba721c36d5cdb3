//! The next action: [`decide`] and the checks made before any call ([`precheck`], [`quota_guard`]).

use super::ResourceClass;
use super::status::TERMINAL_REASONS;
use super::*;

/// The choices made without calling the service, in order: suspend (also during deletion) and a
/// terminal failure on the same generation and inputs. `None`: go on gathering facts.
pub fn precheck(f: &Facts) -> Option<Action> {
    // The user's explicit "let go without touching IBM" wins even over suspend: releasing
    // makes no call either.
    if f.deleting && f.release_requested {
        return Some(Action::ReleaseFinalizer);
    }
    if f.suspended {
        return Some(Action::Suspended);
    }
    if f.deleting && (f.observe_only || f.retain_on_delete) {
        // Never deleted and nothing to wait for: release without a call, so without the
        // SpeechService or its credentials (they may be gone already).
        return Some(Action::ReleaseFinalizer);
    }
    if f.deleting {
        return None;
    }
    let t = f.recorded.terminal.as_ref()?;
    let same_inputs = t.inputs_digest.as_deref() == Some(f.desired.inputs_digest.as_str());
    // A failed training is judged with the model's status (it may have been retrained out of band).
    (TERMINAL_REASONS.contains(&t.reason.as_str())
        && t.reason != "TrainingFailed"
        && t.generation == f.generation
        && same_inputs)
        .then_some(Action::AwaitSpecChange)
}

/// Never create past the quota: `in_use` models of this kind exist on the instance, `quota` are
/// allowed (IBM Cloud: 1024 per kind and instance). `Err` carries the condition message.
pub fn quota_guard(kind: ModelKind, in_use: usize, quota: usize) -> Result<(), String> {
    if kind == ModelKind::Voice || in_use < quota {
        return Ok(());
    }
    let noun = if kind == ModelKind::Acoustic {
        "acoustic"
    } else {
        "language"
    };
    Err(format!(
        "{in_use} of {quota} custom {noun} models of this service instance are in use: delete unused models (or models of other resources) to make room; the model is created as soon as there is"
    ))
}

/// Chooses the next action. Pure. The stages below run in the order of the module's list; the
/// first that has something to do wins.
pub fn decide(f: &Facts) -> Action {
    if let Some(a) = precheck(f) {
        return a;
    }
    if f.deleting {
        return decide_deletion(f);
    }
    let Some(obs) = &f.observed else {
        return decide_identity(f);
    };
    let status = obs.status.clone().unwrap_or(ServiceStatus::Exists);
    if f.observe_only {
        return Action::Observe(observe(f, obs, &status));
    }
    // One model per resource: any other model carrying its marker goes first.
    if let Some(id) = f.duplicates.first() {
        return Action::DeleteMarked {
            customization_id: id.clone(),
            duplicate: true,
        };
    }
    if let Some(a) = decide_finished(f, &status) {
        return a;
    }
    if let Some(a) = decide_busy(obs, &status) {
        return a;
    }
    // A re-create (a request token or a new base model): the new model is built beside the
    // current one, which stays as it is until the switch.
    if let Some(a) = crate::successor::decide(f) {
        return a;
    }
    // A reset on request, once per new token, when the model is idle (voice models have none).
    if f.kind != ModelKind::Voice && f.reset_requested() {
        return Action::Reset;
    }
    // An evaluation gate builds retrainings and upgrades beside the model in service; while it
    // cannot (the attempt on these inputs failed), the model in service stays as it is.
    if crate::gate::holds(f) {
        return Action::UpToDate;
    }
    if let Some(a) = decide_data(f, obs) {
        return a;
    }
    if f.kind == ModelKind::Voice {
        return Action::UpToDate;
    }
    let lm_id = match decide_dependency(f, obs, &status) {
        Ok(lm_id) => lm_id,
        Err(a) => return a,
    };
    // Upgrade before training.
    if let Some(a) = decide_upgrade(f, obs, &status) {
        return a;
    }
    decide_training(f, obs, &status, lm_id)
}

/// Right after a 200 to train or upgrade, IBM can still report the model's previous status
/// (`ready`/`available`) for a while (`watson-api.md` §16): within this window after the call, a
/// status unchanged since the call (`status.currentOperation.startedFrom`) means "not started
/// yet", not "finished", unless the service has already reported the operation running (then it
/// has ended). Any other status is the end: a training started from `ready` that reads
/// `available` has finished. Half the operation's expected duration, at least 5 s and at most
/// 30 s.
pub fn status_lag_window(expected: std::time::Duration) -> std::time::Duration {
    (expected / 2).clamp(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(30),
    )
}

/// A started operation that has ended is recorded before anything else.
pub(crate) fn decide_finished(f: &Facts, status: &ServiceStatus) -> Option<Action> {
    let (kind, _) = f.recorded.operation.as_ref()?;
    let within_lag = !f.recorded.operation_seen_running
        && f.recorded
            .operation_age
            .is_some_and(|age| age < status_lag_window(f.expected.of_kind(*kind)));
    let as_before = match &f.recorded.operation_started_from {
        Some(from) => from == status,
        // Records written before `startedFrom` existed.
        None => matches!(status, ServiceStatus::Ready | ServiceStatus::Available),
    };
    if within_lag && as_before {
        let reason = match kind {
            OperationKind::Train => WaitReason::Training,
            OperationKind::Upgrade => WaitReason::Upgrading,
        };
        return Some(Action::Wait { reason });
    }
    let succeeded = match (kind, status) {
        (_, ServiceStatus::Training | ServiceStatus::Upgrading) => return None,
        (OperationKind::Train, ServiceStatus::Available) => true,
        (OperationKind::Train, ServiceStatus::Failed) => false,
        (OperationKind::Upgrade, _) => true,
        // Training ended in another state (e.g. the model was reset out of band).
        (OperationKind::Train, _) => false,
    };
    Some(Action::Finish {
        kind: *kind,
        succeeded,
    })
}

/// While the service works on the model (or reports a status the operator does not know), wait.
pub(crate) fn decide_busy(obs: &Observed, status: &ServiceStatus) -> Option<Action> {
    let reason = match status {
        ServiceStatus::Training => WaitReason::Training,
        ServiceStatus::Upgrading => WaitReason::Upgrading,
        ServiceStatus::Unknown(s) => WaitReason::UnknownStatus(s.clone()),
        _ if obs
            .resources
            .values()
            .any(|r| *r == ResourceState::Processing) =>
        {
            WaitReason::Processing
        }
        _ => return None,
    };
    Some(Action::Wait { reason })
}

/// Acoustic models with a language model: it must be Available on a version this model can
/// reach: upgrade first if the language model is ahead, wait if it is behind. `Ok` carries the
/// language model's customization ID to train with.
fn decide_dependency(
    f: &Facts,
    obs: &Observed,
    status: &ServiceStatus,
) -> Result<Option<String>, Action> {
    let wait = |m: String| Action::Wait {
        reason: WaitReason::Dependency(m),
    };
    let (customization_id, version) = match &f.dependency {
        Dependency::None => return Ok(None),
        Dependency::Missing => return Err(wait("the language model does not exist".into())),
        Dependency::NotReady { reason } => return Err(wait(reason.clone())),
        Dependency::Available {
            customization_id,
            version,
        } => (customization_id, version),
    };
    if let (Some(lv), Some(mv)) = (version, obs.versions.last())
        && lv != mv
        && !obs.versions.contains(lv)
    {
        if lv < mv {
            return Err(wait(format!(
                "the language model is on {lv}, older than this model's {mv}; it must be upgraded first"
            )));
        }
        if matches!(status, ServiceStatus::Ready | ServiceStatus::Available)
            && upgrade_blocked(f).is_none()
        {
            return Err(Action::Upgrade {
                custom_language_model_id: Some(customization_id.clone()),
            });
        }
    }
    Ok(Some(customization_id.clone()))
}

/// Training: only on valid data, never on an empty model, once per change of inputs (or per new
/// request token), never again on inputs that failed.
pub(crate) fn decide_training(
    f: &Facts,
    obs: &Observed,
    status: &ServiceStatus,
    lm_id: Option<String>,
) -> Action {
    let train = || Action::Train {
        custom_language_model_id: lm_id.clone(),
    };
    let wait = |reason| Action::Wait { reason };
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
        return wait(WaitReason::InvalidResource(format!("{name}: {detail}")));
    }
    if *status == ServiceStatus::Pending {
        // `pending` with valid data means the service is still finishing (the model's status
        // can lag behind its resources' or a word batch is being validated): look again soon.
        // Without any valid data the model waits for the user.
        let has_data =
            obs.resources.values().any(|r| *r == ResourceState::Valid) || !obs.words.is_empty();
        return wait(if has_data {
            WaitReason::Processing
        } else {
            WaitReason::NoData
        });
    }
    if f.desired.resources.is_empty() && f.desired.words.is_empty() {
        // Every piece of data is gone (and gone from the service, see the data stage): the
        // service refuses to train a model without data, so wait for the user.
        return wait(WaitReason::NoData);
    }
    let digest = f.desired.inputs_digest.as_str();
    let changed = f.recorded.trained_inputs_digest.as_deref() != Some(digest);
    let failed_here = f.recorded.failed_inputs_digest.as_deref() == Some(digest);
    if failed_here && *status == ServiceStatus::Failed {
        return wait(WaitReason::TrainingFailed);
    }
    let token_new = f.train_requested();
    // Inputs unchanged but the service considers the model untrained (e.g. retrained data that
    // hashes the same): train once, like a change.
    let untrained = changed || matches!(status, ServiceStatus::Failed | ServiceStatus::Ready);
    match (untrained, token_new, f.desired.train_on_change) {
        (_, true, _) | (true, _, true) => train(),
        (true, false, false) => wait(WaitReason::TrainingRequested),
        (false, false, _) => Action::UpToDate,
    }
}

/// Deleting (policy Delete): the recorded model first (waiting while the service works on it),
/// then every model carrying the resource's ownership marker (a create whose answer was lost
/// leaves one with no recorded ID), then the finalizer goes. Without the SpeechService no call
/// can be made: a resource that never recorded a model releases (nothing was created: a create
/// needs the service, which carries the in-use finalizer while models use it), any other waits
/// for the user (create the service, or release with the annotation).
fn decide_deletion(f: &Facts) -> Action {
    if let Some(service) = &f.service_missing {
        return match &f.recorded.customization_id {
            None => Action::ReleaseFinalizer,
            Some(id) => Action::Wait {
                reason: WaitReason::ServiceMissing {
                    service: service.clone(),
                    customization_id: id.clone(),
                },
            },
        };
    }
    let marked = || {
        f.marked_model
            .iter()
            .chain(&f.duplicates)
            .chain(
                f.successor
                    .iter()
                    .filter_map(|s| s.record.customization_id.as_ref()),
            )
            .find(|id| Some(*id) != f.recorded.customization_id.as_ref())
            .map(|id| Action::DeleteMarked {
                customization_id: id.clone(),
                duplicate: false,
            })
    };
    let recorded = f
        .recorded
        .customization_id
        .as_ref()
        .and(f.observed.as_ref());
    match recorded {
        None => marked().unwrap_or(Action::ReleaseFinalizer),
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
    if f.observe_only {
        // Read the named model (adoption only verifies it), never create or re-create one.
        return match (&f.recorded.customization_id, &f.adopt_id) {
            (None, Some(id)) => Action::Adopt {
                customization_id: id.clone(),
                recovered: false,
            },
            _ => Action::AdoptedModelMissing,
        };
    }
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

pub(crate) fn decide_data(f: &Facts, obs: &Observed) -> Option<Action> {
    // Remove what is no longer wanted first (frees names and quota).
    // A name that is now a grammar and was a corpus (or the reverse) is removed first: the two
    // share one name space on the service.
    if let Some(name) = obs
        .resources
        .keys()
        .find(|n| match f.desired.resources.get(*n) {
            None => true,
            Some(digest) => {
                (ResourceClass::of_digest(digest) == ResourceClass::Grammar)
                    != obs.grammars.contains(*n)
            }
        })
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

/// IBM's audio cap per acoustic model (cut from 200 h to 50 h in Aug–Sep 2022): a model over it
/// keeps serving but the service refuses to add audio to it, train it or upgrade it
/// (`watson-api.md` §17).
pub const AUDIO_CAP_SECONDS: i64 = 50 * 3600;

/// Why a due upgrade is not attempted: an acoustic model over the audio cap, with a newer
/// base-model version to go to. `Some(message)` for the `UpToDate` condition (reason
/// `AudioOverCap`); the model stays Ready on its version.
pub fn upgrade_blocked(f: &Facts) -> Option<String> {
    if f.kind != ModelKind::Acoustic || f.audio_seconds <= AUDIO_CAP_SECONDS {
        return None;
    }
    let obs = f.observed.as_ref()?;
    let current = obs.versions.last()?;
    let dependency = match &f.dependency {
        Dependency::Available { version, .. } => version.as_ref(),
        _ => None,
    };
    // The version an upgrade would go to: the spec's, the newest known, or the language
    // model's (the first that the model is not on yet).
    let target = [
        f.desired.target_version.as_ref(),
        f.newest_version.as_ref(),
        dependency,
    ]
    .into_iter()
    .flatten()
    .find(|t| !obs.versions.contains(t) && *t > current)?;
    Some(format!(
        "{target} is available, but the model holds {:.1} hours of audio, over IBM's cap of {} hours per acoustic model: the service refuses to upgrade it, so the operator does not try; it keeps serving on {current}. Remove audio to go below the cap, then it upgrades",
        f.audio_seconds as f64 / 3600.0,
        AUDIO_CAP_SECONDS / 3600
    ))
}

fn decide_upgrade(f: &Facts, obs: &Observed, status: &ServiceStatus) -> Option<Action> {
    if f.kind == ModelKind::Voice || obs.versions.is_empty() {
        return None;
    }
    if upgrade_blocked(f).is_some() {
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
    let token_new = f.upgrade_requested();
    if f.desired.upgrade_automatic || f.desired.target_version.is_some() || token_new {
        return Some(Action::Upgrade {
            custom_language_model_id: None,
        });
    }
    Some(Action::Wait {
        reason: WaitReason::UpgradeRequested,
    })
}

/// At most this many items of one list are named in an observe-only model's Ready message.
const OBSERVED_NAMES: usize = 5;

/// `items` joined by ", ", the first [`OBSERVED_NAMES`] only, then "and N more".
fn some_of(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(OBSERVED_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > OBSERVED_NAMES {
        text.push_str(&format!(" and {} more", items.len() - OBSERVED_NAMES));
    }
    text
}

/// An observe-only model as read: the phase the service's status means, every difference
/// between the spec and the service (data by name and class, words by definition, the pinned
/// base-model version) and every request the operator does not act on (a new reset, train or
/// upgrade token, an upgrade the upgrade policy would make). Pure.
fn observe(f: &Facts, obs: &Observed, status: &ServiceStatus) -> Observing {
    use crate::crd::Phase;
    let processing = obs
        .resources
        .values()
        .any(|r| *r == ResourceState::Processing);
    let phase = match status {
        ServiceStatus::Pending if processing => Phase::Processing,
        ServiceStatus::Pending => Phase::WaitingForData,
        ServiceStatus::Ready | ServiceStatus::Unknown(_) => Phase::Ready,
        ServiceStatus::Training => Phase::Training,
        ServiceStatus::Available | ServiceStatus::Exists => Phase::Available,
        ServiceStatus::Upgrading => Phase::Upgrading,
        ServiceStatus::Failed => Phase::Failed,
    };
    let (ignored, upgrade_available) = ignored_requests(f, obs);
    Observing {
        phase,
        service_status: status.clone(),
        drift: observed_drift(f, obs),
        ignored,
        upgrade_available,
    }
}

/// How the spec differs from an observe-only model as read, one short line per difference: data
/// by name and class, words by definition, the pinned base-model version.
fn observed_drift(f: &Facts, obs: &Observed) -> Vec<String> {
    let class_name = |c: ResourceClass| match c {
        ResourceClass::Corpus => "corpus",
        ResourceClass::Grammar => "grammar",
        ResourceClass::Audio => "audio",
    };
    let on_service_class = |name: &str| {
        if obs.grammars.contains(name) {
            ResourceClass::Grammar
        } else if f.kind == ModelKind::Acoustic {
            ResourceClass::Audio
        } else {
            ResourceClass::Corpus
        }
    };
    let mut drift = Vec::new();
    let (mut missing, mut extra, mut moved) = (Vec::new(), Vec::new(), Vec::new());
    for (name, digest) in &f.desired.resources {
        let want = ResourceClass::of_digest(digest);
        if !obs.resources.contains_key(name) {
            missing.push(format!("{} {name}", class_name(want)));
        } else if want != on_service_class(name) {
            moved.push(format!(
                "{name} ({} in the spec, {} on the service)",
                class_name(want),
                class_name(on_service_class(name))
            ));
        }
    }
    for name in obs.resources.keys() {
        if !f.desired.resources.contains_key(name) {
            extra.push(format!("{} {name}", class_name(on_service_class(name))));
        }
    }
    let mut words_missing = Vec::new();
    let mut words_differ = Vec::new();
    for (w, d) in &f.desired.words {
        match obs.words.get(w) {
            None => words_missing.push(w.clone()),
            Some(o) if o != d => words_differ.push(w.clone()),
            Some(_) => {}
        }
    }
    let words_extra: Vec<String> = obs
        .words
        .keys()
        .filter(|w| !f.desired.words.contains_key(*w))
        .cloned()
        .collect();
    let lists = [
        (missing, "not on the service"),
        (extra, "on the service, not in the spec"),
        (moved, "of another kind on the service"),
        (words_missing, "words not on the service"),
        (words_extra, "words on the service, not in the spec"),
        (words_differ, "words defined otherwise on the service"),
    ];
    for (items, what) in lists {
        if !items.is_empty() {
            drift.push(format!("{what}: {}", some_of(&items)));
        }
    }
    if let Some(target) = &f.desired.target_version
        && !obs.versions.is_empty()
        && !obs.versions.contains(target)
    {
        drift.push(format!(
            "spec.baseModelVersion is {target}, the model is on {}",
            obs.versions.last().map(String::as_str).unwrap_or("unknown")
        ));
    }
    drift
}

/// The requests the operator does not act on for an observe-only model (a new reset, train or
/// upgrade token; an upgrade the upgrade policy would make), and the newer base-model version
/// it is not upgraded to.
fn ignored_requests(f: &Facts, obs: &Observed) -> (Vec<String>, Option<String>) {
    let mut ignored = Vec::new();
    let mut upgrade_available = None;
    let requests = [
        (
            f.reset_requested(),
            &f.desired.reset_token,
            crate::crd::RESET_REQUESTED_AT,
        ),
        (
            f.train_requested(),
            &f.desired.train_token,
            crate::crd::TRAIN_REQUESTED_AT,
        ),
        (
            f.upgrade_requested(),
            &f.desired.upgrade_token,
            crate::crd::UPGRADE_REQUESTED_AT,
        ),
    ];
    for (new, token, annotation) in requests {
        if let (true, Some(token)) = (new, token) {
            ignored.push(format!("annotation {annotation}: {token:?}"));
        }
    }
    if f.kind != ModelKind::Voice
        && let (Some(newest), Some(current)) = (&f.newest_version, obs.versions.last())
        && newest > current
        && !obs.versions.contains(newest)
    {
        ignored.push(format!("the upgrade to {newest}"));
        upgrade_available = Some(newest.clone());
    }
    (ignored, upgrade_available)
}
