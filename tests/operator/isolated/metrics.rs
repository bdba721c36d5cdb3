//! `/metrics` after a lifecycle: the operator runs as a real process with a metrics address,
//! takes a language model to Ready against the simulator, and the scrape (parsed as Prometheus
//! text) holds every family with the expected samples and only bounded labels.

#[path = "../../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::process::OperatorProcess;

use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::fixture::{self, Service};
use support::{control_plane, eventually, free_port};
use watson_speech_operator::crd::CustomLanguageModel;

const API_KEY: &str = "metrics-api-key";

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format (enough of it for these assertions).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => {
                    let body = rest.strip_suffix('}')?;
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .filter_map(|p| {
                            let (k, v) = p.split_once("=\"")?;
                            Some((k.to_string(), v.trim_end_matches('"').to_string()))
                        })
                        .collect();
                    (n.to_string(), labels)
                }
                None => (series.to_string(), BTreeMap::new()),
            };
            Some((name, labels, value))
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_after_a_lifecycle() {
    let Some(cp) = control_plane() else { return };
    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let ns = cp.namespace("metrics").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;

    let port = free_port();
    let metrics_address = format!("127.0.0.1:{port}");
    let args = support::process::watching_args(&metrics_address, &ns.name);
    let log = cp.dir.join("metrics-operator.log");
    let _operator = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);
    let lm: CustomLanguageModel = serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": "measured"},
        "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                 "corpora": [{"name": "c", "source": {"text": "metrics are measured"}}]}
    }))
    .expect("lm");
    let api: Api<CustomLanguageModel> = ns.api();
    api.create(&PostParams::default(), &lm)
        .await
        .expect("create");
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    // Ready, and the sampled model gauges caught up.
    let samples = eventually(
        "the lifecycle in the metrics",
        Duration::from_secs(120),
        || {
            let (http, url, api) = (http.clone(), url.clone(), api.clone());
            async move {
                let m = api.get("measured").await.ok()?;
                let ready = m
                    .status?
                    .model
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                let text = http.get(&url).send().await.ok()?.text().await.ok()?;
                let samples = parse(&text);
                let available = value(
                    &samples,
                    "wso_models",
                    &[("kind", "CustomLanguageModel"), ("phase", "Available")],
                );
                (ready && available == 1.0).then_some(samples)
            }
        },
    )
    .await;

    let families = [
        "wso_reconciles_total",
        "wso_reconcile_duration_seconds_count",
        "wso_ibm_requests_total",
        "wso_ibm_request_duration_seconds_count",
        "wso_models",
        "wso_model_operation_duration_seconds_count",
        "wso_time_to_ready_seconds_count",
        "wso_build_info",
    ];
    for f in families {
        assert!(samples.iter().any(|(n, _, _)| n == f), "family {f} missing");
    }
    assert!(
        value(
            &samples,
            "wso_reconciles_total",
            &[("kind", "CustomLanguageModel"), ("result", "success")]
        ) >= 3.0
    );
    assert_eq!(
        value(
            &samples,
            "wso_ibm_requests_total",
            &[("operation", "create_language_model"), ("code", "201")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "wso_ibm_requests_total",
            &[("operation", "train_language_model"), ("code", "200")]
        ),
        1.0
    );
    assert!(
        value(
            &samples,
            "wso_time_to_ready_seconds_count",
            &[("kind", "CustomLanguageModel")]
        ) >= 1.0
    );
    // Every metric the chart's Grafana dashboard queries is exported.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("charts/watson-speech-operator/files/grafana-dashboard.json"),
    )
    .expect("dashboard");
    // The PromQL of the panels (`expr`) and of the template variables (`query`).
    fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m {
                    match (k.as_str(), child) {
                        ("expr" | "query", serde_json::Value::String(q)) => out.push(q.clone()),
                        (_, child) => exprs(child, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| exprs(i, out)),
            _ => {}
        }
    }
    let mut promql = Vec::new();
    exprs(
        &serde_json::from_str(&dashboard).expect("dashboard JSON"),
        &mut promql,
    );
    let queried: std::collections::BTreeSet<String> = promql
        .iter()
        .flat_map(|q| q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("wso_"))
        .map(str::to_string)
        .collect();
    assert!(queried.len() >= 8, "the dashboard queries {queried:?}");
    for metric in &queried {
        assert!(
            samples.iter().any(|(name, _, _)| name == metric),
            "the dashboard queries {metric}, which /metrics does not export"
        );
    }
    // Bounded labels: no object names, namespaces or customization ids anywhere.
    let id = api
        .get("measured")
        .await
        .expect("get")
        .status
        .and_then(|s| s.model.customization_id)
        .expect("id");
    for (name, labels, _) in &samples {
        for v in labels.values() {
            assert!(
                v != "measured" && v != &ns.name && v != &id,
                "{name} carries an unbounded label value {v}"
            );
        }
    }
}
