//! The string values of status fields as open enums: each known value is a variant, and any other
//! string is kept as `Unknown(text)`. A value this version does not know, from IBM (a new model
//! status) or from a newer operator's status (read after a rollback), never fails a read: the
//! object stays readable, its deletion and its next status write work, and the value is shown as
//! it was written.
//!
//! On the wire each is a plain JSON string, and the schema is `type: string` without an `enum`
//! list, so the API server stores any value a newer operator writes (Kubernetes API conventions:
//! "enumerated values ... may be extended in the future"; clients must tolerate unknown values).

use std::borrow::Cow;

use open_enum::open_enum;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The schema of an open enum: `type: string`, no closed list (an `enum` list would make the API
/// server refuse a value a newer operator writes).
macro_rules! string_schema {
    ($($name:ident),* $(,)?) => {
        $(
            impl JsonSchema for $name {
                fn schema_name() -> Cow<'static, str> {
                    stringify!($name).into()
                }

                fn inline_schema() -> bool {
                    true
                }

                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!({ "type": "string" })
                }
            }
        )*
    };
}

open_enum! {
    /// The lifecycle phase shown to people (`kubectl get`). Conditions carry the detail.
    pub enum Phase {
        /// The model is being created on the service.
        Creating = "Creating",
        /// Data (corpora, words, grammars, audio) is being added or analysed.
        Processing = "Processing",
        /// The data is in place; training has not started (or is waiting for a request, or the
        /// service reports a status the operator does not know).
        Ready = "Ready",
        /// The model has no data to train on (no corpora, words, grammars or audio); the service
        /// does not train an empty model.
        WaitingForData = "WaitingForData",
        /// The service is training the model.
        Training = "Training",
        /// Trained on the current inputs and usable.
        Available = "Available",
        /// The model is being upgraded to a newer base-model version.
        Upgrading = "Upgrading",
        /// The last operation failed; see the conditions for the reason and the fix.
        Failed = "Failed",
        /// The model is being deleted.
        Deleting = "Deleting",
        /// Waiting for a dependency (service, language model, Secret, ConfigMap).
        WaitingForDependency = "WaitingForDependency",
        /// `spec.suspend` is true; the operator makes no calls for this model.
        Suspended = "Suspended",
    }
}

open_enum! {
    /// A custom model's status as the service reports it (STT `status`, IBM's API reference:
    /// pending, ready, training, available, upgrading, failed); `exists` is what status shows for
    /// a TTS voice model, which has no status.
    pub enum ServiceStatus {
        /// Created, or data is being analysed, or it has no valid data.
        Pending = "pending",
        /// Its data is analysed; it can be trained.
        Ready = "ready",
        /// The service is training it.
        Training = "training",
        /// Trained and usable.
        Available = "available",
        /// The service is upgrading it to a newer base-model version.
        Upgrading = "upgrading",
        /// The last training failed.
        Failed = "failed",
        /// A voice model: it exists (TTS reports no status).
        Exists = "exists",
    }
}

open_enum! {
    /// A corpus, grammar or audio resource's status as the service reports it (IBM: text
    /// resources `being_processed`, `analyzed`, `undetermined`; audio `being_processed`, `ok`,
    /// `invalid`).
    pub enum ResourceServiceStatus {
        /// Being analysed.
        BeingProcessed = "being_processed",
        /// A corpus or grammar analysed and usable.
        Analyzed = "analyzed",
        /// A corpus or grammar the service could not analyse.
        Undetermined = "undetermined",
        /// Audio analysed and usable.
        Ok = "ok",
        /// Audio the service refused.
        Invalid = "invalid",
    }
}

open_enum! {
    /// The kind of a long-running operation in `status.currentOperation` and `status.history`.
    pub enum OperationType {
        /// A training (`POST .../train`).
        Train = "Train",
        /// An upgrade to the newest base-model version (`POST .../upgrade_model`).
        Upgrade = "Upgrade",
    }
}

open_enum! {
    /// How a finished operation ended.
    pub enum OperationOutcome {
        /// The service reported it done (`available`).
        Succeeded = "Succeeded",
        /// The service reported it failed.
        Failed = "Failed",
    }
}

string_schema!(
    Phase,
    ServiceStatus,
    ResourceServiceStatus,
    OperationType,
    OperationOutcome,
);

impl ResourceServiceStatus {
    /// Analysed and usable: `analyzed` (corpus, grammar) or `ok` (audio).
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Analyzed | Self::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_unknown_ones_are_kept() {
        fn round_trip<T>(known: &[&str])
        where
            T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + PartialEq,
        {
            for text in known {
                let json = serde_json::to_string(text).expect("json");
                let value: T = serde_json::from_str(&json).expect("json");
                assert_eq!(serde_json::to_string(&value).expect("json"), json);
            }
        }
        round_trip::<Phase>(Phase::KNOWN);
        round_trip::<ServiceStatus>(ServiceStatus::KNOWN);
        round_trip::<ResourceServiceStatus>(ResourceServiceStatus::KNOWN);
        round_trip::<OperationType>(OperationType::KNOWN);
        round_trip::<OperationOutcome>(OperationOutcome::KNOWN);
        assert_eq!(Phase::KNOWN.len(), 11);
        assert_eq!(Phase::parse("Available"), Phase::Available);
        assert_eq!(ServiceStatus::parse("upgrading"), ServiceStatus::Upgrading);
        // A newer operator's phase and a new IBM status: read, kept, written back unchanged.
        let phase: Phase = serde_json::from_str("\"Migrating\"").expect("json");
        assert_eq!(phase, Phase::Unknown("Migrating".into()));
        assert_eq!(
            serde_json::to_string(&phase).expect("json"),
            "\"Migrating\""
        );
        let status: ServiceStatus = serde_json::from_str("\"queued\"").expect("json");
        assert_eq!(status.as_str(), "queued");
        assert!(ResourceServiceStatus::parse("ok").is_valid());
        assert!(!ResourceServiceStatus::parse("being_processed").is_valid());
    }

    #[test]
    fn the_schema_is_an_open_string() {
        let schema = schemars::schema_for!(OperationType);
        assert_eq!(schema.get("type"), Some(&serde_json::json!("string")));
        assert!(
            schema.get("enum").is_none(),
            "a closed list would refuse newer values"
        );
    }
}
