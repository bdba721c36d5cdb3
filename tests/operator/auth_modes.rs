//! The two token-based modes end to end on the real API server and the shared operator:
//! `CloudPakForData` (a Secret with a username and a password or an API key, tokens from the
//! simulator's `/icp4d-api/v1/authorize`) and `TrustedProfile` (no Secret; the operator's token
//! file, exchanged at the simulator's IAM), each creating a model; a wrong password and an
//! unknown profile each give one clear condition and create nothing. Expiry and refresh, and an
//! unreadable token file, need a simulator with short-lived tokens and an operator with its own
//! token-file flag: they run end to end in `tests/simulator/quirks.rs`
//! (`cloud_pak_and_trusted_profile_tokens_expire_and_are_refreshed`,
//! `an_unreadable_trusted_profile_token_file_is_one_clear_condition`), and are counted against
//! the simulator in `tests/client/token_managers.rs`.

use crate::support;

use kube::Api;
use serde_json::json;
use support::fixture::{self, Service};
use support::operator::{self, API_KEY, condition, wait_for};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator::http::iam::{TRUSTED_PROFILE_ID, TRUSTED_PROFILE_NAME};

use crate::OPTIONS;

async fn service(ns: &support::TestNamespace, base: &str, auth: serde_json::Value) {
    let svc = fixture::speech_service("stt", Service::Stt.kind(), &Service::Stt.url(base), auth);
    fixture::create(ns, &svc).await;
}

async fn model_is_created(api: &Api<CustomLanguageModel>, name: &str) {
    wait_for(api, name, "created on the service", 90, |m| {
        m.status
            .as_ref()
            .is_some_and(|s| s.model.customization_id.is_some())
    })
    .await;
}

async fn refused(api: &Api<CustomLanguageModel>, name: &str, reason: &str, text: &str) {
    let m = wait_for(api, name, reason, 90, |m| {
        condition(m, "Ready").is_some_and(|(s, r)| s == "False" && r == reason)
    })
    .await;
    let status = m.status.expect("status");
    assert!(status.model.customization_id.is_none(), "nothing created");
    let ready = status
        .model
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert!(ready.message.contains(text), "{}", ready.message);
}

#[tokio::test]
async fn cloud_pak_for_data_with_password_or_api_key_and_a_wrong_password() {
    let Some(cp) = support::control_plane() else {
        return;
    };
    let base = operator::start(cp, OPTIONS);
    let auth = json!({"type": "CloudPakForData", "cloudPakUrl": format!("{base}/icp4d-api"),
                      "secretRef": {"name": "cp4d"}});
    for (prefix, data) in [
        (
            "cp4d-pass",
            vec![("username", "admin"), ("password", API_KEY)],
        ),
        ("cp4d-key", vec![("username", "admin"), ("apikey", API_KEY)]),
    ] {
        let ns = cp.namespace(prefix).await;
        fixture::create(&ns, &fixture::secret("cp4d", &data)).await;
        service(&ns, base, auth.clone()).await;
        let api: Api<CustomLanguageModel> = ns.api();
        fixture::create(&ns, &fixture::language_model("lm", json!({}))).await;
        model_is_created(&api, "lm").await;
    }

    let ns = cp.namespace("cp4d-wrong").await;
    let data = [("username", "admin"), ("password", "wrong-password-77")];
    fixture::create(&ns, &fixture::secret("cp4d", &data)).await;
    service(&ns, base, auth).await;
    let api: Api<CustomLanguageModel> = ns.api();
    fixture::create(&ns, &fixture::language_model("lm", json!({}))).await;
    refused(
        &api,
        "lm",
        "CloudPakTokenFailure",
        "Invalid user or password",
    )
    .await;
}

#[tokio::test]
async fn trusted_profile_by_id_or_name_and_an_unknown_profile() {
    let Some(cp) = support::control_plane() else {
        return;
    };
    let base = operator::start(cp, OPTIONS);
    for (prefix, profile) in [
        ("tp-id", json!({"id": TRUSTED_PROFILE_ID})),
        ("tp-name", json!({"name": TRUSTED_PROFILE_NAME})),
    ] {
        let ns = cp.namespace(prefix).await;
        service(
            &ns,
            base,
            json!({"type": "TrustedProfile", "trustedProfile": profile}),
        )
        .await;
        let api: Api<CustomLanguageModel> = ns.api();
        fixture::create(&ns, &fixture::language_model("lm", json!({}))).await;
        model_is_created(&api, "lm").await;
    }

    let ns = cp.namespace("tp-unknown").await;
    service(
        &ns,
        base,
        json!({"type": "TrustedProfile", "trustedProfile": {"name": "no-such-profile"}}),
    )
    .await;
    let api: Api<CustomLanguageModel> = ns.api();
    fixture::create(&ns, &fixture::language_model("lm", json!({}))).await;
    refused(
        &api,
        "lm",
        "IamTokenFailure",
        "trusted profile could not be found",
    )
    .await;
}
