//! Scenario 9 (issue 26, "large inputs streamed"): an acoustic model whose audio comes from a
//! large `url` source. The operator reads the source once for its digest and streams it again to
//! the service, so its memory must not grow with the size of the audio: the target is a peak RSS
//! at most 32 MiB above the operator's RSS before the model was created.
//!
//! The source is a file server in the benchmark process on loopback (the operator runs with
//! `--allow-http-sources --source-allowed-networks 127.0.0.1/32`), serving raw 16 kHz L16 audio
//! (zeros) of the size asked. A source announced (Content-Length) within IBM's 100 MB limit is
//! uploaded; one not announced and larger than the limit is read up to the limit and refused
//! (`InputTooLarge`): both are read in full streaming passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watson_speech_operator::crd::CustomAcousticModel;

use super::harness::*;

/// One source size.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LargeAudioRun {
    /// Size of the source in MiB.
    pub source_mib: u64,
    /// Whether the source announced its length (Content-Length).
    pub announced: bool,
    /// Bytes the source server sent, over every GET of the operator.
    pub served_bytes: u64,
    /// Bytes of audio the simulator received in the upload (0 when refused).
    pub uploaded_bytes: u64,
    /// `uploaded` (the service holds the audio) or the reason the model reported.
    pub outcome: String,
    /// The operator's RSS just before the model was created, MiB.
    pub baseline_rss_mib: f64,
    /// The operator's peak RSS (VmHWM) once the outcome was seen, MiB.
    pub peak_rss_mib: f64,
    /// `peak_rss_mib - baseline_rss_mib`.
    pub rise_mib: f64,
    /// From the create to the outcome, s.
    pub seconds: f64,
}

/// Scenario 9's results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LargeAudio {
    /// The operator binary's build (`release` under `make bench`, `debug` otherwise).
    pub build: String,
    pub runs: Vec<LargeAudioRun>,
}

/// Serves `bytes` zeros at any path, with or without Content-Length; counts what it sent.
async fn serve_zeros(bytes: u64, announced: bool, sent: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = match announced {
                    true => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {bytes}\r\nconnection: close\r\n\r\n"
                    ),
                    false => "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n".to_string(),
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![0u8; 64 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if socket.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    left -= n as u64;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/calls.l16")
}

/// Runs one acoustic model per `(MiB, announced)` source, each with its own simulator, namespace
/// and operator process.
pub async fn large_audio(env: &Env, sources: &[(u64, bool)], timeout_s: u64) -> LargeAudio {
    let mut runs = Vec::new();
    for &(mib, announced) in sources {
        let sim = start_simulator(0.01, 1024).await;
        let ns = namespace_with_services(env, "bench-large-audio", &[("stt", &sim, None)]).await;
        let mut flags = OperatorFlags::scaled(0.01);
        flags.extra = vec![
            "--allow-http-sources".into(),
            "--source-allowed-networks".into(),
            "127.0.0.1/32".into(),
        ];
        let op = Operator::start(env, &ns.name, &flags, &format!("large-audio-{mib}"));
        op.wait_ready().await;
        // The service's own check first, so the baseline holds its client and listings.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let baseline = op.mem().expect("operator memory");
        let sent = Arc::new(AtomicU64::new(0));
        let bytes = mib * 1024 * 1024;
        let url = serve_zeros(bytes, announced, sent.clone()).await;
        let api: Api<CustomAcousticModel> = ns.api();
        let am: CustomAcousticModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
            "metadata": {"name": "large"},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "training": {"policy": "Manual"},
                     "audio": [{"name": "calls", "contentType": "audio/l16;rate=16000",
                                "source": {"url": url}}]}
        }))
        .expect("acoustic model");
        let started = Instant::now();
        api.create(&PostParams::default(), &am)
            .await
            .expect("create acoustic model");
        let outcome = wait_for(
            "the large audio uploaded or refused",
            Duration::from_secs(timeout_s),
            || async {
                let status = serde_json::to_value(api.get("large").await.ok()?.status?).ok()?;
                let uploaded = status["audio"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r["name"] == "calls"));
                if uploaded {
                    return Some("uploaded".to_string());
                }
                status["conditions"].as_array()?.iter().find_map(|c| {
                    let reason = c["reason"].as_str()?;
                    matches!(
                        reason,
                        "InputTooLarge" | "InputFetchFailed" | "TransportError"
                    )
                    .then(|| reason.to_string())
                })
            },
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let peak = op.mem().expect("operator memory");
        let uploaded_bytes = requests(&sim, 0)
            .await
            .iter()
            .filter(|r| {
                r.operation.as_deref() == Some("add_audio") && (200..300).contains(&r.status)
            })
            .map(|_| bytes)
            .sum();
        let run = LargeAudioRun {
            source_mib: mib,
            announced,
            served_bytes: sent.load(Ordering::Relaxed),
            uploaded_bytes,
            outcome,
            baseline_rss_mib: baseline.rss_kib as f64 / 1024.0,
            peak_rss_mib: peak.hwm_kib as f64 / 1024.0,
            rise_mib: (peak.hwm_kib as f64 - baseline.rss_kib as f64) / 1024.0,
            seconds,
        };
        eprintln!("large audio: {run:?}");
        runs.push(run);
        drop(op);
    }
    LargeAudio {
        build: super::build_of(env),
        runs,
    }
}
