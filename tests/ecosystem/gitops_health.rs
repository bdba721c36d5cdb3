//! Health as GitOps tools read it, proven with the real libraries on live objects: kstatus
//! (`sigs.k8s.io/cli-utils`, what Flux and kpt use) and the Argo CD health script of the chart
//! (`charts/watson-speech-operator/files/argocd-health.lua`) run by gopher-lua, the interpreter
//! Argo CD embeds, both through the Go tool `tools/health` (built by `tools/health/build.sh`).
//! Also: an operation that never finishes (the simulator's hold knob) is flagged
//! `OperationOverdue` with a Warning Event, and nothing is re-created or deleted.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource};
use serde_json::{Value, json};
use support::fixture::{self, Service};
use support::process::OperatorProcess;
use support::{TestNamespace, control_plane, eventually};
use watson_speech_operator::crd::{CustomLanguageModel, SpeechService};
use watson_speech_operator::simulator::{self, AdminClient};

const API_KEY: &str = "gitops-api-key";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds (or reuses) the health tool; fails loudly: this test never skips.
fn health_tool() -> PathBuf {
    let out = Command::new(repo().join("tools/health/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tools/health/build.sh");
    assert!(out.status.success(), "tools/health/build.sh failed");
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().expect("the tool's path").trim())
}

/// Runs the health tool with `args` on the object; its JSON answer.
fn run_tool(tool: &Path, args: &[&std::ffi::OsStr], obj: &Value) -> Value {
    use std::io::Write;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the health tool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(obj.to_string().as_bytes())
        .expect("write object");
    let out = child.wait_with_output().expect("health tool");
    assert!(
        out.status.success(),
        "health tool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("health tool output")
}

/// kstatus's verdict on a live object (for failure reports).
fn kstatus_message(tool: &Path, obj: &Value) -> String {
    run_tool(tool, &[], obj).to_string()
}

/// (kstatus status, Argo CD status, Argo CD message) of a live object.
fn judge(tool: &Path, obj: &Value) -> (String, String, String) {
    let lua = repo().join("charts/watson-speech-operator/files/argocd-health.lua");
    // Argo CD runs a resource.customizations.health entry with the restricted libraries.
    let args = ["--lua".as_ref(), lua.as_os_str(), "--no-open-libs".as_ref()];
    let v = run_tool(tool, &args, obj);
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kstatus/status"), s("/argo/status"), s("/argo/message"))
}

async fn raw<
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + serde::Serialize,
>(
    api: &Api<K>,
    name: &str,
) -> Value {
    serde_json::to_value(api.get(name).await.expect("get")).expect("json")
}

/// Waits until the tool judges the object `(kstatus, argo)`.
async fn until_judged<K>(tool: &Path, api: &Api<K>, name: &str, want: (&str, &str)) -> Value
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + serde::Serialize,
{
    let mut last = (String::new(), String::new(), String::new());
    let mut last_kstatus = String::new();
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            if let Ok(Some(obj)) = api.get_opt(name).await {
                let v = serde_json::to_value(obj).expect("json");
                last = judge(tool, &v);
                last_kstatus = format!(
                    "{} {}",
                    kstatus_message(tool, &v),
                    v.pointer("/status/conditions").cloned().unwrap_or_default()
                );
                if (last.0.as_str(), last.1.as_str()) == want {
                    return v;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!("{name}: wanted {want:?}, last judged {last:?}, kstatus said {last_kstatus}")
    })
}

/// A language model with one corpus; the keys of `spec` are added or replace those.
fn lm(name: &str, spec: Value) -> CustomLanguageModel {
    let corpus =
        json!({"corpora": [{"name": "c", "source": {"text": "gitops health corpus text"}}]});
    fixture::language_model(name, fixture::merge(corpus, spec))
}

/// SpeechService `stt` with the Secret `creds` (valid) and `refused` with `wrong` (a refused key).
async fn setup_services(ns: &TestNamespace, sim: &simulator::RunningSimulator) {
    fixture::credentials_and_services(ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
    fixture::create(
        ns,
        &fixture::secret("wrong", &[("apikey", "not-a-valid-key")]),
    )
    .await;
    let auth = fixture::iam_auth(&sim.base_url(), "wrong");
    let refused = fixture::speech_service("refused", "SpeechToText", &sim.stt_url(), auth);
    fixture::create(ns, &refused).await;
}

async fn customization_id(api: &Api<CustomLanguageModel>, name: &str) -> String {
    eventually(
        &format!("{name} has an ID"),
        Duration::from_secs(60),
        || async { api.get(name).await.ok()?.status?.model.customization_id },
    )
    .await
}

#[tokio::test]
async fn kstatus_and_the_argo_cd_script_read_every_phase_right() {
    let Some(cp) = control_plane() else { return };
    let tool = health_tool();
    let sim = support::operator::own_simulator(API_KEY, 0.01).await;
    let admin = AdminClient::new(sim.base_url()).expect("admin");
    let ns = cp.namespace("gitops").await;
    setup_services(&ns, &sim).await;
    let args = [
        "--namespaces",
        &ns.name,
        // Long: the SpeechService's model count must follow creates and deletes at once, not at
        // its next drift check.
        "--drift-interval-seconds",
        "300",
        "--expected-training-seconds",
        "1",
        "--expected-analysis-seconds",
        "1",
        "--overdue-factor",
        "3",
        "--max-poll-seconds",
        "1",
        "--metrics-address",
        "127.0.0.1:0",
    ];
    let log = cp.dir.join(format!("gitops-{}.log", ns.name));
    let _op = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);
    let services = ns.api::<SpeechService>();
    let models = ns.api::<CustomLanguageModel>();

    // SpeechService: credentials accepted → Current/Healthy; refused → Failed/Degraded.
    until_judged(&tool, &services, "stt", ("Current", "Healthy")).await;
    let refused = until_judged(&tool, &services, "refused", ("Failed", "Degraded")).await;
    assert!(refused.pointer("/status/conditions").is_some());

    // Work in progress that never ends (held on the service): InProgress/Progressing, then
    // flagged as overdue, and still nothing re-created or deleted.
    models
        .create(&PostParams::default(), &lm("slow", json!({})))
        .await
        .expect("create");
    let id = customization_id(&models, "slow").await;
    admin.hold(&id, true).await.expect("hold");
    models_in_use(&services, 1).await;
    until_judged(&tool, &models, "slow", ("InProgress", "Progressing")).await;
    let overdue = eventually("slow is overdue", Duration::from_secs(60), || async {
        let m = models.get("slow").await.ok()?;
        let c = m.status?.model.conditions;
        c.into_iter()
            .find(|c| c.type_ == "Ready" && c.reason == "OperationOverdue")
    })
    .await;
    assert!(
        overdue.message.contains("times the expected"),
        "{}",
        overdue.message
    );
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events");
    let warnings: Vec<_> = events
        .items
        .iter()
        .filter(|e| {
            e.type_.as_deref() == Some("Warning") && e.reason.as_deref() == Some("OperationOverdue")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "one Warning Event");
    let v = raw(&models, "slow").await;
    assert_eq!(
        judge(&tool, &v).0,
        "InProgress",
        "overdue is still work in progress"
    );
    let calls = admin.requests(0).await.expect("log").requests;
    let mutating = |op: &str| {
        calls.iter().any(|r| {
            r.customization_id.as_deref() == Some(id.as_str()) && r.operation.as_deref() == Some(op)
        })
    };
    assert!(!mutating("delete_language_model") && !mutating("delete_corpus"));
    let created = calls
        .iter()
        .filter(|r| r.operation.as_deref() == Some("create_language_model"))
        .count();
    assert_eq!(created, 1, "nothing re-created");

    // Released: Available → Current/Healthy.
    admin.hold(&id, false).await.expect("release");
    until_judged(&tool, &models, "slow", ("Current", "Healthy")).await;

    // A training that failed on the service: Failed/Degraded at once, with the reason.
    let manual = json!({"training": {"policy": "Manual"}});
    models
        .create(&PostParams::default(), &lm("broken", manual))
        .await
        .expect("create");
    let id = customization_id(&models, "broken").await;
    // Manual policy: the model waits for a request. Neither Reconciling nor Stalled, so kstatus
    // falls back to Ready (False): InProgress, as it documents for a Ready condition.
    let reason = |v: &Value, t: &str| {
        v.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == t))
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or("").to_string(),
                    c["reason"].as_str().unwrap_or("").to_string(),
                )
            })
    };
    let waiting = eventually(
        "broken waits for a request",
        Duration::from_secs(60),
        || async {
            let v = raw(&models, "broken").await;
            (reason(&v, "Ready").map(|r| r.1).as_deref() == Some("TrainingPending")).then_some(v)
        },
    )
    .await;
    let (kstatus, argo, _) = judge(&tool, &waiting);
    assert_eq!(
        (kstatus.as_str(), argo.as_str()),
        ("InProgress", "Progressing")
    );
    assert_eq!(
        reason(&waiting, "Reconciling").map(|r| r.0),
        Some("False".into())
    );
    assert_eq!(
        reason(&waiting, "Stalled").map(|r| r.0),
        Some("False".into())
    );
    admin.fail_next_training(&id).await.expect("fail next");
    let token = json!({"metadata": {"annotations": {"speech.watson.dev/train-requested-at": "1"}}});
    models
        .patch("broken", &PatchParams::default(), &Patch::Merge(&token))
        .await
        .expect("request training");
    let failed = until_judged(&tool, &models, "broken", ("Failed", "Degraded")).await;
    let (_, _, message) = judge(&tool, &failed);
    assert!(message.contains("TrainingFailed"), "{message}");

    // Suspended: Argo CD Suspended (kstatus: Ready False, InProgress); deleted while suspended:
    // Terminating (the finalizer stays).
    models
        .create(
            &PostParams::default(),
            &lm("paused", json!({"suspend": true})),
        )
        .await
        .expect("create");
    until_judged(&tool, &models, "paused", ("InProgress", "Suspended")).await;
    models
        .delete("paused", &DeleteParams::default())
        .await
        .expect("delete");
    until_judged(&tool, &models, "paused", ("Terminating", "Progressing")).await;

    // The SpeechService's count follows a deletion at once too.
    models_in_use(&services, 2).await;
    models
        .delete("slow", &DeleteParams::default())
        .await
        .expect("delete slow");
    models_in_use(&services, 1).await;
}

/// Waits (well inside the 300 s drift interval) until the SpeechService `stt` counts `n` models.
async fn models_in_use(services: &Api<SpeechService>, n: i64) {
    eventually(
        &format!("stt counts {n} models"),
        Duration::from_secs(20),
        || async {
            let s = services.get("stt").await.ok()?;
            (s.status?.models_in_use == Some(n)).then_some(())
        },
    )
    .await;
}
