//! The Cloud Pak for Data and trusted-profile token managers against the simulator's two token
//! endpoints: tokens are obtained, cached and refreshed before expiry (counted, not timed), and
//! bad input (wrong password, unknown profile, unreadable token file) is one error with a clear
//! category, retry class and message that holds no secret.

use std::path::Path;

use secrecy::SecretString;
use watson_speech_operator::errors::{Classified, RetryClass};
use watson_speech_operator::simulator::ConfigPatch;
use watson_speech_operator::simulator::RunningSimulator;
use watson_speech_operator::simulator::http::iam::{TRUSTED_PROFILE_ID, TRUSTED_PROFILE_NAME};
use watson_speech_operator::watson::{
    Auth, CloudPakSecret, Operation, SttClient, TrustedProfileRef,
};

use crate::sim::{self, API_KEY, start_sim};

/// A compute resource token as the kubelet projects it (a JWT; the simulator checks the shape).
const CR_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6d3NvOndzbyJ9.c2lnbmF0dXJl";

fn client(s: &RunningSimulator, auth: Auth) -> SttClient {
    let mut config = sim::config(s, &s.stt_url(), API_KEY);
    config.auth = auth;
    SttClient::new(config).expect("client")
}

fn cloud_pak(s: &RunningSimulator, secret: CloudPakSecret) -> Auth {
    Auth::CloudPakForData {
        url: sim::url(&format!("{}/icp4d-api", s.base_url())),
        username: "admin".into(),
        secret,
    }
}

fn trusted(s: &RunningSimulator, file: &Path, profile: TrustedProfileRef) -> Auth {
    Auth::TrustedProfile {
        url: sim::url(&s.iam_url()),
        token_file: file.to_path_buf(),
        profile,
    }
}

async fn token_requests(s: &RunningSimulator) -> u64 {
    s.admin()
        .counters()
        .await
        .expect("counters")
        .total_for(Operation::GetToken)
}

/// Tokens shorter than the 10 s margin are used once, then replaced before they expire.
async fn short_tokens(s: &RunningSimulator) {
    s.admin()
        .set_config(&ConfigPatch {
            token_ttl_seconds: Some(5),
            ..Default::default()
        })
        .await
        .expect("config");
}

#[tokio::test]
async fn cloud_pak_tokens_with_password_or_api_key_are_cached_and_refreshed_before_expiry() {
    let s = start_sim(0.001).await;
    for secret in [
        CloudPakSecret::Password(SecretString::from(API_KEY)),
        CloudPakSecret::ApiKey(SecretString::from(API_KEY)),
    ] {
        let before = token_requests(&s).await;
        let c = client(&s, cloud_pak(&s, secret));
        c.list_models().await.expect("first call");
        c.list_models().await.expect("second call");
        assert_eq!(token_requests(&s).await - before, 1, "one token, cached");
    }
    short_tokens(&s).await;
    let c = client(
        &s,
        cloud_pak(&s, CloudPakSecret::Password(SecretString::from(API_KEY))),
    );
    let before = token_requests(&s).await;
    for _ in 0..3 {
        c.list_models().await.expect("call with a fresh token");
    }
    assert_eq!(
        token_requests(&s).await - before,
        3,
        "a token within the margin of its JWT exp is replaced before use"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn cloud_pak_wrong_password_is_one_credentials_error_without_the_password() {
    let s = start_sim(0.001).await;
    let c = client(
        &s,
        cloud_pak(
            &s,
            CloudPakSecret::Password(SecretString::from("wrong-pass-5150")),
        ),
    );
    let e = c.list_models().await.expect_err("refused");
    assert_eq!(e.category(), "CloudPakTokenFailure", "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Credentials);
    assert_eq!(e.status(), Some(401));
    let text = e.to_string();
    assert!(text.contains("Invalid user or password"), "{text}");
    assert!(!text.contains("wrong-pass-5150") && !format!("{e:?}").contains("wrong-pass-5150"));
    assert_eq!(
        s.admin()
            .counters()
            .await
            .expect("counters")
            .total_for(Operation::ListModels),
        0,
        "no service call without a token"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn trusted_profile_by_id_or_name_reads_the_token_file_at_every_exchange() {
    let s = start_sim(0.001).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sa-token");
    std::fs::write(&file, format!("{CR_TOKEN}\n")).expect("token file");
    for profile in [
        TrustedProfileRef::Id(TRUSTED_PROFILE_ID.into()),
        TrustedProfileRef::Name(TRUSTED_PROFILE_NAME.into()),
    ] {
        let before = token_requests(&s).await;
        let c = client(&s, trusted(&s, &file, profile));
        c.list_models().await.expect("first call");
        c.list_models().await.expect("second call");
        assert_eq!(token_requests(&s).await - before, 1, "one token, cached");
    }

    // Short tokens are replaced before expiry, each time from the file as it is then: the
    // kubelet rotates it.
    short_tokens(&s).await;
    let c = client(
        &s,
        trusted(&s, &file, TrustedProfileRef::Id(TRUSTED_PROFILE_ID.into())),
    );
    let before = token_requests(&s).await;
    c.list_models().await.expect("call with a fresh token");
    c.list_models().await.expect("call with a fresh token");
    assert_eq!(token_requests(&s).await - before, 2);
    std::fs::write(&file, "not-a-jwt").expect("rotate");
    let e = c
        .list_models()
        .await
        .expect_err("the new file content is used");
    assert_eq!(e.category(), "IamTokenFailure", "{e:?}");
    assert!(e.to_string().contains("cr_token"), "{e}");
    s.shutdown().await;
}

#[tokio::test]
async fn unknown_trusted_profile_is_one_credentials_error() {
    let s = start_sim(0.001).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sa-token");
    std::fs::write(&file, CR_TOKEN).expect("token file");
    let c = client(
        &s,
        trusted(&s, &file, TrustedProfileRef::Name("no-such-profile".into())),
    );
    let e = c.list_models().await.expect_err("refused");
    assert_eq!(e.category(), "IamTokenFailure", "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Credentials);
    assert_eq!(e.status(), Some(400));
    assert!(
        e.to_string().contains("trusted profile could not be found"),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains(CR_TOKEN));
    s.shutdown().await;
}

#[tokio::test]
async fn unreadable_token_file_is_one_transient_error_naming_the_file() {
    let s = start_sim(0.001).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-projected");
    let c = client(
        &s,
        trusted(&s, &file, TrustedProfileRef::Id(TRUSTED_PROFILE_ID.into())),
    );
    let e = c.list_models().await.expect_err("no token file");
    assert_eq!(e.category(), "IamTokenFailure", "{e:?}");
    assert_eq!(
        e.retry_class(),
        RetryClass::Backoff,
        "the kubelet may not have written it yet"
    );
    assert_eq!(e.status(), None);
    let text = e.to_string();
    assert!(
        text.contains("cannot read the trusted profile token file")
            && text.contains("not-projected"),
        "{text}"
    );
    assert_eq!(token_requests(&s).await, 0, "nothing sent without a token");
    s.shutdown().await;
}
