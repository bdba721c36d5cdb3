//! A cluster full of objects that have nothing to do with speech models (issue 11): the
//! operator opens one watch stream per watched kind, watches Secrets and ConfigMaps metadata
//! only, and an unrelated change wakes no model while a change of a referenced ConfigMap does.
//!
//! Its own test binary: the API server's `/metrics` then counts only this operator's watches.

#[path = "../../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use support::fixture::{self, Service};
use support::process::OperatorProcess;
use support::{control_plane, eventually, free_port};
use watson_speech_operator::crd::CustomLanguageModel;

const API_KEY: &str = "real-cluster-key";

/// `name{labels} value` lines of a Prometheus text scrape whose name is `name` and whose labels
/// include every pair of `want`, summed.
fn sum(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = series.split_once('{').unwrap_or((series, ""));
            (n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

/// The API server's LIST responses for `resource`: their number (`stat` "count") or their
/// bytes ("sum"), from `apiserver_response_sizes`.
fn list_responses(text: &str, stat: &str, resource: &str) -> f64 {
    sum(
        text,
        &format!("apiserver_response_sizes_{stat}"),
        &[("resource", resource), ("verb", "LIST")],
    )
}

/// What the API server sent about `resource` in LIST responses and watch events: their number
/// (`stat` "count") or their bytes ("sum").
fn sent(text: &str, stat: &str, resource: &str) -> f64 {
    let events = match stat {
        "sum" => "apiserver_watch_events_sizes_sum",
        _ => "apiserver_watch_events_total",
    };
    list_responses(text, stat, resource) + sum(text, events, &[("resource", resource)])
}

async fn apiserver_metrics(client: &kube::Client) -> String {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    client.request_text(req).await.expect("API server /metrics")
}

/// WATCH requests open now, by resource (the API server's `apiserver_longrunning_requests`).
fn open_watches(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let Some(rest) = l.strip_prefix("apiserver_longrunning_requests{") else {
            continue;
        };
        if !rest.contains("verb=\"WATCH\"") {
            continue;
        }
        let Some(resource) = rest
            .split("resource=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let value: f64 = l
            .rsplit_once(' ')
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0.0);
        *out.entry(resource.to_string()).or_default() += value;
    }
    out.retain(|_, v| *v > 0.0);
    out
}

/// The watches in `now` beyond those of `baseline`.
fn added(
    baseline: &BTreeMap<String, f64>,
    mut now: BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    for (resource, n) in baseline {
        if let Some(v) = now.get_mut(resource) {
            *v -= n;
        }
    }
    now.retain(|_, v| *v > 0.0);
    now
}

fn config_map(name: &str, data: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("text".to_string(), data.to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrelated_objects_cost_one_metadata_stream_and_wake_nothing() {
    let Some(cp) = control_plane() else { return };
    let client = cp.client().await.expect("client");
    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let ns = cp.namespace("real-cluster").await;
    let secrets = ns.api::<Secret>();
    let config_maps = ns.api::<ConfigMap>();
    let pp = PostParams::default();
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
    config_maps
        .create(&pp, &config_map("corpus", "the first corpus"))
        .await
        .expect("corpus");
    // Unrelated objects in the watched namespace: Secrets the size of Helm release Secrets.
    let blob = ByteString(vec![7u8; 100 * 1024]);
    for i in 0..10 {
        secrets
            .create(
                &pp,
                &Secret {
                    metadata: ObjectMeta {
                        name: Some(format!("sh.helm.release.v1.app{i}.v1")),
                        ..Default::default()
                    },
                    data: Some([("release".to_string(), blob.clone())].into()),
                    ..Default::default()
                },
            )
            .await
            .expect("unrelated secret");
        config_maps
            .create(&pp, &config_map(&format!("unrelated-{i}"), "x"))
            .await
            .expect("unrelated config map");
    }

    // More ConfigMaps than a page holds: the operator's initial LIST, where the server cannot
    // stream it, comes in pages.
    for i in 0..(watson_speech_operator::reconcile::run::WATCH_PAGE_SIZE + 20) {
        config_maps
            .create(&pp, &config_map(&format!("page-{i}"), "x"))
            .await
            .expect("config map");
    }

    // The API server's own informers watch too: count what the operator adds.
    let text = apiserver_metrics(&client).await;
    let baseline = open_watches(&text);
    let config_map_lists_before = list_responses(&text, "count", "configmaps");
    let secret_bytes_before = sent(&text, "sum", "secrets");
    let secret_sends_before = sent(&text, "count", "secrets");
    // This control plane (1.34 or later) streams a watch's initial state, and the operator's
    // probe must say so; the operator uses it only with --streaming-lists (off by default: more
    // memory than pages at 10,000 models), so this run lists in pages.
    let probe =
        watson_speech_operator::reconcile::run::streams_initial_events(&client, Some(&ns.name))
            .await;
    let version = client.apiserver_version().await.expect("version");
    let minor: u32 = version
        .minor
        .trim_end_matches('+')
        .parse()
        .expect("minor version");
    if minor >= 34 {
        assert!(
            probe,
            "Kubernetes 1.{minor} streams initial watch events, but the probe says it does not"
        );
    }
    let port = free_port();
    let metrics_address = format!("127.0.0.1:{port}");
    let args = support::process::watching_args(&metrics_address, &ns.name);
    let log = cp.dir.join("real-cluster-operator.log");
    let _operator = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "referencing"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c", "source": {"configMapKeyRef": {"name": "corpus", "key": "text"}}}]}
    }))
    .expect("lm");
    let models: Api<CustomLanguageModel> = ns.api();
    models.create(&pp, &lm).await.expect("create");
    let trained = |m: &CustomLanguageModel| {
        let st = m.status.as_ref().map(|s| &s.model);
        let ready = st.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        ready
            .then(|| st.and_then(|s| s.trained_inputs_digest.clone()))
            .flatten()
    };
    let first = eventually("the model Ready", Duration::from_secs(120), || async {
        trained(&models.get("referencing").await.ok()?)
    })
    .await;

    // One stream per watched kind.
    let text = apiserver_metrics(&client).await;
    let watches = added(&baseline, open_watches(&text));
    let want: BTreeMap<String, f64> = [
        "configmaps",
        "customacousticmodels",
        "customlanguagemodels",
        "customvoicemodels",
        "secrets",
        "speechservices",
    ]
    .into_iter()
    .map(|r| (r.to_string(), 1.0))
    .collect();
    assert_eq!(watches, want, "open WATCH requests by resource");
    // Metadata only: the operator's initial state of ten 100 KiB Secrets (and the credentials),
    // listed or streamed, is a few KiB, not a megabyte. (The API server's own informers listed
    // before the baseline.)
    let sent_bytes = sent(&text, "sum", "secrets") - secret_bytes_before;
    let sends = sent(&text, "count", "secrets") - secret_sends_before;
    // Listed in pages: at least one LIST.
    assert!(
        sends >= 1.0,
        "the operator was sent the Secrets ({sends} LIST responses and watch events seen)"
    );
    assert!(
        sent_bytes < 64.0 * 1024.0,
        "the Secrets' initial state sent {sent_bytes} bytes: not metadata-only"
    );
    // A LIST page is decoded whole before the cache strips it (the start-up memory peak): paged.
    let config_map_lists = list_responses(&text, "count", "configmaps") - config_map_lists_before;
    assert!(
        config_map_lists >= 2.0,
        "{config_map_lists} LISTs of more than {} ConfigMaps: not paged",
        watson_speech_operator::reconcile::run::WATCH_PAGE_SIZE
    );

    // Unrelated changes: no reconcile. The API server's count of watch events sent for
    // ConfigMaps tells when the operator has been sent all of them.
    let http = reqwest::Client::new();
    let url = format!("http://{metrics_address}/metrics");
    let reconciles = || async {
        let text = http.get(&url).send().await.ok()?.text().await.ok()?;
        Some(sum(
            &text,
            "wso_reconciles_total",
            &[("kind", "CustomLanguageModel")],
        ))
    };
    let events = |text: &str, resource: &str| {
        sum(
            text,
            "apiserver_watch_events_total",
            &[("resource", resource)],
        )
    };
    let before_text = apiserver_metrics(&client).await;
    let (cm_events, secret_events) = (
        events(&before_text, "configmaps"),
        events(&before_text, "secrets"),
    );
    let before = reconciles().await.expect("operator metrics");
    for round in 0..3 {
        for i in 0..10 {
            config_maps
                .patch(
                    &format!("unrelated-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": {"text": format!("round {round}")}})),
                )
                .await
                .expect("unrelated update");
        }
    }
    let mut bigger = blob.0.clone();
    bigger.push(1);
    for i in 0..10 {
        secrets
            .patch(
                &format!("sh.helm.release.v1.app{i}.v1"),
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"release": ByteString(bigger.clone())}})),
            )
            .await
            .expect("unrelated secret update");
    }
    eventually(
        "the API server sent the 40 events",
        Duration::from_secs(30),
        || async {
            let text = apiserver_metrics(&client).await;
            (events(&text, "configmaps") >= cm_events + 30.0
                && events(&text, "secrets") >= secret_events + 10.0)
                .then_some(())
        },
    )
    .await;
    // Give the operator a moment to act on what it was sent, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = reconciles().await.expect("operator metrics");
    assert_eq!(after, before, "unrelated changes reconciled a model");

    // A change of the referenced ConfigMap wakes its model, which trains on the new text.
    config_maps
        .patch(
            "corpus",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"text": "the second corpus"}})),
        )
        .await
        .expect("corpus update");
    eventually(
        "the model retrained on the new corpus",
        Duration::from_secs(120),
        || async {
            let now = trained(&models.get("referencing").await.ok()?)?;
            (now != first).then_some(())
        },
    )
    .await;
    // Still one stream per kind (nothing re-opened a second one).
    let watches = added(&baseline, open_watches(&apiserver_metrics(&client).await));
    assert_eq!(watches, want, "open WATCH requests by resource, at the end");
}
