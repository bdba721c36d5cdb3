//! The operator's Prometheus metrics (prometheus-client), served at `/metrics` by
//! [`crate::telemetry`].
//!
//! Contract:
//! - Every label value comes from a closed set: kind names, phase names, result names, error
//!   categories ([`crate::errors::Classified::category`]), IBM operation names
//!   ([`crate::watson::Operation::as_str`]) and HTTP status codes. No object names, namespaces or
//!   customization IDs ever become labels, so the series count stays bounded however many models
//!   exist. One exception: `wso_model_wer` is per model (namespace and name), for the language
//!   models that opt in with `spec.evaluation` only.
//! - Reconcile outcomes and IBM calls are recorded where they happen ([`Metrics::reconciled`],
//!   the [`CallObserver`] implementation). Everything readable from a model's status (phase
//!   counts, training and upgrade durations, time from creation to Ready) is derived by
//!   [`StatusSampler`] from each status a reconcile reads or writes
//!   ([`Metrics::model_status`]); a restarted or newly elected operator does not count old
//!   operations twice, and no cache of whole objects is needed (the controllers cache
//!   metadata only, issue 11).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::crd::{ModelStatus, OperationOutcome, OperationType, Phase};
use crate::model::ModelResource;
use crate::watson::{CallObserver, Operation};

/// Every phase a model can report, for zero-filled phase gauges.
pub const PHASES: &[&str] = Phase::KNOWN;

/// The phase label of a model whose status holds a phase this operator does not know (written by
/// a newer operator): labels stay a closed set.
pub const PHASE_UNKNOWN: &str = "Unknown";

/// The `phase` label for a phase: its name when known, else [`PHASE_UNKNOWN`].
pub fn phase_label(phase: &Phase) -> &'static str {
    PHASES
        .iter()
        .copied()
        .find(|known| *known == phase.as_str())
        .unwrap_or(PHASE_UNKNOWN)
}

/// The kinds counted by `wso_models`.
pub const MODEL_KINDS: [&str; 3] = [
    "CustomLanguageModel",
    "CustomAcousticModel",
    "CustomVoiceModel",
];

/// The `kind` label for a Kubernetes kind: one of the four kinds, else `Other` (labels stay
/// bounded whatever a caller passes).
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "SpeechService" => "SpeechService",
        "CustomLanguageModel" => "CustomLanguageModel",
        "CustomAcousticModel" => "CustomAcousticModel",
        "CustomVoiceModel" => "CustomVoiceModel",
        _ => "Other",
    }
}

/// The phase label of a model that has no status yet.
pub const PHASE_PENDING: &str = "Pending";

/// The `result` label values of [`Metrics::reconciled`].
pub mod result {
    /// The reconcile completed (including "nothing to do").
    pub const SUCCESS: &str = "success";
    /// The service was busy (409): a wait, not a failure.
    pub const BUSY: &str = "busy";
    /// The reconcile failed; `category` says why.
    pub const ERROR: &str = "error";
    /// Over its SpeechService's cap of reconciles in flight: requeued shortly, no call made.
    pub const DEFERRED: &str = "deferred";
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: &'static str,
    result: &'static str,
    category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// One thing counted by a gauge family moved from the series `from` to `to` (`None`: it was not
/// counted there).
fn moved<L>(family: &Family<L, Gauge>, from: Option<L>, to: Option<L>)
where
    L: Clone + std::hash::Hash + Eq,
{
    if let Some(l) = from {
        family.get_or_create(&l).dec();
    }
    if let Some(l) = to {
        family.get_or_create(&l).inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    kind: &'static str,
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LifecycleLabels {
    kind: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelOperationLabels {
    kind: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn reconcile_buckets() -> Histogram {
    // 5 ms .. ~40 s: a reconcile is a few API calls, an upload can take longer.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

fn request_buckets() -> Histogram {
    // 5 ms .. ~80 s (uploads of large audio archives).
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Labels of `wso_model_wer`: the model's namespace and name. The one exception to the
/// bounded-labels contract: a series exists only for a language model with `spec.evaluation`
/// (opt-in, a handful per cluster) and goes when the model or its evaluation goes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WerLabels {
    namespace: String,
    name: String,
}

fn long_buckets() -> Histogram {
    // 1 s .. ~9 h: trainings and upgrades take minutes to hours.
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

/// The operator's metrics. Cheap to share (`Arc<Metrics>`); every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: HistogramFamily<KindLabels>,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<OperationLabels>,
    models: Family<PhaseLabels, Gauge>,
    base_models: Family<LifecycleLabels, Gauge>,
    operation_duration: HistogramFamily<ModelOperationLabels>,
    time_to_ready: HistogramFamily<KindLabels>,
    leader: Gauge,
    leader_transitions: Counter,
    /// `wso_model_wer`: one series per language model with `spec.evaluation` (the one family
    /// labelled by object, see the module contract).
    wer: Family<WerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    crd_schema: Family<KindLabels, Gauge>,
    /// Where the status-derived families come from (see [`StatusSampler`]).
    status: StatusSampler,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Builds and registers every family (names prefixed `wso_`).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wso");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by kind, result (success, busy, error) and error category",
            reconciles.clone(),
        );
        let reconcile_duration: HistogramFamily<KindLabels> =
            Family::new_with_constructor(reconcile_buckets);
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile by kind",
            reconcile_duration.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "ibm_requests",
            "IBM API requests (every attempt, retries included) by operation and HTTP status code (\"none\" when no response arrived)",
            requests.clone(),
        );
        let request_duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(request_buckets);
        registry.register(
            "ibm_request_duration_seconds",
            "Latency of IBM API requests by operation",
            request_duration.clone(),
        );
        let models = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "models",
            "Custom models by kind and phase, as the operator last read or wrote their status",
            models.clone(),
        );
        let base_models = Family::<LifecycleLabels, Gauge>::default();
        registry.register(
            "models_by_base_model",
            "STT custom models by kind and the lifecycle state of their base model (Current, NewerFamilyRecommended, Withdrawn): the models that need a migration",
            base_models.clone(),
        );
        let operation_duration: HistogramFamily<ModelOperationLabels> =
            Family::new_with_constructor(long_buckets);
        registry.register(
            "model_operation_duration_seconds",
            "Duration of finished trainings and upgrades by kind, operation (Train, Upgrade) and outcome",
            operation_duration.clone(),
        );
        let time_to_ready: HistogramFamily<KindLabels> = Family::new_with_constructor(long_buckets);
        registry.register(
            "time_to_ready_seconds",
            "Time from a model's creation to its first Ready=True, by kind",
            time_to_ready.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this instance holds the leader lease (or runs without leader election)",
            leader.clone(),
        );
        let crd_schema = Family::<KindLabels, Gauge>::default();
        registry.register(
            "crd_schema_current",
            "1 when the served CRD of a kind carries the schema this operator was built for, 0 when not (the kind is not reconciled; issue 25)",
            crd_schema.clone(),
        );
        let leader_transitions = Counter::default();
        registry.register(
            "leader_acquisitions",
            "Times this instance became the leader",
            leader_transitions.clone(),
        );
        let wer = Family::<WerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "model_wer",
            "Word error rate (0 to 1, above 1 when the transcripts insert words) of a language model as it is now on its spec.evaluation test set, by namespace and name",
            wer.clone(),
        );
        registry.register(
            "build",
            "Build information",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let metrics = Metrics {
            registry,
            reconciles,
            reconcile_duration,
            requests,
            request_duration,
            models,
            base_models,
            operation_duration,
            time_to_ready,
            leader,
            leader_transitions,
            wer,
            crd_schema,
            status: StatusSampler::default(),
        };
        // Zero-filled from the start, so dashboards and alerts see the family before any model.
        for kind in MODEL_KINDS {
            for phase in PHASES.iter().copied().chain([PHASE_PENDING, PHASE_UNKNOWN]) {
                metrics
                    .models
                    .get_or_create(&PhaseLabels { kind, phase })
                    .set(0);
            }
        }
        for kind in ["CustomLanguageModel", "CustomAcousticModel"] {
            for state in crate::decision::capability::LIFECYCLE_STATES {
                metrics
                    .base_models
                    .get_or_create(&LifecycleLabels {
                        kind,
                        state: state.as_str(),
                    })
                    .set(0);
            }
        }
        metrics
    }

    /// Records one reconcile. `kind` is the Kubernetes kind (see [`kind_label`]), `result` one
    /// of [`result`], and `category` the error's [`crate::errors::Classified::category`] (empty
    /// on success).
    pub fn reconciled(
        &self,
        kind: &str,
        result: &'static str,
        category: &'static str,
        duration: Duration,
    ) {
        let kind = kind_label(kind);
        self.reconciles
            .get_or_create(&ReconcileLabels {
                kind,
                result,
                category,
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&KindLabels { kind })
            .observe(duration.as_secs_f64());
    }

    /// A model of `kind` moved from base-model state `from` to `to` (`None`: it was not
    /// counted, or is gone).
    fn base_model_moved(
        &self,
        kind: &'static str,
        from: Option<&'static str>,
        to: Option<&'static str>,
    ) {
        let labels = |state| LifecycleLabels { kind, state };
        moved(&self.base_models, from.map(labels), to.map(labels));
    }

    /// A model of `kind` moved from phase label `from` to `to` (`None`: it was not counted, or
    /// is gone).
    fn model_moved(
        &self,
        kind: &'static str,
        from: Option<&'static str>,
        to: Option<&'static str>,
    ) {
        let labels = |phase| PhaseLabels { kind, phase };
        moved(&self.models, from.map(labels), to.map(labels));
    }

    /// A model's status as a reconcile read it from the API server or wrote it (`key`:
    /// `Kind/namespace/name`; `kind` one of [`MODEL_KINDS`]): updates `wso_models` and, for
    /// changes seen since this process first saw the model, the operation durations and the
    /// time to Ready ([`StatusSampler`]).
    pub fn model_status(&self, kind: &str, key: &str, snapshot: &ModelSnapshot) {
        self.status.observe(self, kind_label(kind), key, snapshot);
    }

    /// The model `key` is gone: it leaves `wso_models` (and `wso_model_wer`).
    pub fn model_gone(&self, key: &str) {
        self.status.forget(self, key);
        if let Some(("CustomLanguageModel", rest)) = key.split_once('/')
            && let Some((namespace, name)) = rest.split_once('/')
        {
            self.model_wer(namespace, name, None);
        }
    }

    /// Sets `wso_model_wer` of the language model `namespace/name` (`None`: removes the series).
    pub fn model_wer(&self, namespace: &str, name: &str, wer: Option<f64>) {
        let labels = WerLabels {
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        match wer {
            Some(v) => {
                self.wer.get_or_create(&labels).set(v);
            }
            None => {
                self.wer.remove(&labels);
            }
        }
    }

    /// Models whose status is counted now (for tests and diagnostics).
    pub fn models_counted(&self) -> usize {
        self.status.len()
    }

    /// Records a finished training or upgrade (`operation` is `Train` or `Upgrade`; `outcome`
    /// `Succeeded` or `Failed`).
    pub fn operation_finished(
        &self,
        kind: &'static str,
        operation: &'static str,
        outcome: &'static str,
        secs: f64,
    ) {
        self.operation_duration
            .get_or_create(&ModelOperationLabels {
                kind,
                operation,
                outcome,
            })
            .observe(secs);
    }

    /// Records the time from a model's creation to its first Ready=True.
    pub fn time_to_ready(&self, kind: &'static str, secs: f64) {
        self.time_to_ready
            .get_or_create(&KindLabels { kind })
            .observe(secs);
    }

    /// Sets the leader gauge; counts an acquisition on a false → true change.
    /// Whether the served CRD of `kind` carries this operator's schema (`wso_crd_schema_current`).
    pub fn crd_schema_current(&self, kind: &'static str, current: bool) {
        self.crd_schema
            .get_or_create(&KindLabels { kind })
            .set(i64::from(current));
    }

    /// 1 while this instance holds the leader lease.
    pub fn set_leader(&self, leader: bool) {
        let before = self.leader.set(i64::from(leader));
        if leader && before == 0 {
            self.leader_transitions.inc();
        }
    }

    /// The exposition in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl CallObserver for Metrics {
    fn observe(&self, op: Operation, status: Option<u16>, latency: Duration) {
        let code = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                operation: op.as_str(),
                code,
            })
            .inc();
        self.request_duration
            .get_or_create(&OperationLabels {
                operation: op.as_str(),
            })
            .observe(latency.as_secs_f64());
    }
}

/// What [`StatusSampler`] needs from one model's status, as a reconcile read or wrote it.
#[derive(Clone, Debug, Default)]
pub struct ModelSnapshot {
    /// The object's UID: another object of the same name is another model.
    pub uid: String,
    pub phase: Option<Phase>,
    pub created: Option<DateTime<Utc>>,
    /// When Ready became True, if it is True now.
    pub ready_since: Option<DateTime<Utc>>,
    /// Finished trainings and upgrades: (started at, operation, outcome, seconds).
    pub finished: Vec<(DateTime<Utc>, &'static str, &'static str, f64)>,
    /// The lifecycle state of the base model (the `BaseModelCurrent` condition's reason); `None`
    /// for voice models and before the condition is written.
    pub base_model: Option<&'static str>,
}

impl ModelSnapshot {
    /// Reads the snapshot of a model object.
    pub fn of<K: ModelResource>(obj: &K) -> Self {
        let status = obj.model_status();
        ModelSnapshot {
            uid: obj.uid().unwrap_or_default(),
            phase: status.and_then(|s| s.phase.clone()),
            created: obj
                .meta()
                .creation_timestamp
                .as_ref()
                .map(|t| to_chrono(&t.0)),
            ready_since: status.and_then(ready_since),
            finished: status.map(finished_operations).unwrap_or_default(),
            base_model: status.and_then(base_model_state),
        }
    }
}

fn base_model_state(s: &ModelStatus) -> Option<&'static str> {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == "BaseModelCurrent")?;
    crate::decision::capability::LIFECYCLE_STATES
        .iter()
        .map(|l| l.as_str())
        .find(|l| *l == c.reason)
}

fn to_chrono(t: &k8s_openapi::jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

fn ready_since(s: &ModelStatus) -> Option<DateTime<Utc>> {
    s.conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| to_chrono(&c.last_transition_time.0))
}

fn finished_operations(s: &ModelStatus) -> Vec<(DateTime<Utc>, &'static str, &'static str, f64)> {
    s.history
        .iter()
        .filter_map(|op| {
            let operation = match op.kind {
                OperationType::Train => "Train",
                OperationType::Upgrade => "Upgrade",
                OperationType::Unknown(_) => return None,
            };
            let outcome = match op.outcome {
                Some(OperationOutcome::Succeeded) => "Succeeded",
                Some(OperationOutcome::Failed) => "Failed",
                _ => "Unknown",
            };
            let secs = op.duration_seconds.map(|d| d as f64).or_else(|| {
                op.finished_at
                    .as_ref()
                    .map(|f| (to_chrono(&f.0) - to_chrono(&op.started_at.0)).as_seconds_f64())
            })?;
            Some((
                to_chrono(&op.started_at.0),
                operation,
                outcome,
                secs.max(0.0),
            ))
        })
        .collect()
}

/// What the sampler remembers of one model between two looks: a few bytes, as it is kept for
/// every model (issue 11: memory per resource).
struct Seen {
    kind: &'static str,
    /// A hash of the object's UID (8 bytes instead of the 36-character UID).
    uid: u64,
    /// The phase label the model is counted under in `wso_models`.
    phase: &'static str,
    /// The start of the latest finished operation already counted (or part of the baseline).
    /// A model runs one operation at a time, so start times grow: a finished operation that
    /// started later is new.
    counted_through: Option<DateTime<Utc>>,
    /// Time to Ready already recorded, or the model was Ready when first seen.
    ready_done: bool,
    /// The base-model lifecycle state it is counted under in `wso_models_by_base_model`.
    base_model: Option<&'static str>,
}

/// Derives status-based metrics from each model's status as its reconcile reads it from the
/// API server or writes it: phase counts, and, for changes seen while this process runs,
/// finished operations and the time to the first Ready. Whatever a model already showed when
/// first seen is the baseline and is not counted (so a restart or a leader change does not
/// count old trainings again). Fed one model at a time, so no cache of whole objects is needed
/// and nothing scans every model.
#[derive(Default)]
pub struct StatusSampler {
    /// Keyed by object key (`Kind/namespace/name`).
    seen: Mutex<HashMap<String, Seen>>,
}

impl StatusSampler {
    /// One model's status, as a reconcile read or wrote it; `key` names the object.
    pub fn observe(&self, metrics: &Metrics, kind: &'static str, key: &str, m: &ModelSnapshot) {
        let phase = m.phase.as_ref().map_or(PHASE_PENDING, phase_label);
        let latest = m.finished.iter().map(|(s, ..)| *s).max();
        let uid = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            m.uid.hash(&mut h);
            h.finish()
        };
        let first = Seen {
            kind,
            uid,
            phase,
            counted_through: latest,
            ready_done: m.ready_since.is_some(),
            base_model: m.base_model,
        };
        let mut seen = self.seen.lock();
        let s = match seen.get_mut(key) {
            // Another object under the same name (deleted and created again): a new model.
            Some(s) if s.uid != uid => {
                metrics.model_moved(s.kind, Some(s.phase), Some(phase));
                metrics.base_model_moved(s.kind, s.base_model, m.base_model);
                *s = first;
                return;
            }
            Some(s) => s,
            None => {
                metrics.model_moved(kind, None, Some(phase));
                metrics.base_model_moved(kind, None, m.base_model);
                seen.insert(key.to_string(), first);
                return;
            }
        };
        if s.phase != phase {
            metrics.model_moved(kind, Some(s.phase), Some(phase));
            s.phase = phase;
        }
        if s.base_model != m.base_model {
            metrics.base_model_moved(kind, s.base_model, m.base_model);
            s.base_model = m.base_model;
        }
        for (started, op, outcome, secs) in &m.finished {
            if s.counted_through.is_none_or(|c| *started > c) {
                metrics.operation_finished(kind, op, outcome, *secs);
            }
        }
        s.counted_through = s.counted_through.max(latest);
        if !s.ready_done
            && let (Some(ready), Some(created)) = (m.ready_since, m.created)
        {
            s.ready_done = true;
            metrics.time_to_ready(kind, (ready - created).as_seconds_f64().max(0.0));
        }
    }

    /// The object `key` is gone: it no longer counts.
    pub fn forget(&self, metrics: &Metrics, key: &str) {
        if let Some(s) = self.seen.lock().remove(key) {
            metrics.model_moved(s.kind, Some(s.phase), None);
            metrics.base_model_moved(s.kind, s.base_model, None);
        }
    }

    /// Models remembered now (for tests).
    pub fn len(&self) -> usize {
        self.seen.lock().len()
    }

    /// Whether no model is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn labels_are_bounded_and_families_declared() {
        let m = Metrics::new();
        m.reconciled(
            "CustomLanguageModel",
            result::ERROR,
            "ServiceUnavailable",
            Duration::from_millis(20),
        );
        m.observe(
            Operation::TrainLanguageModel,
            Some(200),
            Duration::from_millis(3),
        );
        m.observe(Operation::GetToken, None, Duration::from_millis(3));
        let text = m.encode().expect("encode");
        for family in [
            "wso_reconciles_total",
            "wso_reconcile_duration_seconds",
            "wso_ibm_requests_total",
            "wso_ibm_request_duration_seconds",
            "wso_models",
            "wso_leader",
            "wso_build_info",
        ] {
            assert!(text.contains(family), "{family} missing:\n{text}");
        }
        assert!(
            text.contains(
                r#"wso_ibm_requests_total{operation="train_language_model",code="200"} 1"#
            )
        );
        assert!(text.contains(r#"wso_ibm_requests_total{operation="get_token",code="none"} 1"#));
        assert!(text.contains(
            r#"kind="CustomLanguageModel",result="error",category="ServiceUnavailable""#
        ));
        assert!(text.contains(r#"wso_models{kind="CustomVoiceModel",phase="Available"} 0"#));
        m.reconciled("SomethingElse/x", result::SUCCESS, "", Duration::ZERO);
        assert!(
            m.encode()
                .expect("encode")
                .contains(r#"kind="Other",result="success""#)
        );
    }

    /// Issue 27, point 4: a dashboard sees every model whose base model needs a migration.
    #[test]
    fn models_are_counted_by_the_lifecycle_of_their_base_model() {
        let m = Metrics::new();
        let text = m.encode().expect("encode");
        assert!(
            text.contains(
                r#"wso_models_by_base_model{kind="CustomLanguageModel",state="Withdrawn"} 0"#
            ),
            "{text}"
        );
        let snap = |state: Option<&'static str>| ModelSnapshot {
            uid: "u1".into(),
            base_model: state,
            ..Default::default()
        };
        m.model_status(
            "CustomLanguageModel",
            "CustomLanguageModel/ns/a",
            &snap(Some("Withdrawn")),
        );
        m.model_status(
            "CustomLanguageModel",
            "CustomLanguageModel/ns/b",
            &ModelSnapshot {
                uid: "u2".into(),
                base_model: Some("Withdrawn"),
                ..Default::default()
            },
        );
        let text = m.encode().expect("encode");
        assert!(
            text.contains(
                r#"wso_models_by_base_model{kind="CustomLanguageModel",state="Withdrawn"} 2"#
            ),
            "{text}"
        );
        // Migrated: the model moves to Current; a deleted one no longer counts.
        m.model_status(
            "CustomLanguageModel",
            "CustomLanguageModel/ns/a",
            &snap(Some("Current")),
        );
        m.model_gone("CustomLanguageModel/ns/b");
        let text = m.encode().expect("encode");
        assert!(
            text.contains(
                r#"wso_models_by_base_model{kind="CustomLanguageModel",state="Withdrawn"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"wso_models_by_base_model{kind="CustomLanguageModel",state="Current"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn sampler_counts_only_changes_seen_while_watching() {
        let m = Metrics::new();
        const LM: &str = "CustomLanguageModel";
        let old = ModelSnapshot {
            uid: "a".into(),
            phase: Some(Phase::Available),
            created: Some(ts(0)),
            ready_since: Some(ts(100)),
            finished: vec![(ts(10), "Train", "Succeeded", 90.0)],
            base_model: None,
        };
        let fresh = ModelSnapshot {
            uid: "b".into(),
            phase: Some(Phase::Training),
            created: Some(ts(1000)),
            ..Default::default()
        };
        m.model_status(LM, "a", &old);
        m.model_status(LM, "b", &fresh);
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Available"} 1"#));
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 1"#));
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Failed"} 0"#));
        assert!(
            !text.contains("wso_model_operation_duration_seconds_count"),
            "{text}"
        );

        // The fresh model finishes training and becomes Ready (seen twice: read, then written);
        // the old one is read again unchanged.
        let done = ModelSnapshot {
            phase: Some(Phase::Available),
            ready_since: Some(ts(1030)),
            finished: vec![(ts(1005), "Train", "Succeeded", 25.0)],
            ..fresh
        };
        m.model_status(LM, "a", &old);
        m.model_status(LM, "b", &done);
        m.model_status(LM, "b", &done);
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Available"} 2"#));
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 0"#));
        assert!(text.contains(
            r#"wso_model_operation_duration_seconds_count{kind="CustomLanguageModel",operation="Train",outcome="Succeeded"} 1"#
        ), "{text}");
        assert!(
            text.contains(r#"wso_time_to_ready_seconds_sum{kind="CustomLanguageModel"} 30.0"#),
            "{text}"
        );
        assert!(text.contains(r#"wso_time_to_ready_seconds_count{kind="CustomLanguageModel"} 1"#));

        // The old model is upgraded: only the new operation counts, once.
        let upgraded = ModelSnapshot {
            finished: vec![
                (ts(10), "Train", "Succeeded", 90.0),
                (ts(2000), "Upgrade", "Succeeded", 40.0),
            ],
            ..old
        };
        m.model_status(LM, "a", &upgraded);
        m.model_status(LM, "a", &upgraded);
        let text = m.encode().expect("encode");
        assert!(text.contains(
            r#"wso_model_operation_duration_seconds_count{kind="CustomLanguageModel",operation="Upgrade",outcome="Succeeded"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"wso_model_operation_duration_seconds_count{kind="CustomLanguageModel",operation="Train",outcome="Succeeded"} 1"#
        ), "{text}");

        // "b" deleted and created again under its name (a watch gap hid the deletion): a new
        // model, whose first Ready counts again.
        let again = ModelSnapshot {
            uid: "b2".into(),
            phase: Some(Phase::Training),
            created: Some(ts(3000)),
            ..Default::default()
        };
        m.model_status(LM, "b", &again);
        m.model_status(
            LM,
            "b",
            &ModelSnapshot {
                phase: Some(Phase::Available),
                ready_since: Some(ts(3010)),
                ..again
            },
        );
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"wso_time_to_ready_seconds_count{kind="CustomLanguageModel"} 2"#));
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Available"} 2"#));

        // A deleted model leaves the count; forgetting it twice changes nothing.
        m.model_gone("a");
        m.model_gone("a");
        assert_eq!(m.models_counted(), 1);
        let text = m.encode().expect("encode");
        assert!(text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Available"} 1"#));
    }

    #[test]
    fn leader_gauge_counts_acquisitions() {
        let m = Metrics::new();
        m.set_leader(true);
        m.set_leader(true);
        m.set_leader(false);
        m.set_leader(true);
        let text = m.encode().expect("encode");
        assert!(text.contains("wso_leader 1"), "{text}");
        assert!(text.contains("wso_leader_acquisitions_total 2"), "{text}");
    }

    #[test]
    fn the_wer_of_a_model_is_one_series_that_goes_with_the_model() {
        let m = Metrics::new();
        m.model_wer("ns", "lm", Some(0.1667));
        m.model_wer("ns", "other", Some(0.25));
        let text = m.encode().expect("encode");
        assert!(
            text.contains(r#"wso_model_wer{namespace="ns",name="lm"} 0.1667"#),
            "{text}"
        );
        m.model_wer("ns", "lm", Some(0.0));
        m.model_gone("CustomLanguageModel/ns/other");
        let text = m.encode().expect("encode");
        assert!(
            text.contains(r#"wso_model_wer{namespace="ns",name="lm"} 0.0"#),
            "{text}"
        );
        assert!(!text.contains(r#"name="other""#), "{text}");
        m.model_wer("ns", "lm", None);
        assert!(!m.encode().expect("encode").contains("name=\"lm\""));
    }
}
