//! `SpeechService`: an IBM Speech to Text or Text to Speech service instance: its endpoint, a
//! reference to the credentials Secret, and the request budget shared by every model using it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::ConfigMapKeyRef;

/// An IBM Watson Speech to Text or Text to Speech service instance the models are created in.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "An IBM Watson Speech to Text or Text to Speech service instance the models are created in, with the credentials to reach it.",
    group = "speech.watson.dev",
    version = "v1alpha1",
    kind = "SpeechService",
    namespaced,
    shortname = "sps",
    category = "watson",
    status = "SpeechServiceStatus",
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.service"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Models","type":"integer","jsonPath":".status.modelsInUse"}"#,
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SpeechServiceSpec {
    /// Which IBM service this is: SpeechToText (language and acoustic models) or TextToSpeech
    /// (voice models).
    pub service: ServiceKind,
    /// The service URL, including the instance part, e.g.
    /// `https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/<id>`.
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    #[x_kube(validation = Rule::new("!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@')").message("a URL must not hold credentials (user:password@): put them in the Secret of auth.secretRef"))]
    pub url: String,
    /// How to authenticate.
    pub auth: Auth,
    /// A PEM CA bundle (ConfigMap key) to trust for the service and IAM endpoints, in addition
    /// to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<ConfigMapKeyRef>,
    /// Labels all customization data with this customer ID (sent as
    /// `X-Watson-Metadata: customer_id=...`), so it can be deleted with one call later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = r"^[^;=]+$"))]
    pub customer_id: Option<String>,
    /// Sends `X-Watson-Learning-Opt-Out: true`.
    #[serde(default)]
    pub learning_opt_out: bool,
    /// The request budget shared by every model that uses this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_budget: Option<RequestBudget>,
}

/// The IBM service a SpeechService points at.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ServiceKind {
    /// IBM Watson Speech to Text.
    SpeechToText,
    /// IBM Watson Text to Speech.
    TextToSpeech,
}

/// Authentication to the service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type in ['None', 'TrustedProfile'] || has(self.secretRef)").message("auth.secretRef is required unless auth.type is None (or TrustedProfile)"))]
#[x_kube(validation = Rule::new("self.type != 'CloudPakForData' || has(self.cloudPakUrl)").message("auth.cloudPakUrl is required when auth.type is CloudPakForData"))]
#[x_kube(validation = Rule::new("self.type != 'TrustedProfile' || (has(self.trustedProfile) && (has(self.trustedProfile.id) || has(self.trustedProfile.name)))").message("auth.trustedProfile.id or auth.trustedProfile.name is required when auth.type is TrustedProfile"))]
#[x_kube(validation = Rule::new("self.type != 'TrustedProfile' || !has(self.iamUrl)").message("auth.iamUrl cannot be set with TrustedProfile: the operator's service-account token only goes to the IAM URL the operator is configured with"))]
pub struct Auth {
    /// IAM (an API key exchanged for tokens), Bearer (a token you manage), Basic (username and
    /// password, or `apikey` and the key), CloudPakForData (a username and password or API key
    /// exchanged for tokens at `cloudPakUrl`), TrustedProfile (the operator's projected
    /// service-account token exchanged at IAM for the profile's tokens: no key in the cluster),
    /// or None.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The Secret (same namespace) holding the credentials. Edits are picked up without a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<CredentialsSecretRef>,
    /// The IAM token endpoint base URL; default `https://iam.cloud.ibm.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    #[x_kube(validation = Rule::new("!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@')").message("a URL must not hold credentials (user:password@): put them in the Secret of auth.secretRef"))]
    pub iam_url: Option<String>,
    /// CloudPakForData: the Cloud Pak for Data URL tokens come from, e.g.
    /// `https://cpd-cpd.apps.example.com/icp4d-api` (`/v1/authorize` is appended unless present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub cloud_pak_url: Option<String>,
    /// TrustedProfile: the IBM Cloud trusted profile whose tokens the operator obtains with its
    /// projected service-account token (the chart's `trustedProfile` values). The profile must
    /// trust the operator's service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_profile: Option<TrustedProfile>,
}

/// An IBM Cloud trusted profile, by ID or by name (ID wins when both are set).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustedProfile {
    /// The profile ID, e.g. `Profile-9ac9b9ac-1234-4a5b-8c9d-0123456789ab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub id: Option<String>,
    /// The profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
}

/// Authentication type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AuthType {
    /// An IBM Cloud API key exchanged for IAM tokens (refreshed automatically).
    #[serde(rename = "IAM")]
    Iam,
    /// A bearer token you provide and rotate.
    Bearer,
    /// HTTP Basic authentication.
    Basic,
    /// Cloud Pak for Data: the username (key `username`) with the password (key `password`) or,
    /// without one, the API key (key `apikey`) exchanged for tokens at `cloudPakUrl` (refreshed
    /// automatically).
    CloudPakForData,
    /// An IBM Cloud trusted profile: no Secret; the operator's projected service-account token is
    /// exchanged at IAM for the profile's tokens (refreshed automatically).
    TrustedProfile,
    /// No authentication.
    None,
}

/// The Secret holding the credentials, and which keys to read.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the API key (IAM, CloudPakForData without a password). Default `apikey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_key: Option<String>,
    /// Key holding the token (Bearer). Default `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key: Option<String>,
    /// Key holding the username (Basic, CloudPakForData). Default `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// Key holding the password (Basic, CloudPakForData). Default `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
}

/// A token-bucket request budget.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestBudget {
    /// Sustained requests per second to this service, across all its models.
    #[schemars(range(min = 1, max = 10000), with = "i32")]
    pub requests_per_second: u32,
    /// Requests allowed in a burst above the sustained rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000), with = "Option<i32>")]
    pub burst: Option<u32>,
}

/// Observed state of a SpeechService.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpeechServiceStatus {
    /// The generation of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Custom models of this instance seen at the last check: for Speech to Text the larger of
    /// the language-model and acoustic-model counts (each kind has its own quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models_in_use: Option<i64>,
    /// The per-instance limit of custom models of each kind (1024 on IBM Cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_quota: Option<i64>,
    /// The last customer data erasure requested with the annotation
    /// `speech.watson.dev/erase-customer-data-requested-at`, once it was carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_data_erasure: Option<CustomerDataErasure>,
    /// Ready: the credentials are valid and the endpoint answers. CustomerDataErased (only once
    /// an erasure was requested): True when the latest request was carried out, False with the
    /// reason while it waits (NoCustomerId, ModelsStillUseService) or failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A customer data erasure the operator carried out (`DELETE /v1/user_data?customer_id=...`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDataErasure {
    /// The annotation value (request token) acted upon; a new value requests another erasure.
    pub requested_at: String,
    /// The customer ID whose data was deleted.
    pub customer_id: String,
    /// When the service confirmed the deletion.
    pub erased_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
}
