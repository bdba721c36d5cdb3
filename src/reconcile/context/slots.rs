//! In-flight reconciles per SpeechService (issue 26, fair share): at most
//! [`Settings::max_reconciles_per_service`](super::Settings::max_reconciles_per_service) of one
//! service's models are reconciled at once, across kinds, so one service's models (a slow or
//! failing instance, thousands of models) never take all of a kind's reconcile slots. A reconcile
//! over the cap takes no slot: it requeues shortly without calling IBM.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of every SpeechService, by `namespace/name`.
#[derive(Debug)]
pub struct Slots {
    cap: usize,
    services: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Slots {
    /// At most `cap` reconciles in flight per service (0 is taken as 1).
    pub fn new(cap: usize) -> Self {
        Slots {
            cap: cap.max(1),
            services: Mutex::new(HashMap::new()),
        }
    }

    /// A slot of service `namespace/name`, held until the permit drops; `None` when all of them
    /// are taken.
    pub fn try_take(&self, namespace: &str, name: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = self
            .services
            .lock()
            .entry(format!("{namespace}/{name}"))
            .or_insert_with(|| Arc::new(Semaphore::new(self.cap)))
            .clone();
        semaphore.try_acquire_owned().ok()
    }

    /// Forgets a deleted SpeechService's slots (permits still held stay valid).
    pub fn forget(&self, namespace: &str, name: &str) {
        self.services.lock().remove(&format!("{namespace}/{name}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_cap_per_service() {
        let slots = Slots::new(2);
        let a = slots.try_take("ns", "busy");
        let b = slots.try_take("ns", "busy");
        assert!(a.is_some() && b.is_some());
        assert!(slots.try_take("ns", "busy").is_none(), "over the cap");
        assert!(slots.try_take("ns", "other").is_some(), "another service");
        drop(a);
        assert!(slots.try_take("ns", "busy").is_some(), "a slot freed");
        slots.forget("ns", "busy");
        assert!(slots.services.lock().get("ns/busy").is_none());
    }
}
