//! Models vanishing in bulk (issue 25, point 4): when more than a set fraction of the models one
//! listing of a service showed are missing from the next one, re-creation stops for that service
//! until a listing is whole again. During an IBM incident an empty or partial listing (and
//! lookups by ID that answer "not found") would otherwise make the operator re-create every model
//! and orphan the originals, each counting against the instance's 1,024-model limit. Pure: the
//! shell compares its listings with [`after_listing`] and blocks re-creation while the result is
//! [`Guard::Halted`].

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;

use crate::crd::SpeechServiceStatus;
use crate::status::{EventNote, condition, set_condition};

/// The SpeechService condition type: True while re-creation is halted for one of its kinds.
pub const CONDITION: &str = "ModelsVanished";

/// The rule: a listing halts re-creation when at least `min_models` of the models the earlier
/// listing showed are missing from it *and* they are more than `max_fraction` of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// The fraction (0 to 1) of a service's models that may vanish at once before re-creation
    /// stops; 1 never stops it. The operator's `--max-vanished-fraction` (default 0.5).
    pub max_fraction: f64,
    /// Fewer vanished models than this never stop re-creation (one model deleted out of band
    /// on a service of two is re-created as before).
    pub min_models: usize,
}

/// The default rule: more than half of the models, and at least [`MIN_VANISHED_MODELS`].
pub const DEFAULT_RULE: Rule = Rule {
    max_fraction: 0.5,
    min_models: MIN_VANISHED_MODELS,
};

/// The fewest vanished models that stop re-creation.
pub const MIN_VANISHED_MODELS: usize = 3;

impl Rule {
    /// Whether `vanished` models missing out of `known` break the rule.
    pub fn breaks(&self, known: usize, vanished: usize) -> bool {
        vanished >= self.min_models.max(1) && (vanished as f64) > self.max_fraction * known as f64
    }
}

/// Re-creation for one model kind of one service.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Guard {
    /// Re-creation of a model confirmed gone goes ahead.
    #[default]
    Open,
    /// Too many models vanished at once: nothing is re-created until a listing shows enough of
    /// `baseline` (the models the listing before the vanishing showed) again.
    Halted {
        /// The customization IDs the last whole listing showed (less those the operator
        /// deleted since).
        baseline: BTreeSet<String>,
        /// How many of them the latest listing lacks.
        missing: usize,
    },
}

/// The guard after a new listing `listed`, given the guard before and the IDs the previous
/// listing showed (`None`: no earlier listing to compare with, e.g. right after a start).
pub fn after_listing(
    guard: &Guard,
    previous: Option<&BTreeSet<String>>,
    listed: &BTreeSet<String>,
    rule: Rule,
) -> Guard {
    let baseline = match guard {
        Guard::Halted { baseline, .. } => baseline,
        Guard::Open => match previous {
            Some(previous) => previous,
            None => return Guard::Open,
        },
    };
    let missing = baseline.difference(listed).count();
    if rule.breaks(baseline.len(), missing) {
        Guard::Halted {
            baseline: baseline.clone(),
            missing,
        }
    } else {
        Guard::Open
    }
}

/// The text of the condition, Event and model `nextAction` while halted: how many models of
/// `kind_plural` (e.g. "language models") vanished and what happens next.
pub fn message(kind_plural: &str, missing: usize, known: usize, rule: Rule) -> String {
    format!(
        "{missing} of the {known} {kind_plural} the service listed before are missing from its latest listing (more than {}%): nothing is re-created until the service lists them again (an IBM incident); if they were deleted on purpose, delete their resources or restart the operator",
        (rule.max_fraction * 100.0).round()
    )
}

/// The SpeechService status with its [`CONDITION`] after a check (`halted`: the message of each
/// halted kind, empty when re-creation goes ahead), and the Event of a change: a Warning when
/// re-creation stops, a Normal one when it resumes. A service that never halted gets no
/// condition.
pub fn service_condition(
    prev: &SpeechServiceStatus,
    mut st: SpeechServiceStatus,
    halted: &[String],
    generation: Option<i64>,
    now: Timestamp,
) -> (SpeechServiceStatus, Option<EventNote>) {
    let was = condition(&prev.conditions, CONDITION).is_some_and(|c| c.status == "True");
    if halted.is_empty() {
        if condition(&st.conditions, CONDITION).is_none() {
            return (st, None);
        }
        let message = "the service lists its models again: models confirmed gone are re-created";
        set_condition(
            &mut st.conditions,
            CONDITION,
            false,
            "ListingComplete",
            message,
            generation,
            now,
        );
        let event = was.then(|| EventNote {
            warning: false,
            reason: "ListingComplete".into(),
            message: message.into(),
        });
        return (st, event);
    }
    let message = halted.join("; ");
    set_condition(
        &mut st.conditions,
        CONDITION,
        true,
        CONDITION,
        message.clone(),
        generation,
        now,
    );
    let event = (!was).then(|| EventNote {
        warning: true,
        reason: CONDITION.into(),
        message,
    });
    (st, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case: its name, the guard before, the previous listing, the new listing, the guard
    /// after.
    type Case = (
        &'static str,
        Guard,
        Option<BTreeSet<String>>,
        BTreeSet<String>,
        Guard,
    );

    fn ids(range: std::ops::Range<u32>) -> BTreeSet<String> {
        range.map(|i| format!("m{i}")).collect()
    }

    /// Each case: the guard before, the previous listing, the new listing → halted (with how
    /// many missing) or open.
    #[test]
    fn re_creation_stops_when_too_many_models_vanish_at_once() {
        let rule = DEFAULT_RULE;
        let halted = |baseline: BTreeSet<String>, missing| Guard::Halted { baseline, missing };
        let cases: Vec<Case> = vec![
            (
                "first listing after a start",
                Guard::Open,
                None,
                ids(0..0),
                Guard::Open,
            ),
            (
                "nothing vanished",
                Guard::Open,
                Some(ids(0..10)),
                ids(0..10),
                Guard::Open,
            ),
            (
                "one deleted out of band",
                Guard::Open,
                Some(ids(0..10)),
                ids(1..10),
                Guard::Open,
            ),
            (
                "one of one deleted",
                Guard::Open,
                Some(ids(0..1)),
                ids(0..0),
                Guard::Open,
            ),
            (
                "two of two: below the minimum",
                Guard::Open,
                Some(ids(0..2)),
                ids(0..0),
                Guard::Open,
            ),
            (
                "empty listing",
                Guard::Open,
                Some(ids(0..10)),
                ids(0..0),
                halted(ids(0..10), 10),
            ),
            (
                "three of four",
                Guard::Open,
                Some(ids(0..4)),
                ids(3..4),
                halted(ids(0..4), 3),
            ),
            (
                "exactly half is not more than half",
                Guard::Open,
                Some(ids(0..10)),
                ids(5..10),
                Guard::Open,
            ),
            (
                "six of ten",
                Guard::Open,
                Some(ids(0..10)),
                ids(6..10),
                halted(ids(0..10), 6),
            ),
            (
                "new models do not hide vanished ones",
                Guard::Open,
                Some(ids(0..10)),
                ids(6..30),
                halted(ids(0..10), 6),
            ),
            (
                "still empty: stays halted on the old baseline",
                halted(ids(0..10), 10),
                Some(ids(0..0)),
                ids(0..0),
                halted(ids(0..10), 10),
            ),
            (
                "partly back, still too few",
                halted(ids(0..10), 10),
                Some(ids(0..0)),
                ids(0..3),
                halted(ids(0..10), 7),
            ),
            (
                "whole again",
                halted(ids(0..10), 10),
                Some(ids(0..0)),
                ids(0..10),
                Guard::Open,
            ),
            (
                "mostly back: the rest is re-created",
                halted(ids(0..10), 10),
                Some(ids(0..0)),
                ids(0..9),
                Guard::Open,
            ),
        ];
        for (name, before, previous, listed, want) in cases {
            assert_eq!(
                after_listing(&before, previous.as_ref(), &listed, rule),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn a_fraction_of_one_never_halts() {
        let rule = Rule {
            max_fraction: 1.0,
            min_models: MIN_VANISHED_MODELS,
        };
        assert_eq!(
            after_listing(&Guard::Open, Some(&ids(0..10)), &ids(0..0), rule),
            Guard::Open
        );
        assert!(!rule.breaks(10, 10));
        assert!(DEFAULT_RULE.breaks(10, 6));
    }

    /// The SpeechService condition: absent until a halt, True with one Warning while halted,
    /// False with one Normal Event when re-creation resumes.
    #[test]
    fn the_service_says_when_re_creation_stops_and_resumes() {
        let now = Timestamp::UNIX_EPOCH;
        let open = SpeechServiceStatus::default();
        let (st, event) = service_condition(&open, open.clone(), &[], Some(1), now);
        assert!(condition(&st.conditions, CONDITION).is_none());
        assert!(event.is_none());
        let halted = vec![message("custom language models", 4, 4, DEFAULT_RULE)];
        let (st1, event) = service_condition(&open, open.clone(), &halted, Some(1), now);
        let c = condition(&st1.conditions, CONDITION).expect("condition");
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", CONDITION));
        let event = event.expect("warning");
        assert!(event.warning);
        assert!(event.message.contains("4 of the 4"), "{}", event.message);
        let (st2, again) = service_condition(&st1, st1.clone(), &halted, Some(1), now);
        assert!(again.is_none(), "one Warning per halt");
        let (st3, resumed) = service_condition(&st2, st2.clone(), &[], Some(1), now);
        let c = condition(&st3.conditions, CONDITION).expect("condition");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "ListingComplete")
        );
        assert!(!resumed.expect("normal event").warning);
    }

    #[test]
    fn the_message_says_how_many_and_what_to_do() {
        let m = message("language models", 10, 10, DEFAULT_RULE);
        assert!(m.starts_with("10 of the 10 language models"), "{m}");
        assert!(m.contains("more than 50%"), "{m}");
        assert!(m.contains("delete their resources"), "{m}");
    }
}
