//! What this process remembers of each object between its reconciles, by object key: the inputs
//! digest it was last reconciled with and its consecutive failures (for backoff). The memory
//! of an object goes with the object ([`Memory::forget`], issue 11), and its status feeds the
//! status-derived metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use parking_lot::Mutex;

use crate::metrics::Metrics;
use crate::model::ModelResource;

/// The key a model is remembered by: `Kind/namespace/name`. `K` may be the model kind or its
/// metadata (`PartialObjectMeta<K>`, the same kind).
pub fn key_of<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    object_key(
        &K::kind(&()),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    )
}

/// [`key_of`] from the kind, namespace and name.
pub fn object_key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

/// The key a SpeechService's failures are remembered by.
pub fn service_key(namespace: &str, name: &str) -> String {
    format!("sps/{namespace}/{name}")
}

/// What is remembered of one object.
#[derive(Default)]
struct Remembered {
    /// The inputs digest of the last reconcile.
    last_inputs: Option<String>,
    /// Consecutive failures, for jittered exponential backoff.
    failures: u32,
}

/// The per-object memory of the reconcilers, and the status metrics it feeds.
pub struct Memory {
    objects: Mutex<HashMap<String, Remembered>>,
    /// Prometheus metrics, when served: a status read or written feeds them, a forgotten object
    /// leaves them.
    metrics: Option<Arc<Metrics>>,
}

impl Memory {
    /// An empty memory; `metrics` receives the status of each object seen.
    pub fn new(metrics: Option<Arc<Metrics>>) -> Self {
        Memory {
            objects: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// The inputs digest `key` was last reconciled with.
    pub fn last_inputs(&self, key: &str) -> Option<String> {
        self.objects.lock().get(key)?.last_inputs.clone()
    }

    /// Remembers the inputs digest `key` is reconciled with, so a failure recorded in status
    /// says which inputs failed (a terminal failure then waits for them to change).
    pub fn remember_inputs(&self, key: &str, digest: &str) {
        let mut objects = self.objects.lock();
        let entry = objects.entry(key.to_string()).or_default();
        if entry.last_inputs.as_deref() != Some(digest) {
            entry.last_inputs = Some(digest.to_string());
        }
    }

    /// A model's status as a reconcile read it from the API server or wrote it: feeds the
    /// status-derived metrics ([`crate::metrics::Metrics::model_status`]).
    pub fn saw_status<K: ModelResource>(&self, key: &str, obj: &K) {
        if let Some(m) = &self.metrics {
            m.model_status(&K::kind(&()), key, &crate::metrics::ModelSnapshot::of(obj));
        }
    }

    /// Consecutive failures of `key` so far.
    pub fn failures(&self, key: &str) -> u32 {
        self.objects.lock().get(key).map_or(0, |o| o.failures)
    }

    /// Forgets everything about `key`: its object is gone (finalizer released, or its watch
    /// saw it deleted), and it leaves the status metrics. Without this, every object ever
    /// reconciled would stay in memory (issue 11).
    pub fn forget(&self, key: &str) {
        self.objects.lock().remove(key);
        if let Some(m) = &self.metrics {
            m.model_gone(key);
        }
    }

    /// Objects remembered now (for tests and diagnostics).
    pub fn remembered(&self) -> usize {
        self.objects.lock().len()
    }

    /// Records a failure of `key` and returns the next backoff (jittered exponential from
    /// `base`, capped at 1 minute for transient failures and 10 minutes for credentials).
    pub fn backoff(&self, key: &str, base: Duration) -> Duration {
        let n = {
            let mut objects = self.objects.lock();
            let o = objects.entry(key.to_string()).or_default();
            o.failures = o.failures.saturating_add(1);
            o.failures
        };
        let exp = base.saturating_mul(1u32 << (n.min(8) - 1));
        // Transient failures (base 5 s) retry at least every minute, so work resumes soon after
        // an outage; credential failures (base 30 s) slow down to 10 minutes.
        let cap = if base < Duration::from_secs(30) {
            Duration::from_secs(60)
        } else {
            Duration::from_secs(600)
        };
        let capped = exp.min(cap);
        let jitter = rand::random::<f64>() * 0.3 + 0.85;
        capped.mul_f64(jitter)
    }

    /// Clears the failure count of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        let mut objects = self.objects.lock();
        if let Some(o) = objects.get_mut(key) {
            o.failures = 0;
            if o.last_inputs.is_none() {
                objects.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: per-object memory went with neither deletion nor success; a fleet that churns
    /// models grew without bound.
    #[test]
    fn per_object_memory_goes_with_the_object() {
        let metrics = Arc::new(Metrics::new());
        let memory = Memory::new(Some(metrics.clone()));
        let lm: crate::crd::CustomLanguageModel = serde_json::from_value(serde_json::json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": "a", "namespace": "ns"},
            "spec": {"serviceRef": {"name": "s"}, "baseModelName": "en-US_Multimedia"},
            "status": {"phase": "Training"}
        }))
        .expect("model");
        let key = "CustomLanguageModel/ns/a";
        memory.remember_inputs(key, "digest-1");
        memory.saw_status(key, &lm);
        memory.backoff(key, Duration::from_secs(5));
        memory.backoff(key, Duration::from_secs(5));
        assert_eq!(memory.failures(key), 2);
        assert_eq!(memory.last_inputs(key).as_deref(), Some("digest-1"));
        assert_eq!(metrics.models_counted(), 1);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 1"#),
            "{text}"
        );
        // A success clears the failures and keeps what later reconciles read.
        memory.succeeded(key);
        assert_eq!(memory.failures(key), 0);
        assert_eq!(memory.last_inputs(key).as_deref(), Some("digest-1"));
        // A key holding only failures (a SpeechService) goes at its success.
        memory.backoff("sps/ns/s", Duration::from_secs(10));
        assert_eq!(memory.remembered(), 2);
        memory.succeeded("sps/ns/s");
        assert_eq!(memory.remembered(), 1);
        // The finalizer released (or the watch saw it deleted): nothing is left, and the model
        // leaves the phase counts.
        memory.forget(key);
        assert_eq!(memory.remembered(), 0);
        assert_eq!(memory.last_inputs(key), None);
        assert_eq!(metrics.models_counted(), 0);
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(r#"wso_models{kind="CustomLanguageModel",phase="Training"} 0"#),
            "{text}"
        );
    }
}
