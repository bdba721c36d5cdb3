//! Retries: which calls are repeated, how often, and that `Retry-After` is honoured. Timing
//! assertions are lower bounds taken from request timestamps (never speed limits).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::scripted::{Canned, FakeServer, refused_url};
use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::json;
use watson_speech_operator::watson::stt_types::{CreateLanguageModel, TrainLanguageModel};
use watson_speech_operator::watson::{
    Auth, CallObserver, ClientConfig, Operation, RequestBudget, RetryPolicy, SttClient,
};

fn fast_policy(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(30),
    }
}

fn client(server: &FakeServer, policy: RetryPolicy) -> SttClient {
    let mut config = server.config(Auth::None);
    config.retry = policy;
    SttClient::new(config).expect("client")
}

fn model_json() -> Canned {
    Canned::json(200, json!({"customization_id": "m1", "status": "ready"}))
}

#[tokio::test]
async fn scripted_get_is_retried_until_success() {
    let server = FakeServer::start(|_, n| match n {
        0 => Canned::ibm_error(503, "unavailable"),
        1 => Canned::ibm_error(502, "bad gateway"),
        _ => model_json(),
    })
    .await;
    let model = client(&server, fast_policy(4))
        .get_language_model("m1")
        .await
        .expect("retried to success");
    assert_eq!(model.customization_id, "m1");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn scripted_retries_are_bounded_in_count() {
    let server = FakeServer::start(|_, _| Canned::ibm_error(500, "boom")).await;
    let e = client(&server, fast_policy(3))
        .get_language_model("m1")
        .await
        .expect_err("gives up");
    assert_eq!(e.status(), Some(500));
    assert_eq!(server.requests().len(), 4, "1 attempt + 3 retries");
}

#[tokio::test]
async fn scripted_retries_are_bounded_in_time() {
    // Retry-After of 5 s does not fit in a 1 s budget: no retry at all.
    let server = FakeServer::start(|_, _| {
        Canned::ibm_error(429, "slow down").with_header("retry-after", "5")
    })
    .await;
    let policy = RetryPolicy {
        max_elapsed: Duration::from_secs(1),
        ..fast_policy(10)
    };
    let e = client(&server, policy)
        .list_corpora("m1")
        .await
        .expect_err("gives up");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn scripted_retry_after_is_honoured() {
    let server = FakeServer::start(|_, n| match n {
        0 => Canned::ibm_error(429, "slow down").with_header("retry-after", "1"),
        _ => Canned::json(200, json!({"corpora": []})),
    })
    .await;
    client(&server, fast_policy(3))
        .list_corpora("m1")
        .await
        .expect("succeeds after waiting");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test]
async fn scripted_non_idempotent_calls_are_not_blindly_retried() {
    let server = FakeServer::start(|r, _| match r.path.as_str() {
        "/v1/customizations" => Canned::ibm_error(503, "unavailable"),
        "/v1/customizations/m1/train" => Canned::ibm_error(500, "boom"),
        "/v1/customizations/m1/upgrade_model" => Canned::ibm_error(502, "boom"),
        _ => Canned::ibm_error(500, "boom"),
    })
    .await;
    let client = client(&server, fast_policy(4));
    client
        .create_language_model(&CreateLanguageModel {
            name: "n".into(),
            base_model_name: "en-US_BroadbandModel".into(),
            ..Default::default()
        })
        .await
        .expect_err("503");
    client
        .train_language_model("m1", &TrainLanguageModel::default())
        .await
        .expect_err("500");
    client.upgrade_language_model("m1").await.expect_err("502");
    client
        .add_corpus("m1", "c1", "hello", false)
        .await
        .expect_err("500");
    assert_eq!(server.requests().len(), 4, "one attempt each");

    // With allow_overwrite a corpus add is safe to repeat.
    client
        .add_corpus("m1", "c2", "hello", true)
        .await
        .expect_err("500");
    assert_eq!(
        server.requests_to("/v1/customizations/m1/corpora/c2").len(),
        5
    );
}

#[tokio::test]
async fn scripted_rate_limited_create_is_retried() {
    let server = FakeServer::start(|_, n| match n {
        0 => Canned::ibm_error(429, "slow down").with_header("retry-after", "0"),
        _ => Canned::json(201, json!({"customization_id": "new"})),
    })
    .await;
    let id = client(&server, fast_policy(2))
        .create_language_model(&CreateLanguageModel {
            name: "n".into(),
            base_model_name: "en-US_BroadbandModel".into(),
            ..Default::default()
        })
        .await
        .expect("429 is refused before processing, so a create may be repeated");
    assert_eq!(id.customization_id, "new");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_and_bounded() {
    let mut config = ClientConfig::new(refused_url().await, Auth::None);
    config.retry = fast_policy(2);
    let observer = Arc::new(Recorder::default());
    config.observer = Some(observer.clone());
    let client = SttClient::new(config).expect("client");
    client
        .create_acoustic_model(&Default::default())
        .await
        .expect_err("refused");
    let seen = observer.seen.lock().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|(op, status)| *op == Operation::CreateAcousticModel && status.is_none())
    );
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(Operation, Option<u16>)>>,
}

impl CallObserver for Recorder {
    fn observe(&self, op: Operation, status: Option<u16>, _latency: Duration) {
        self.seen.lock().push((op, status));
    }
}

#[derive(Default)]
struct CountingBudget(AtomicUsize);

#[async_trait]
impl RequestBudget for CountingBudget {
    async fn acquire(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn scripted_observer_and_budget_see_every_attempt() {
    let server = FakeServer::start(|_, n| match n {
        0 => Canned::ibm_error(503, "unavailable"),
        _ => model_json(),
    })
    .await;
    let mut config = server.config(Auth::None);
    config.retry = fast_policy(3);
    let observer = Arc::new(Recorder::default());
    let budget = Arc::new(CountingBudget::default());
    config.observer = Some(observer.clone());
    config.budget = Some(budget.clone());
    let client = SttClient::new(config).expect("client");
    client.get_language_model("m1").await.expect("ok");
    assert_eq!(
        observer.seen.lock().clone(),
        vec![
            (Operation::GetLanguageModel, Some(503)),
            (Operation::GetLanguageModel, Some(200))
        ]
    );
    assert_eq!(budget.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn governor_limiter_is_a_budget() {
    use governor::{Quota, RateLimiter};
    use std::num::NonZeroU32;
    let server = FakeServer::start(|_, _| model_json()).await;
    let limiter = Arc::new(RateLimiter::direct(Quota::per_second(
        NonZeroU32::new(1000).expect("non-zero"),
    )));
    let mut config = server.config(Auth::None);
    config.budget = Some(limiter);
    let client = SttClient::new(config).expect("client");
    for _ in 0..3 {
        client.get_language_model("m1").await.expect("ok");
    }
    assert_eq!(server.requests().len(), 3);
}

// ----- against the simulator -----

use crate::sim;

mod simulator {
    use super::sim::{self, start_sim};
    use super::*;
    use watson_speech_operator::simulator::Faults;

    #[tokio::test]
    async fn sim_retries_honour_retry_after_and_are_bounded() {
        let s = start_sim(0.001).await;
        let mut config = sim::config(&s, &s.stt_url(), sim::API_KEY);
        config.retry = RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            max_elapsed: Duration::from_secs(30),
        };
        let stt = SttClient::new(config).expect("client");
        stt.list_models()
            .await
            .expect("token fetched before the faults");
        let admin = s.admin();
        let mut faults = Faults::default();
        faults.error_rates.insert("429".into(), 1.0);
        faults.retry_after_seconds = 1;
        admin.set_faults(&faults).await.expect("faults");
        let since = admin.requests(0).await.expect("log").next_seq;

        let e = stt.list_language_models(None).await.expect_err("still 429");
        assert_eq!(e.status(), Some(429));

        let log = admin.requests(since).await.expect("log").requests;
        let attempts: Vec<_> = log
            .iter()
            .filter(|r| r.operation.as_deref() == Some("list_language_models"))
            .collect();
        assert_eq!(attempts.len(), 3, "1 attempt + 2 retries: {attempts:?}");
        for pair in attempts.windows(2) {
            let gap = pair[1].at_ms - pair[0].at_ms;
            assert!(gap >= 1000, "retried {gap} ms after a Retry-After of 1 s");
        }
        let counters = admin.counters().await.expect("counters");
        assert_eq!(counters.get(Operation::ListLanguageModels, 429), 3);
        s.shutdown().await;
    }

    #[tokio::test]
    async fn sim_5xx_retries_only_idempotent_calls() {
        let s = start_sim(0.001).await;
        let mut config = sim::config(&s, &s.stt_url(), sim::API_KEY);
        config.retry = fast_policy(3);
        let stt = SttClient::new(config).expect("client");
        stt.list_models()
            .await
            .expect("token fetched before the faults");
        let admin = s.admin();
        let mut faults = Faults::default();
        faults.error_rates.insert("503".into(), 1.0);
        admin.set_faults(&faults).await.expect("faults");

        stt.get_language_model("00000000-0000-0000-0000-000000000000")
            .await
            .expect_err("503");
        stt.create_language_model(&CreateLanguageModel {
            name: "n".into(),
            base_model_name: "en-US_BroadbandModel".into(),
            ..Default::default()
        })
        .await
        .expect_err("503");
        let counters = admin.counters().await.expect("counters");
        assert_eq!(counters.total_for(Operation::GetLanguageModel), 4);
        assert_eq!(counters.total_for(Operation::CreateLanguageModel), 1);

        // A flaky service: retries get through.
        let mut faults = Faults::default();
        faults.error_rates.insert("503".into(), 0.3);
        admin.set_faults(&faults).await.expect("faults");
        let mut config = sim::config(&s, &s.stt_url(), sim::API_KEY);
        config.retry = RetryPolicy {
            max_retries: 12,
            ..fast_policy(12)
        };
        let patient = SttClient::new(config).expect("client");
        admin.clear_faults().await.expect("clear");
        patient.list_models().await.expect("token");
        admin.set_faults(&faults).await.expect("faults");
        for _ in 0..5 {
            patient
                .list_models()
                .await
                .expect("retried through 50% 503s");
        }
        s.shutdown().await;
    }
}
