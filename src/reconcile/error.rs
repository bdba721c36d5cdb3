//! Errors of the reconcilers, each with a stable category (Event reason, condition reason,
//! metric label) and a retry class.

use crate::errors::{Classified, RetryClass};

/// Why a reconcile could not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The IBM service answered with an error.
    #[error("{0}")]
    Watson(#[from] crate::watson::Error),
    /// A referenced input (ConfigMap, Secret, URL) is missing or unusable.
    #[error("{0}")]
    Input(#[from] super::inputs::InputError),
    /// The SpeechService is missing or not usable yet.
    #[error("{0}")]
    Service(String),
    /// The SpeechService `spec.serviceRef` names does not exist (the GET found nothing).
    #[error("{0}")]
    ServiceMissing(String),
    /// `spec.url` of a SpeechService serves the other service, or is not an instance's base URL
    /// (a path below it): found by asking which API answers there (issue 15, case 10).
    #[error("{0}")]
    WrongService(String),
    /// One answer said `spec.url` serves the wrong API: asked again before concluding
    /// `WrongService` (issue 25: one bad answer is not a verdict).
    #[error("{0} (one answer so far; asking again before concluding)")]
    Unconfirmed(String),
    /// The model is gone from the service (missing from its listing, and a GET of its own ID
    /// says so too), but so are too many of the service's models at once: nothing is re-created
    /// until the service lists them again (issue 25; [`crate::decision::vanished`]).
    #[error("{0}")]
    ModelsVanished(String),
    /// The spec cannot work as written (a mismatch the schema cannot see).
    #[error("{0}")]
    InvalidSpec(String),
    /// An adopted model does not match the spec.
    #[error("{0}")]
    AdoptionMismatch(String),
    /// The base model cannot serve the spec (`supported_features`, its family): refused before
    /// any write; the category is the refusal's reason (`NoAcousticCustomization`,
    /// `GrammarsNotSupported`, `BaseModelNotOffered`, `NoLanguageCustomization`).
    #[error("{}", .0.message)]
    Unsupported(crate::decision::capability::Refusal),
    /// The per-instance model limit is reached.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The reconcile ran past its deadline (`--reconcile-deadline-seconds`) and was stopped
    /// where it stood (a Kubernetes or IBM call that hangs); retried with backoff.
    #[error("the reconcile did not finish within its deadline of {} s; retrying", .0.as_secs())]
    Deadline(std::time::Duration),
}

impl Classified for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubernetesError",
            Error::Watson(e) => e.category(),
            Error::Input(e) => e.category(),
            Error::Service(_) => "ServiceNotReady",
            Error::ServiceMissing(_) => "ServiceNotFound",
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::WrongService(_) => "WrongService",
            Error::Unconfirmed(_) => "ServiceAnswerUnconfirmed",
            Error::ModelsVanished(_) => "ModelsVanished",
            Error::AdoptionMismatch(_) => "AdoptionMismatch",
            Error::Unsupported(r) => r.reason,
            Error::QuotaExceeded(_) => "QuotaExceeded",
            Error::Deadline(_) => "ReconcileDeadline",
        }
    }

    fn retry_class(&self) -> RetryClass {
        match self {
            Error::Kube(_) => RetryClass::Backoff,
            Error::Watson(e) => e.retry_class(),
            Error::Input(e) => e.retry_class(),
            // Woken by the SpeechService watch; a slow retry covers the rest.
            Error::Service(_) | Error::ServiceMissing(_) => RetryClass::Credentials,
            Error::InvalidSpec(_) | Error::AdoptionMismatch(_) | Error::Unsupported(_) => {
                RetryClass::WaitForSpecChange
            }
            // Woken by the SpeechService watch once its spec is fixed.
            Error::WrongService(_) => RetryClass::WaitForSpecChange,
            // Asked again soon.
            Error::Unconfirmed(_) => RetryClass::Backoff,
            // Each look lists again; the service is expected to list the models again.
            Error::ModelsVanished(_) => RetryClass::Backoff,
            // Checked with one LIST per attempt; retried at most every minute.
            Error::QuotaExceeded(_) => RetryClass::Backoff,
            Error::Deadline(_) => RetryClass::Backoff,
        }
    }
}

impl Error {
    /// Nothing changes until the user acts (the `Stalled` condition): errors only a spec change
    /// fixes, credentials the service refuses, and a full quota (someone must delete models). A
    /// SpeechService that is not Ready yet is a dependency the operator waits for (the service
    /// itself shows why it is stalled, if it is).
    pub fn needs_user(&self) -> bool {
        match self {
            Error::Service(_) | Error::ServiceMissing(_) => false,
            Error::QuotaExceeded(_) => true,
            e => matches!(
                e.retry_class(),
                RetryClass::WaitForSpecChange | RetryClass::Credentials
            ),
        }
    }

    /// Whether checking a SpeechService with this error stalls the service itself: refused or
    /// missing credentials and a wrong spec (unlike [`Error::needs_user`] for its models, for
    /// which the service is a dependency they wait for).
    pub fn stalls_service(&self) -> bool {
        matches!(
            self.retry_class(),
            RetryClass::Credentials | RetryClass::WaitForSpecChange
        )
    }

    /// How long the service (or its request budget) asked to wait, when it said: the reconcile
    /// requeues for then rather than waiting in its slot.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Watson(e) => e.retry_after(),
            _ => None,
        }
    }

    /// A conclusion about the service rather than the spec: what answers at its URL, what a
    /// base model supports. Asked again at the drift interval (issue 25).
    pub fn about_service(&self) -> bool {
        matches!(self, Error::WrongService(_) | Error::Unsupported(_))
    }

    /// The retry class while the resource is being deleted: a deletion never waits for a spec
    /// change (the user is deleting the resource, not editing it), so what would wait for one
    /// is retried with backoff instead (issue 24); everything else keeps its class.
    pub fn retry_class_deleting(&self, deleting: bool) -> RetryClass {
        match self.retry_class() {
            RetryClass::WaitForSpecChange if deleting => RetryClass::Backoff,
            class => class,
        }
    }

    /// The IBM transaction id, when the error came from the service.
    pub fn transaction_id(&self) -> Option<&str> {
        match self {
            Error::Watson(e) => e.transaction_id(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_past_its_deadline_is_retried() {
        let e = Error::Deadline(std::time::Duration::from_secs(300));
        assert_eq!(e.category(), "ReconcileDeadline");
        assert_eq!(e.retry_class(), RetryClass::Backoff);
        assert!(!e.needs_user());
        assert!(e.to_string().contains("300 s"), "{e}");
    }
}
