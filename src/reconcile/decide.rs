//! Step 2 of a model's reconcile: decide. Thin on purpose: the decision is pure and lives in
//! [`crate::decision`]; this module hands it the gathered facts, and the settings it reads
//! (`timing`: the operator's flags as the decision's polling [`Timing`]), and says which actions
//! a dry run skips.

use std::time::Duration;

use kube::ResourceExt;
use tracing::{info, warn};

use super::context::Context;
use crate::decision::status::Timing;
use crate::decision::{self, Action, Facts};
use crate::model::ModelResource;

/// The check that needs no call (suspend, terminal failure, an observed model being deleted):
/// the action when it settles the reconcile ([`decision::precheck`]).
pub(crate) fn precheck(facts: &Facts) -> Option<Action> {
    decision::precheck(facts)
}

/// The one next action for the gathered facts ([`decision::decide`]), logged.
pub(crate) fn decide<K: ModelResource>(obj: &K, facts: &Facts) -> Action {
    let action = decision::decide(facts);
    info!(kind = ?K::KIND, name = %obj.name_any(), ?action, "decided");
    action
}

/// Whether this run leaves `action` undone (`run --dry-run`, [`Action::skipped_in_dry_run`]);
/// the one test for both paths that act (the precheck's and [`super::perform`]'s).
pub(crate) fn skipped_in_dry_run(ctx: &Context, action: &Action) -> bool {
    ctx.settings.dry_run && action.skipped_in_dry_run()
}

/// The drift interval of `obj`: its annotation `speech.watson.dev/drift-interval` within the
/// operator's minimum, else the operator's interval (a value that is not a duration is logged
/// and ignored).
pub(crate) fn drift_interval<K: ResourceExt>(obj: &K, ctx: &Context) -> Duration {
    let annotation = obj
        .annotations()
        .get(crate::crd::DRIFT_INTERVAL)
        .map(String::as_str);
    let (default, floor) = (ctx.settings.drift_interval, ctx.settings.min_drift_interval);
    decision::status::drift_interval(annotation, default, floor).unwrap_or_else(|message| {
        warn!(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), "{message}");
        default
    })
}

/// The settings the decision's timing reads (polling, expected durations, overdue factor), with
/// the model's own `drift_interval`.
pub(crate) fn timing(ctx: &Context, drift_interval: Duration) -> Timing {
    Timing {
        drift_interval,
        max_poll_interval: ctx.settings.max_poll_interval,
        expected_training: ctx.settings.expected_training,
        fixed_poll: ctx.settings.fixed_poll,
        expected_analysis: ctx.settings.expected_analysis,
        overdue_factor: ctx.settings.overdue_factor,
        training_per_audio_second: ctx.settings.training_per_audio_second,
    }
}
