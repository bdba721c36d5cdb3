//! Polling: when to look again after a decision (progress-aware waits), when a shared listing
//! wakes a waiting model, and when a check may take the model's data from the record instead of
//! listing it (issue 11: IBM calls per lifecycle).

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::history::Expected;
use super::{Timing, TrackedResource};
use crate::crd::{ModelStatus, ResourceServiceStatus, ResourceStatus};
use crate::{Action, OperationKind, ServiceStatus, WaitReason};

/// What a check knows of a model's custom words before it reads anything, for
/// [`data_from_record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// The recorded count of custom words (`Some(0)` for kinds without words; `None` right
    /// after words were sent or deleted).
    pub recorded: Option<i64>,
    /// Whether the spec asks for custom words.
    pub to_add: bool,
}

/// Whether a check may take the model's data (corpora, grammars, words, audio) from the record
/// instead of listing it. Each data listing is an IBM call per model; the service-wide model
/// listing that tells `status` is shared by every model of the instance. True when the data
/// cannot have changed since the operator last read or wrote it:
///
/// - the model is `steady` (Available on the inputs it was trained with, status current) and the
///   service says `available`;
/// - the service says `training` or `upgrading`: IBM refuses every change to a model while an
///   operation runs (409, watson-api.md §8.2), so the data is what it was when the operation
///   started; the action is a wait whatever the data;
/// - the service says `available` or `failed` while the operator's own training or upgrade is
///   still recorded: the data was locked during it, and the next action records how it ended;
/// - the service says `pending` and the record says the model holds nothing (just created or
///   reset by the operator: no resource recorded, a word count of 0, no operation): an upload
///   the record missed (a crash between the call and the status write) is refused by the
///   service as a duplicate, and the failed action makes the next check read;
/// - the service says `pending` (analysis running, watson-api.md §8.3) while a resource the
///   operator uploaded is still recorded as `being_processed`: the action is a wait until the
///   listing leaves `pending`. A model without any valid data stays `pending` after the
///   analysis, so the data is still read now and then ([`analysis_check_due`]) to find a
///   resource the service refused.
///
/// - the service says `ready` after the analysis of the operator's own uploads, and words
///   remain to be added to a model the record says holds none: the words come next whatever
///   the analysis found (the listing says it ended), and the data is read once, after them,
///   before the training (a language model's lifecycle: 12 calls → 11, issue 11).
///
/// - the model waits for its dependency (an acoustic model's language model is missing or not
///   Available: `waits_for_dependency`), the service says `ready` or `available`, no operation
///   is recorded, and the last listing found every resource the operator uploaded analysed
///   (`ok`/`analyzed`): the action is that wait whatever the data; a new or changed resource in
///   the spec is missing from the record and is uploaded first. A refused resource was named by
///   that listing. An acoustic model waiting for its language model's training: 5 audio
///   listings → 1 (issue 11).
///
/// Everything else (`ready` with nothing left to add, a `failed` model, an adopted or old
/// record) lists the data.
#[allow(clippy::too_many_arguments)]
pub fn data_from_record(
    status: Option<&ServiceStatus>,
    steady: bool,
    st: &ModelStatus,
    resources: &[TrackedResource],
    words: Words,
    waits_for_dependency: bool,
    analysis: Duration,
    now: Timestamp,
) -> bool {
    use ServiceStatus as S;
    let operation_recorded = st.current_operation.is_some();
    let holds_no_word = words.recorded == Some(0);
    let all_analysed = !resources.is_empty()
        && resources.iter().all(|r| {
            r.status.added_at.is_some()
                && r.status
                    .service_status
                    .as_ref()
                    .is_some_and(|s| s.is_valid())
        });
    if waits_for_dependency
        && matches!(status, Some(S::Ready | S::Available))
        && !operation_recorded
        && all_analysed
    {
        return true;
    }
    match status {
        Some(S::Available) if steady || operation_recorded => true,
        Some(S::Training | S::Upgrading) => true,
        Some(S::Failed) => operation_recorded,
        Some(S::Ready) => {
            holds_no_word
                && words.to_add
                && !operation_recorded
                && !resources.is_empty()
                && resources.iter().all(|r| {
                    r.status.added_at.is_some()
                        && matches!(
                            r.status.service_status,
                            Some(
                                ResourceServiceStatus::BeingProcessed
                                    | ResourceServiceStatus::Analyzed
                            )
                        )
                })
        }
        Some(S::Pending) if resources.is_empty() => holds_no_word && !operation_recorded,
        Some(S::Pending) => {
            let newest = resources
                .iter()
                .filter(|r| r.status.service_status == Some(ResourceServiceStatus::BeingProcessed))
                .filter_map(|r| r.status.added_at.as_ref())
                .map(|t| t.0)
                .max();
            newest.is_some_and(|t| !analysis_check_due(t, now, analysis))
        }
        _ => false,
    }
}

/// While an upload made at `uploaded` is analysed, whether a check at `now` reads the data: in the
/// first two seconds after each power of two of seconds from 8 s since the upload (8, 16, 32, …
/// s: about one check in each window at the 2 s polling of an analysis), and at every check once
/// `analysis` (the expected analysis time) has passed. A refused resource in a model that stays
/// `pending` is thus found within about twice the time its analysis took, at least 8 s. No read
/// before 8 s: a corpus analysis takes seconds (5 s in the simulator), and the listing says when
/// it ends; reads at 2 and 4 s cost 1,800 of the 6,300 calls of 1,000 new models (benchmark
/// scenario 6, 2026-11-30).
pub fn analysis_check_due(uploaded: Timestamp, now: Timestamp, analysis: Duration) -> bool {
    let elapsed = (now.as_second() - uploaded.as_second()).max(0) as u64;
    if elapsed >= analysis.as_secs() {
        return true;
    }
    if elapsed < 8 {
        return false;
    }
    let power = 1u64 << (63 - elapsed.leading_zeros());
    elapsed - power < 2
}

/// When to look again after a decision; `None`: only when the object changes. `expected` gives
/// the expected length of the running operation
/// ([`expectations`](super::expectations)).
pub fn look_again(
    action: &Action,
    st: &ModelStatus,
    timing: &Timing,
    expected: &Expected,
    now: Timestamp,
) -> Option<Duration> {
    let adaptive = match action {
        // The new model's step, timed like the same step of any model, on its own operation.
        Action::Successor(inner) => {
            let own = ModelStatus {
                current_operation: st
                    .successor
                    .as_ref()
                    .and_then(|s| s.current_operation.clone()),
                ..Default::default()
            };
            return look_again(inner, &own, timing, expected, now);
        }
        Action::Suspended | Action::AwaitSpecChange | Action::ReleaseFinalizer => return None,
        Action::UpToDate => timing.drift_interval,
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading,
        } => {
            let (elapsed, kind) = st
                .current_operation
                .as_ref()
                .map(|o| {
                    let secs = (now.as_second() - o.started_at.0.as_second()).max(0) as u64;
                    (Duration::from_secs(secs), OperationKind::of_record(&o.kind))
                })
                .unwrap_or((Duration::ZERO, OperationKind::Train));
            poll_after(elapsed, expected.of_kind(kind), timing.max_poll_interval)
        }
        Action::Wait {
            reason: WaitReason::Processing,
        } => Duration::from_secs(2),
        // Woken by watches (language model, annotations, spec); a slow check covers the rest.
        Action::Wait { .. } | Action::AdoptedModelMissing | Action::Observe(_) => {
            timing.drift_interval
        }
        // The first look after the call: IBM checks the data at the call (a 400 for invalid
        // data, watson-api.md §8.3), so nothing is learnt from a look before the operation can
        // have ended.
        Action::Train { .. } => poll_after(
            Duration::ZERO,
            expected.of_kind(OperationKind::Train),
            timing.max_poll_interval,
        ),
        Action::Upgrade { .. } => poll_after(
            Duration::ZERO,
            expected.of_kind(OperationKind::Upgrade),
            timing.max_poll_interval,
        ),
        // A corpus, grammar or audio analysis takes seconds at least (watson-api.md §8.1): a
        // look sooner than the analysis poll finds it running.
        Action::AddResource { .. } => Duration::from_secs(2),
        _ => Duration::from_millis(200),
    };
    // The baseline the benchmarks compare against: a fixed interval for every wait on the
    // service, as IBM's documentation and samples poll.
    let on_service = matches!(
        action,
        Action::Wait {
            reason: WaitReason::Training | WaitReason::Upgrading | WaitReason::Processing,
        } | Action::Train { .. }
            | Action::Upgrade { .. }
    );
    Some(match timing.fixed_poll {
        Some(fixed) if on_service => fixed,
        _ => adaptive,
    })
}

/// When to look again while waiting: progress-aware polling. `elapsed` is the time since the
/// operation started; `expected` its typical duration (from the model's own history when known).
///
/// Each wait covers 90 % of the time left, so the checks close in on the expected end in a
/// handful of steps (a 30-minute training costs five reads without a cap, where fixed 10-second
/// polling costs 180). No quick check right after the call: IBM refuses invalid data at the call itself, and
/// a look within seconds finds the operation running (issue 11: one IBM call per lifecycle).
///
/// Past half the expected time, a wait is also at most a fifteenth of the elapsed time. Without
/// history `expected` is a guess (the default is twice the simulator's and IBM's typical
/// few-minute training), and an operation may end anywhere in its second half: a look that the
/// cap placed just before such an end would otherwise wait 90 % of the guessed remainder (the
/// 32 s overhead of issue 11's benchmark, for a 30 s training). So an operation is seen within
/// about 7 % of its length (a 30 s training at most 2 s late, the floor), for a few more reads
/// in the second half (11 for a 30-minute training as expected with a 600 s cap, 16 with the
/// default `--max-poll-seconds 300`, where a tenth made 9: issue 11's
/// benchmark saw half its 20 language models 3 s late with a tenth).
///
/// Once overdue, the operator checks every 1/30 of the elapsed time, which keeps the detection
/// delay within about 3 % of the operation's length. Always at least `2 s`, at most `cap`.
pub fn poll_after(elapsed: Duration, expected: Duration, cap: Duration) -> Duration {
    let floor = Duration::from_secs(2);
    let remaining = expected.saturating_sub(elapsed);
    let next = if remaining.is_zero() {
        elapsed / 30
    } else if elapsed >= expected / 2 {
        remaining.mul_f64(0.9).min(elapsed / 15)
    } else {
        remaining.mul_f64(0.9)
    };
    next.clamp(floor, cap.max(floor))
}

/// Whether, after `action`, the model waits for an operation on the service whose end shows in
/// the service's model listing (status `pending` while data is analysed or the model reset,
/// `training`, `upgrading`; watson-api.md §8). Such a model is woken by any shared LIST that
/// shows its status moved on ([`listing_wakes`]), not only by its own next look: with many
/// models in flight, the LISTs other models make see its end first, at no extra call.
pub fn awaits_listing(action: &Action) -> bool {
    matches!(
        action,
        Action::Train { .. }
            | Action::Upgrade { .. }
            | Action::Reset
            | Action::AddResource { .. }
            | Action::Wait {
                reason: WaitReason::Training | WaitReason::Upgrading | WaitReason::Processing,
            }
    )
}

/// Whether a LIST that shows a waiting model's status as `now` (`None`: the model is not
/// listed) ends its wait, when the previous LIST (or the model's own look) showed `last`.
///
/// A change to a status of work in progress (`pending`, `training`, `upgrading`) is the
/// operation starting, seen late (the listing lags the call, watson-api.md §13): not an end.
/// Any other change (`ready`, `available`, `failed`, or the model gone) is one.
pub fn listing_wakes(last: Option<&ServiceStatus>, now: Option<&ServiceStatus>) -> bool {
    match now {
        None => true,
        Some(now) => {
            last != Some(now)
                && !matches!(
                    now,
                    ServiceStatus::Pending | ServiceStatus::Training | ServiceStatus::Upgrading
                )
        }
    }
}

/// Whether the service shows that a model changed without the operator (issue 25), from the
/// shared listing alone (no call of the model's own). Only for a `steady` model (Available on
/// the inputs it was trained with: the operator has nothing in flight on it, so nothing it did
/// can explain a change):
///
/// - the listing's `status` moved away from `available` (`pending`, `ready` or `failed`: IBM
///   marks a trained model `ready` again when its data changes, watson-api.md §8.2);
/// - the listing's last-change time (`updated`; TTS `last_modified`) differs from the one the
///   operator recorded at its last check (`recorded`; `None` in a status written before this
///   field existed: no evidence, the time is recorded by this check).
///
/// On evidence the check reads all the model's data (corpora, grammars, words, audio) instead of
/// taking it from the record, so the spec is restored and never reported as current while the
/// service lacks part of it. Without evidence a steady check makes no call of its own.
pub fn changed_elsewhere(
    steady: bool,
    status: Option<&ServiceStatus>,
    recorded: Option<&str>,
    listed: Option<&str>,
) -> bool {
    use ServiceStatus as S;
    if !steady {
        return false;
    }
    let moved = matches!(status, Some(S::Pending | S::Ready | S::Failed));
    let touched = matches!((recorded, listed), (Some(r), Some(l)) if r != l);
    moved || touched
}

/// Whether a resource the record shows analysed was replaced elsewhere, from the listing made on
/// evidence of a change ([`changed_elsewhere`]): the service analyses it again
/// (`being_processed` where the record says valid), or the listing's counts (words of a corpus,
/// out-of-vocabulary words of a grammar, seconds of audio) differ from the recorded ones, both
/// analysed. The operator then no longer knows what the service holds under that name and
/// uploads the spec's content again (with `allow_overwrite`).
pub fn replaced_elsewhere(recorded: &ResourceStatus, listed: &ResourceStatus) -> bool {
    let valid = |r: &ResourceStatus| r.service_status.as_ref().is_some_and(|s| s.is_valid());
    if !valid(recorded) {
        return false;
    }
    if listed.service_status == Some(ResourceServiceStatus::BeingProcessed) {
        return true;
    }
    let differs = |a: Option<i64>, b: Option<i64>| matches!((a, b), (Some(a), Some(b)) if a != b);
    valid(listed)
        && (differs(recorded.total_words, listed.total_words)
            || differs(
                recorded.out_of_vocabulary_words,
                listed.out_of_vocabulary_words,
            )
            || differs(recorded.duration_seconds, listed.duration_seconds))
}

/// The drift interval of one resource: the annotation `speech.watson.dev/drift-interval` (a
/// duration: a sequence of numbers with the units `h`, `m` or `s`, e.g. `90s`, `10m`, `1h30m`)
/// when set and valid, never shorter than `floor` (the operator's minimum); else `default` (the
/// operator's interval). `Err` names what is wrong with a value that is not a duration (the
/// default then applies).
pub fn drift_interval(
    annotation: Option<&str>,
    default: Duration,
    floor: Duration,
) -> Result<Duration, String> {
    let Some(text) = annotation.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    parse_duration(text)
        .map(|d| d.max(floor))
        .ok_or_else(|| {
            format!(
                "annotation speech.watson.dev/drift-interval: {text:?} is not a duration such as 90s, 10m or 1h30m; the operator's interval applies"
            )
        })
}

/// `1h30m`, `90s`, `10m`: numbers with the units `h`, `m`, `s`; at least one, each unit at most
/// once, in that order. `None` for anything else (and for zero).
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = 0u8;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (rank, seconds) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return None,
        };
        if number.is_empty() || rank <= last_unit {
            return None;
        }
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(seconds)?)?;
        number.clear();
        last_unit = rank;
    }
    (number.is_empty() && last_unit > 0 && total > 0).then(|| Duration::from_secs(total))
}

#[cfg(test)]
mod drift_tests {
    use super::*;

    /// Issue 25: the listing alone says when a steady model changed elsewhere.
    #[test]
    fn changed_elsewhere_table() {
        use ServiceStatus as S;
        let t = "2026-12-07T10:00:00.000Z";
        let later = "2026-12-07T11:00:00.000Z";
        type Case<'a> = (
            &'a str,
            bool,
            Option<S>,
            Option<&'a str>,
            Option<&'a str>,
            bool,
        );
        let cases: [Case; 9] = [
            (
                "steady, unchanged",
                true,
                Some(S::Available),
                Some(t),
                Some(t),
                false,
            ),
            (
                "status moved to ready",
                true,
                Some(S::Ready),
                Some(t),
                Some(t),
                true,
            ),
            (
                "status moved to pending",
                true,
                Some(S::Pending),
                Some(t),
                Some(t),
                true,
            ),
            (
                "status failed",
                true,
                Some(S::Failed),
                Some(t),
                Some(t),
                true,
            ),
            (
                "updated moved",
                true,
                Some(S::Available),
                Some(t),
                Some(later),
                true,
            ),
            (
                "voice: updated moved",
                true,
                None,
                Some(t),
                Some(later),
                true,
            ),
            (
                "nothing recorded yet",
                true,
                Some(S::Available),
                None,
                Some(later),
                false,
            ),
            (
                "not steady: the operator's own work",
                false,
                Some(S::Ready),
                Some(t),
                Some(later),
                false,
            ),
            (
                "training elsewhere locks the data",
                true,
                Some(S::Training),
                Some(t),
                Some(t),
                false,
            ),
        ];
        for (what, steady, status, recorded, listed, want) in cases {
            assert_eq!(
                changed_elsewhere(steady, status.as_ref(), recorded, listed),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn a_replaced_resource_is_seen_by_its_counts_or_a_new_analysis() {
        use ResourceServiceStatus as R;
        let res = |status: R, words: i64, seconds: Option<i64>| ResourceStatus {
            name: "c".into(),
            service_status: Some(status),
            total_words: Some(words),
            duration_seconds: seconds,
            ..Default::default()
        };
        let recorded = res(R::Analyzed, 10, None);
        assert!(!replaced_elsewhere(&recorded, &res(R::Analyzed, 10, None)));
        assert!(replaced_elsewhere(&recorded, &res(R::Analyzed, 11, None)));
        assert!(replaced_elsewhere(
            &recorded,
            &res(R::BeingProcessed, 0, None)
        ));
        let audio = res(R::Ok, 0, Some(60));
        assert!(replaced_elsewhere(&audio, &res(R::Ok, 0, Some(30))));
        // The operator's own upload, recorded while analysed: no verdict.
        let own = res(R::BeingProcessed, 0, None);
        assert!(!replaced_elsewhere(&own, &res(R::Analyzed, 10, None)));
    }

    #[test]
    fn a_drift_interval_annotation_is_a_duration_within_the_floor() {
        let (default, floor) = (Duration::from_secs(600), Duration::from_secs(30));
        let d = |a: Option<&str>| drift_interval(a, default, floor);
        assert_eq!(d(None), Ok(default));
        assert_eq!(d(Some("")), Ok(default));
        assert_eq!(d(Some("90s")), Ok(Duration::from_secs(90)));
        assert_eq!(d(Some("1h30m")), Ok(Duration::from_secs(5400)));
        assert_eq!(d(Some("2m10s")), Ok(Duration::from_secs(130)));
        assert_eq!(d(Some("5s")), Ok(floor), "floored");
        for bad in ["10", "m", "1m1h", "1.5h", "-3m", "0s", "1d", "1m1m"] {
            let err = d(Some(bad)).expect_err(bad);
            assert!(err.contains("speech.watson.dev/drift-interval"), "{err}");
        }
    }
}
