//! A fault storm: the service answers every request with 503, then with 429 and a Retry-After.
//! Measured from the simulator's request log: after the first part of each storm at most about
//! one request per second per SpeechService, never a request before a Retry-After has passed,
//! no resource marked Failed, and every resource Ready again soon after the storm ends.
//!
//! `WSO_STORM_SECONDS` sets each storm's length (default 20 s; the long run in
//! docs/reliability.md uses 600).

#[path = "../../support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use support::operator::{self, HasModelStatus, is_ready, wait_for};
use support::{control_plane, fixture};
use watson_speech_operator::crd::CustomLanguageModel;
use watson_speech_operator::simulator::api::{Faults, RequestRecord};

const OPTIONS: operator::Options = operator::Options {
    time_scale: 0.01,
    drift_seconds: 3,
    model_quota: 1024,
    cluster_name: None,
};
const RETRY_AFTER: u64 = 4;
const MODELS: usize = 4;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn lm(i: usize, text: &str) -> CustomLanguageModel {
    let corpus = json!({"corpora": [{"name": "c", "source": {"text": text}}]});
    fixture::language_model(&format!("storm-{i}"), corpus)
}

/// The most requests in any one-second window, and the mean rate, of `log` within [from, to).
fn rates(log: &[&RequestRecord], from: u64, to: u64) -> (usize, f64) {
    let times: Vec<u64> = log
        .iter()
        .map(|r| r.at_ms)
        .filter(|t| *t >= from && *t < to)
        .collect();
    let max = times
        .iter()
        .map(|t| times.iter().filter(|u| **u >= *t && **u < t + 1000).count())
        .max()
        .unwrap_or(0);
    (max, times.len() as f64 / ((to - from) as f64 / 1000.0))
}

#[tokio::test]
async fn storms_are_ridden_out_without_hammering_or_failing() {
    let Some(cp) = control_plane() else { return };
    let base = operator::start(cp, OPTIONS);
    let (ns, admin) = operator::namespace(cp, base, "storm").await;
    let storm = Duration::from_secs(
        std::env::var("WSO_STORM_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let api: Api<CustomLanguageModel> = ns.api();
    for i in 0..MODELS {
        api.create(&PostParams::default(), &lm(i, "before the storm"))
            .await
            .expect("create");
    }
    for i in 0..MODELS {
        wait_for(&api, &format!("storm-{i}"), "Ready", 120, is_ready).await;
    }
    // New inputs for everyone, then the storm hits while they are being applied.
    for i in 0..MODELS {
        api.patch(
            &format!("storm-{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"corpora": [{"name": "c", "source": {"text": "during the storm"}}]}})),
        )
        .await
        .expect("edit");
    }
    let mut phases_seen = std::collections::BTreeSet::new();
    let mut windows = Vec::new();
    for (status, retry_after) in [("503", 0), ("429", RETRY_AFTER)] {
        let start = now_ms();
        admin
            .set_faults(&Faults {
                error_rates: [(status.to_string(), 1.0)].into(),
                retry_after_seconds: retry_after,
                ..Default::default()
            })
            .await
            .expect("faults");
        let until = Instant::now() + storm;
        while Instant::now() < until {
            for m in api.list(&Default::default()).await.expect("list").items {
                if let Some(p) = m.model().and_then(|s| s.phase.clone()) {
                    phases_seen.insert(p.as_str().to_string());
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        windows.push((status, start, now_ms()));
    }
    admin.clear_faults().await.expect("clear");
    let cleared = Instant::now();
    for i in 0..MODELS {
        wait_for(
            &api,
            &format!("storm-{i}"),
            "Ready after the storm",
            180,
            |m| {
                is_ready(m)
                    && m.model()
                        .is_some_and(|s| s.observed_generation == m.metadata.generation)
            },
        )
        .await;
    }
    let recovery = cleared.elapsed();

    let log = admin.requests(0).await.expect("log").requests;
    let stt: Vec<&RequestRecord> = log
        .iter()
        .filter(|r| r.path.starts_with("/speech-to-text"))
        .collect();
    for (status, start, end) in &windows {
        // Skip the first quarter: requests already in flight when the storm began, and the
        // first pauses, which are short by design.
        let warm = start + (end - start) / 4;
        let (max, mean) = rates(&stt, warm, *end);
        eprintln!(
            "storm {status}: {:.0} s, after warm-up max {max} requests in any second, mean {mean:.2}/s",
            (end - start) as f64 / 1000.0
        );
        assert!(max <= 2, "{status} storm: {max} requests in one second");
        assert!(mean <= 1.0, "{status} storm: {mean:.2} requests per second");
    }
    // Retry-After: after a 429, the service hears nothing until it has passed.
    let (_, start, end) = windows[1];
    for (i, r) in stt.iter().enumerate() {
        if r.status != 429 || r.at_ms < start + 1000 || r.at_ms >= end {
            continue;
        }
        if let Some(next) = stt[i + 1..].iter().find(|n| n.at_ms > r.at_ms) {
            assert!(
                next.at_ms + 10 >= r.at_ms + RETRY_AFTER * 1000,
                "a request {} ms after a 429 with Retry-After {RETRY_AFTER} s",
                next.at_ms - r.at_ms
            );
        }
    }
    assert!(
        !phases_seen.contains("Failed"),
        "no resource marked Failed by the storm: {phases_seen:?}"
    );
    eprintln!("phases during the storm: {phases_seen:?}; all Ready {recovery:?} after it ended");
    assert!(
        recovery <= Duration::from_secs(90),
        "recovered in {recovery:?}"
    );
}
