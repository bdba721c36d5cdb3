//! Inputs a tenant or a remote controls, sized to hurt, against the operator as a process (its
//! memory measured on its own, `/proc/<pid>/status`): a `wordsFrom` ConfigMap that is a YAML
//! alias bomb (about 270 KB expanding to gigabytes; `serde_yaml` took the operator past 1.5 GiB),
//! word lists over the entry cap, and a "service" answering every call with an endless body.
//! Each model reports its reason naming the field, other models keep working, and the operator's
//! peak RSS stays within 32 MiB of its baseline (issue 26, "bounded input").
//!
//! A binary of its own: it runs an operator process and reads its memory.

#[path = "../../support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ObjectMeta;
use serde_json::json;
use support::fixture::{self, Service};
use support::operator::{HasModelStatus, condition, is_ready, wait_for};
use support::process::OperatorProcess;
use support::{control_plane, eventually, free_port};
use watson_speech_operator::crd::{CustomLanguageModel, CustomVoiceModel, SpeechService};

const API_KEY: &str = "hostile-api-key";
const MIB: u64 = 1024 * 1024;

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The ConfigMap of the report: about 270 KB, one anchor holding a 30 KB string and thousands of
/// aliases to it (about 20,000 × 30 KB = 600 MB once expanded).
fn alias_bomb(entry: &str) -> String {
    let mut doc = format!("- {entry}: &long \"{}\"\n", "x".repeat(30_000));
    while doc.len() < 270_000 {
        doc.push_str(&format!("- {entry}: *long\n"));
    }
    doc
}

fn config_map(name: &str, key: &str, value: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([(key.to_string(), value)].into()),
        ..Default::default()
    }
}

/// A server that answers every request with a chunked body of `[` without end (until the
/// client goes away); counts the bytes it wrote.
async fn endless_body() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'['; 1024 * 1024];
                let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                frame.extend_from_slice(&chunk);
                frame.extend_from_slice(b"\r\n");
                // At most 1 GiB per answer: more than any limit, less than forever.
                for _ in 0..1024 {
                    if socket.write_all(&frame).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (url, written)
}

/// The Ready condition's message.
fn ready_message(m: &impl HasModelStatus) -> String {
    m.model()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Waits for Ready=False with `reason`; returns the message.
async fn refused<K>(api: &Api<K>, name: &str, reason: &str) -> String
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasModelStatus,
{
    let m = wait_for(api, name, reason, 90, |m| {
        condition(m, "Ready") == Some(("False".into(), reason.into()))
    })
    .await;
    ready_message(&m)
}

#[tokio::test]
async fn hostile_inputs_keep_the_operator_small_and_the_others_working() {
    let Some(cp) = control_plane() else { return };
    let sim = support::operator::own_simulator(API_KEY, 0.002).await;
    let ns = cp.namespace("hostile").await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt, Service::Tts])
        .await;
    let port = free_port();
    let metrics_address = format!("127.0.0.1:{port}");
    let args = support::process::watching_args(&metrics_address, &ns.name);
    let log = cp.dir.join("hostile-operator.log");
    let operator = OperatorProcess::start(&cp.kubeconfig, &args, &[], &log);
    let lms: Api<CustomLanguageModel> = ns.api();
    let corpus = json!({"corpora": [{"name": "c", "source": {"text": "a tenant's own words"}}]});
    fixture::create(&ns, &fixture::language_model("first", corpus.clone())).await;
    wait_for(&lms, "first", "Ready", 120, is_ready).await;
    let pid = operator.pid().expect("operator pid");
    let baseline = memory(pid, "VmRSS");

    // The alias bomb, for both kinds that read word lists.
    fixture::create(&ns, &config_map("bomb", "words.yaml", alias_bomb("word"))).await;
    fixture::create(
        &ns,
        &config_map(
            "vbomb",
            "words.yaml",
            alias_bomb("translation").replace("- translation:", "- word: w\n  translation:"),
        ),
    )
    .await;
    let words_from =
        |cm: &str| json!({"wordsFrom": {"configMapKeyRef": {"name": cm, "key": "words.yaml"}}});
    fixture::create(&ns, &fixture::language_model("bombed", words_from("bomb"))).await;
    let vms: Api<CustomVoiceModel> = ns.api();
    fixture::create(&ns, &fixture::voice_model("vbombed", words_from("vbomb"))).await;
    // Over the entry cap of spec.words (10,000).
    fixture::create(
        &ns,
        &config_map("many", "words.yaml", "- word: w\n".repeat(10_001)),
    )
    .await;
    fixture::create(&ns, &fixture::language_model("toomany", words_from("many"))).await;
    // A service whose every answer is an endless body.
    let (endless, written) = endless_body().await;
    fixture::create(&ns, &fixture::secret("bearer", &[("token", "t")])).await;
    fixture::create(
        &ns,
        &fixture::speech_service(
            "endless",
            "SpeechToText",
            &format!("{endless}/speech-to-text"),
            fixture::bearer_auth("bearer"),
        ),
    )
    .await;
    fixture::create(
        &ns,
        &fixture::language_model("starved", json!({"serviceRef": {"name": "endless"}})),
    )
    .await;

    for (name, message) in [
        ("bombed", refused(&lms, "bombed", "InputMalformed").await),
        ("vbombed", refused(&vms, "vbombed", "InputMalformed").await),
    ] {
        assert!(
            message.contains("spec.wordsFrom (ConfigMap") && message.contains("anchors"),
            "{name}: {message}"
        );
        assert!(
            !message.contains("xxxx"),
            "{name}: the content is repeated: {message}"
        );
    }
    let message = refused(&lms, "toomany", "InputTooLarge").await;
    assert!(
        message.contains("spec.wordsFrom") && message.contains("10000"),
        "{message}"
    );
    let services: Api<SpeechService> = ns.api();
    let service_message = eventually(
        "the endless service refused",
        Duration::from_secs(90),
        || {
            let services = services.clone();
            async move {
                let s = services.get("endless").await.ok()?;
                let c = s
                    .status?
                    .conditions
                    .into_iter()
                    .find(|c| c.type_ == "Ready")?;
                (c.status == "False" && c.message.contains("larger than")).then_some(c.message)
            }
        },
    )
    .await;
    assert!(service_message.len() < 1024, "{service_message}");

    // Other models keep working, on the same services and after all of the above.
    fixture::create(&ns, &fixture::language_model("second", corpus)).await;
    fixture::create(
        &ns,
        &fixture::voice_model(
            "vsecond",
            json!({"words": [{"word": "IEEE", "translation": "I triple E"}]}),
        ),
    )
    .await;
    wait_for(&lms, "second", "Ready", 120, is_ready).await;
    wait_for(&vms, "vsecond", "Ready", 120, is_ready).await;
    assert!(operator.pid() == Some(pid), "the operator restarted");

    let peak = memory(pid, "VmHWM");
    println!(
        "operator RSS: baseline {:.1} MiB, peak {:.1} MiB; the endless service wrote {:.1} MiB",
        baseline as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        written.load(Ordering::SeqCst) as f64 / MIB as f64
    );
    assert!(
        peak <= baseline + 32 * MIB,
        "peak RSS {} MiB, baseline {} MiB",
        peak / MIB,
        baseline / MIB
    );
}
