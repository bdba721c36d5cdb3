//! Failures: the reasons that wait for the user, the recorded terminal failure, condition
//! messages that stay the same while a failure does, one readable line from IBM's `error` field,
//! and the status and Event of a failed reconcile.

use k8s_openapi::jiff::Timestamp;

use super::EventNote;
use super::conditions::{
    DEPENDENCIES_READY, Progress, READY, condition, set_condition, set_progress,
};
use crate::TerminalFailure;
use crate::crd::{ModelStatus, Phase};

/// Reasons after which the operator waits for the user to change something.
pub const TERMINAL_REASONS: &[&str] = &[
    "InvalidRequest",
    "InvalidSpec",
    "AdoptionMismatch",
    "UnsupportedRequest",
    "TrainingFailed",
    "InputMalformed",
    "InputTooLarge",
    "PlanNotSupported",
];

/// The recorded terminal failure (Ready condition with a [`TERMINAL_REASONS`] reason).
pub fn terminal_failure(st: &ModelStatus) -> Option<TerminalFailure> {
    let c = condition(&st.conditions, READY)?;
    TERMINAL_REASONS
        .contains(&c.reason.as_str())
        .then(|| TerminalFailure {
            reason: c.reason.clone(),
            generation: c.observed_generation,
            inputs_digest: st.inputs_digest.clone(),
        })
}

/// A condition message for an error that stays the same while the failure does: the IBM
/// transaction id (new on every call) goes to the Event and the log, not the condition, so a
/// repeated failure does not rewrite status.
pub fn stable_message(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find(" [transaction id ") {
        match out[start..].find(']') {
            Some(end) => out.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    out
}

/// One readable line from a model's `error` field, without internal details. IBM stores
/// asynchronous failures there as a *stringified* JSON error document, sometimes a whole internal
/// one (code 500, a message with a temporary file path; `watson-api.md` §1.4, §16): the message
/// is taken from the document (`error`, `message`, `errorMessage`, also when nested as a string),
/// every token that looks like a file path becomes `[internal path]`, only the first line is
/// kept, whitespace is collapsed and the result is cut at 200 characters. `None` when nothing
/// readable is left.
pub fn service_error_summary(raw: &str) -> Option<String> {
    fn message_of(text: &str, depth: u8) -> String {
        let parsed: Option<serde_json::Value> = serde_json::from_str(text.trim()).ok();
        let inner = parsed.as_ref().and_then(|v| {
            ["error", "message", "errorMessage"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()))
        });
        match inner {
            Some(m) if depth < 4 => message_of(m, depth + 1),
            Some(m) => m.to_string(),
            None => text.to_string(),
        }
    }
    let message = message_of(raw, 0);
    let first = message.lines().find(|l| !l.trim().is_empty())?;
    let words: Vec<String> = first
        .split_whitespace()
        .map(|w| {
            let core = w.trim_matches(|c: char| "\"'()[]{},;:".contains(c));
            let path =
                core.starts_with('/') || core.contains(":\\") || core.matches('/').count() >= 2;
            if path {
                "[internal path]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let mut line = words.join(" ");
    if line.chars().count() > 200 {
        line = line.chars().take(199).collect::<String>() + "…";
    }
    (!line.trim().is_empty()).then_some(line)
}

/// A failed reconcile: the error's category and message on the Ready condition (and on
/// DependenciesReady for a missing service, input or credentials), the phase that follows, and a
/// Warning Event once per change of reason or message. `inputs_digest` is the last digest resolved
/// for the object, if any.
pub struct Failure<'a> {
    pub category: &'static str,
    pub message: &'a str,
    /// The failure is about a dependency (service, input, credentials).
    pub dependency: bool,
    /// Only the user can fix it (retry class WaitForSpecChange).
    pub terminal: bool,
    /// Nothing changes without the user (`Stalled`): a terminal error or credentials the service
    /// refuses; any other error is retried (`Reconciling`).
    pub stalled: bool,
    pub inputs_digest: Option<&'a str>,
    /// The operator runs with `--dry-run` (for `status.nextAction`).
    pub dry_run: bool,
}

/// The status and Event for a failed reconcile (see [`Failure`]).
pub fn after_failure(
    prev: &ModelStatus,
    f: &Failure<'_>,
    generation: Option<i64>,
    now: Timestamp,
) -> (ModelStatus, Option<EventNote>) {
    let mut model = prev.clone();
    let before = condition(&model.conditions, READY).map(|c| (c.reason.clone(), c.message.clone()));
    let message = stable_message(f.message);
    set_condition(
        &mut model.conditions,
        READY,
        false,
        f.category,
        message.clone(),
        generation,
        now,
    );
    if f.dependency {
        set_condition(
            &mut model.conditions,
            DEPENDENCIES_READY,
            false,
            f.category,
            message.clone(),
            generation,
            now,
        );
        model.phase = Some(Phase::WaitingForDependency);
    } else if f.terminal {
        model.phase = Some(Phase::Failed);
    }
    let progress = if f.stalled {
        Progress::Stalled
    } else {
        Progress::Reconciling
    };
    set_progress(
        &mut model.conditions,
        progress,
        f.category,
        &message,
        generation,
        now,
    );
    model.observed_generation = generation;
    if let Some(d) = f.inputs_digest {
        model.inputs_digest = Some(d.to_string());
    }
    model.next_action = Some(crate::next_action::after_failure(
        f.category, f.terminal, f.stalled, f.dry_run,
    ));
    let changed = before.as_ref().map(|(r, m)| (r.as_str(), m.as_str()))
        != Some((f.category, message.as_str()));
    let event = changed.then(|| EventNote {
        warning: true,
        reason: f.category.to_string(),
        message,
    });
    (model, event)
}
