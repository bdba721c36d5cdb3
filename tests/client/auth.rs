//! Authentication modes, the IAM token cache, and secret redaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::scripted::{CANARY, Canned, FakeServer, iam_auth, iam_token};
use secrecy::SecretString;
use serde_json::json;
use url::Url;
use watson_speech_operator::watson::{Auth, SttClient, TtsClient};

fn models() -> Canned {
    Canned::json(200, json!({"models": []}))
}

/// A server whose IAM endpoint issues numbered tokens with the given TTL.
async fn iam_server(ttl_secs: u64) -> (FakeServer, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = FakeServer::start(move |r, _| {
        if r.path == "/identity/token" {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            iam_token(n, ttl_secs).delayed(Duration::from_millis(50))
        } else {
            models()
        }
    })
    .await;
    (server, issued)
}

#[tokio::test]
async fn scripted_iam_token_request_and_bearer_use() {
    let (server, issued) = iam_server(3600).await;
    let client = SttClient::new(server.config(iam_auth(&server.url, "my-key"))).expect("client");
    client.list_models().await.expect("ok");
    client.list_models().await.expect("ok");
    assert_eq!(issued.load(Ordering::SeqCst), 1, "token cached");

    let token_requests = server.requests_to("/identity/token");
    let req = &token_requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    assert!(form.contains(&(
        "grant_type".into(),
        "urn:ibm:params:oauth:grant-type:apikey".into()
    )));
    assert!(form.contains(&("apikey".into(), "my-key".into())));
    assert!(form.contains(&("response_type".into(), "cloud_iam".into())));

    let calls = server.requests_to("/v1/models");
    assert_eq!(calls.len(), 2);
    let expected = format!("Bearer {}", crate::scripted::fake_jwt(1, 3600));
    // The JWT's iat may differ by a second between generations; compare the prefix.
    let auth = calls[0].header("authorization").expect("authorization");
    assert!(auth.starts_with("Bearer "), "{auth}");
    assert_eq!(auth.split('.').next(), expected.split('.').next());
    assert_eq!(calls[0].header("accept"), Some("application/json"));
}

#[tokio::test]
async fn scripted_iam_url_with_token_path_is_not_doubled() {
    let (server, issued) = iam_server(3600).await;
    let url = server.url.join("/identity/token").expect("url");
    let client = SttClient::new(server.config(iam_auth(&url, "k"))).expect("client");
    client.list_models().await.expect("ok");
    assert_eq!(issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn scripted_single_flight_token_fetch() {
    let (server, issued) = iam_server(3600).await;
    let client = SttClient::new(server.config(iam_auth(&server.url, "k"))).expect("client");
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.list_models().await })
        })
        .collect();
    for call in calls {
        call.await.expect("join").expect("ok");
    }
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests_to("/v1/models").len(), 20);
}

#[tokio::test]
async fn scripted_short_lived_tokens_are_refreshed() {
    // 13 s tokens are unusable 3 s after issue (10 s margin).
    let (server, issued) = iam_server(13).await;
    let client = SttClient::new(server.config(iam_auth(&server.url, "k"))).expect("client");
    client.list_models().await.expect("ok");
    client.list_models().await.expect("ok");
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(3300)).await;
    client.list_models().await.expect("ok");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn scripted_service_401_on_collection_drops_the_token() {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = FakeServer::start(move |r, n| {
        if r.path == "/identity/token" {
            iam_token(counter.fetch_add(1, Ordering::SeqCst) + 1, 3600)
        } else if n == 0 {
            Canned::ibm_error(401, "Unauthorized")
        } else {
            models()
        }
    })
    .await;
    let client = SttClient::new(server.config(iam_auth(&server.url, "k"))).expect("client");
    let e = client.list_models().await.expect_err("401");
    assert_eq!(
        watson_speech_operator::errors::Classified::category(&e),
        "Unauthorized"
    );
    client.list_models().await.expect("new token");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn scripted_basic_bearer_and_none() {
    let server = FakeServer::start(|_, _| models()).await;
    SttClient::new(server.config(Auth::api_key_basic(SecretString::from("KEY"))))
        .expect("client")
        .list_models()
        .await
        .expect("ok");
    SttClient::new(server.config(Auth::Basic {
        username: "user".into(),
        password: SecretString::from("pw"),
    }))
    .expect("client")
    .list_models()
    .await
    .expect("ok");
    SttClient::new(server.config(Auth::Bearer(SecretString::from("tok"))))
        .expect("client")
        .list_models()
        .await
        .expect("ok");
    SttClient::new(server.config(Auth::None))
        .expect("client")
        .list_models()
        .await
        .expect("ok");
    let headers: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(
        headers,
        vec![
            Some("Basic YXBpa2V5OktFWQ==".into()),
            Some("Basic dXNlcjpwdw==".into()),
            Some("Bearer tok".into()),
            None
        ]
    );
}

/// Formats everything that could leak a secret and asserts the canary never shows.
#[tokio::test]
async fn scripted_secrets_never_leak() {
    // An IAM endpoint that echoes the API key in its error (worst case), and a service that
    // echoes the Authorization header.
    let server = FakeServer::start(|r, _| {
        if r.path == "/identity/token" {
            let body = String::from_utf8_lossy(&r.body).to_string();
            Canned::json(400, json!({"errorMessage": format!("bad request: {body}")}))
        } else {
            let auth = r.header("authorization").unwrap_or_default().to_string();
            Canned::json(401, json!({"error": format!("rejected {auth}")}))
        }
    })
    .await;
    let mut texts = Vec::new();

    let iam = iam_auth(&server.url, CANARY);
    let config = server.config(iam.clone());
    texts.push(format!("{iam:?}"));
    texts.push(format!("{config:?}"));
    let client = SttClient::new(config).expect("client");
    texts.push(format!("{client:?}"));
    let e = client.list_models().await.expect_err("IAM failure");
    texts.push(format!("{e:?}"));
    texts.push(e.to_string());
    texts.push(e.message().to_string());

    for auth in [
        Auth::Bearer(SecretString::from(CANARY)),
        Auth::api_key_basic(SecretString::from(CANARY)),
        Auth::Basic {
            username: "u".into(),
            password: SecretString::from(CANARY),
        },
    ] {
        let config = server.config(auth.clone());
        texts.push(format!("{auth:?}"));
        texts.push(format!("{config:?}"));
        let client = TtsClient::new(config).expect("client");
        texts.push(format!("{client:?}"));
        for e in [
            client.list_custom_models(None).await.expect_err("401"),
            client.get_custom_model("id").await.expect_err("401"),
        ] {
            texts.push(format!("{e:?}"));
            texts.push(e.to_string());
        }
    }
    // Secrets in a URL are refused without echoing them.
    let bad = Url::parse(&format!("http://user:{CANARY}@127.0.0.1:1/")).expect("url");
    let e = SttClient::new(server.config(Auth::None).tap_url(bad)).expect_err("refused");
    texts.push(format!("{e:?}"));

    assert!(texts.len() > 10);
    for text in &texts {
        assert!(!text.contains(CANARY), "leak: {text}");
    }
    // The Basic value of the canary must not show either.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("apikey:{CANARY}"));
    for text in &texts {
        assert!(!text.contains(&encoded), "leak: {text}");
    }
}

trait TapUrl {
    fn tap_url(self, url: Url) -> Self;
}

impl TapUrl for watson_speech_operator::watson::ClientConfig {
    fn tap_url(mut self, url: Url) -> Self {
        self.url = url;
        self
    }
}

// ----- against the simulator -----

use crate::sim;

mod simulator {
    use super::sim::{self, start_sim};
    use super::*;
    use watson_speech_operator::simulator::ConfigPatch;
    use watson_speech_operator::watson::Operation;

    #[tokio::test]
    async fn sim_token_cached_shared_and_refreshed() {
        let s = start_sim(0.001).await;
        let admin = s.admin();
        let stt = sim::stt(&s);
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let c = stt.clone();
                tokio::spawn(async move { c.list_models().await })
            })
            .collect();
        for call in calls {
            call.await.expect("join").expect("ok");
        }
        let counters = admin.counters().await.expect("counters");
        assert_eq!(counters.total_for(Operation::GetToken), 1, "single flight");
        assert_eq!(counters.get(Operation::ListModels, 200), 20);

        // Short tokens: a 13 s lifetime is unusable after 3 s (10 s margin).
        admin
            .set_config(&ConfigPatch {
                token_ttl_seconds: Some(13),
                ..Default::default()
            })
            .await
            .expect("config");
        let short = sim::stt(&s);
        short.list_models().await.expect("ok");
        short.list_models().await.expect("ok");
        let before = admin
            .counters()
            .await
            .expect("counters")
            .total_for(Operation::GetToken);
        assert_eq!(before, 2);
        tokio::time::sleep(Duration::from_millis(3300)).await;
        short.list_models().await.expect("ok");
        let after = admin
            .counters()
            .await
            .expect("counters")
            .total_for(Operation::GetToken);
        assert_eq!(after, 3, "refreshed once the token entered the 10 s margin");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn sim_basic_api_key_and_tts() {
        let s = start_sim(0.001).await;
        let mut config = sim::config(&s, &s.stt_url(), sim::API_KEY);
        config.auth = Auth::api_key_basic(SecretString::from(sim::API_KEY));
        SttClient::new(config)
            .expect("client")
            .list_models()
            .await
            .expect("basic apikey accepted");
        sim::tts(&s)
            .list_custom_models(None)
            .await
            .expect("tts with IAM");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn sim_tls_with_custom_ca_bundle() {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use watson_speech_operator::simulator::{self as simulator_mod, SimulatorConfig, TlsFiles};

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
        let leaf_key = KeyPair::generate().expect("key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf");
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, leaf.pem()).expect("write cert");
        std::fs::write(&key, leaf_key.serialize_pem()).expect("write key");
        let s = simulator_mod::start(SimulatorConfig {
            profile: watson_speech_operator::simulator::Profile::Legacy,
            api_keys: vec![sim::API_KEY.to_string()],
            tls: Some(TlsFiles { cert, key }),
            ..SimulatorConfig::default()
        })
        .await
        .expect("TLS simulator");
        assert!(s.stt_url().starts_with("https://"));

        let mut config = sim::config(&s, &s.stt_url(), sim::API_KEY);
        config.ca_bundle_pem = Some(ca.pem().into_bytes());
        SttClient::new(config)
            .expect("client")
            .list_models()
            .await
            .expect("trusted through the CA bundle (IAM and service)");

        let untrusted =
            SttClient::new(sim::config(&s, &s.stt_url(), sim::API_KEY)).expect("client");
        let e = untrusted.list_models().await.expect_err("unknown CA");
        assert_eq!(
            watson_speech_operator::errors::Classified::retry_class(&e),
            watson_speech_operator::errors::RetryClass::Backoff
        );
        s.shutdown().await;
    }
}
