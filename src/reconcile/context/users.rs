//! Which model resources use which SpeechService, as this process's model reconciles saw them:
//! the SpeechService reconcile keeps the in-use finalizer on a service (and its credentials
//! Secret) while any model uses it (issue 24). A model is recorded when its reconcile reads it
//! and forgotten when it is gone (the GET found nothing, or its finalizer was released).
//!
//! This is a hint, never the proof that a service is unused: right after a start no model has
//! been read yet, so before releasing the finalizer the SpeechService reconcile lists the models
//! of the namespace ([`super::super::protection`]).

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;

/// `namespace/service` → the object keys of the models that use it, and back.
#[derive(Debug, Default)]
pub struct Users {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_service: HashMap<String, BTreeSet<String>>,
    service_of: HashMap<String, String>,
}

fn service_id(namespace: &str, service: &str) -> String {
    format!("{namespace}/{service}")
}

impl Users {
    /// The model `key` uses `namespace/service` (replacing the service it used before). True
    /// when this is news (the first time this process sees it use that service).
    pub fn saw(&self, key: &str, namespace: &str, service: &str) -> bool {
        let id = service_id(namespace, service);
        let mut inner = self.inner.lock();
        if inner.service_of.get(key) == Some(&id) {
            return false;
        }
        Self::remove(&mut inner, key);
        inner
            .by_service
            .entry(id.clone())
            .or_default()
            .insert(key.to_string());
        inner.service_of.insert(key.to_string(), id);
        true
    }

    /// The model `key` is gone. Returns the `namespace/service` it used, if it was recorded.
    pub fn gone(&self, key: &str) -> Option<String> {
        let mut inner = self.inner.lock();
        Self::remove(&mut inner, key)
    }

    fn remove(inner: &mut Inner, key: &str) -> Option<String> {
        let id = inner.service_of.remove(key)?;
        if let Some(set) = inner.by_service.get_mut(&id) {
            set.remove(key);
            if set.is_empty() {
                inner.by_service.remove(&id);
            }
        }
        Some(id)
    }

    /// Whether any model this process saw uses `namespace/service`.
    pub fn any(&self, namespace: &str, service: &str) -> bool {
        self.inner
            .lock()
            .by_service
            .contains_key(&service_id(namespace, service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_uses_one_service_at_a_time_until_it_is_gone() {
        let users = Users::default();
        assert!(users.saw("lm/ns/a", "ns", "stt"));
        assert!(!users.saw("lm/ns/a", "ns", "stt"));
        assert!(users.saw("lm/ns/b", "ns", "stt"));
        assert!(users.any("ns", "stt"));
        assert!(users.saw("lm/ns/a", "ns", "other"));
        assert!(users.any("ns", "other"));
        assert_eq!(users.gone("lm/ns/b"), Some("ns/stt".to_string()));
        assert!(!users.any("ns", "stt"));
        assert_eq!(users.gone("lm/ns/a"), Some("ns/other".to_string()));
        assert!(!users.any("ns", "other"));
        assert_eq!(users.gone("lm/ns/a"), None);
    }
}
