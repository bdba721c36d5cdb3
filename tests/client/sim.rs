//! Helpers for client tests against the in-process IBM simulator.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use url::Url;
use watson_speech_operator::simulator::{self, RunningSimulator, SimulatorConfig};
use watson_speech_operator::watson::{Auth, ClientConfig, RetryPolicy, SttClient, TtsClient};

pub const API_KEY: &str = "test-key";

/// Starts a simulator with compressed time (`time_scale`) and one API key.
pub async fn start_sim(time_scale: f64) -> RunningSimulator {
    simulator::start(SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        api_keys: vec![API_KEY.to_string()],
        time_scale,
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

pub fn url(s: &str) -> Url {
    Url::parse(s).expect("url")
}

/// A config for the simulator's STT or TTS URL with IAM auth and no retries.
pub fn config(sim: &RunningSimulator, service_url: &str, key: &str) -> ClientConfig {
    let mut c = ClientConfig::new(
        url(service_url),
        Auth::Iam {
            api_key: SecretString::from(key.to_string()),
            url: url(&sim.iam_url()),
        },
    );
    c.retry = RetryPolicy::none();
    c.first_byte_timeout = Duration::from_secs(20);
    c.idle_timeout = Duration::from_secs(20);
    c
}

pub fn stt(sim: &RunningSimulator) -> SttClient {
    SttClient::new(config(sim, &sim.stt_url(), API_KEY)).expect("stt client")
}

pub fn tts(sim: &RunningSimulator) -> TtsClient {
    TtsClient::new(config(sim, &sim.tts_url(), API_KEY)).expect("tts client")
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `seconds` of real 16-bit mono PCM at `rate` (a tone): the simulator measures the audio it
/// receives, as IBM does.
pub fn wav(rate: u32, seconds: f64) -> Vec<u8> {
    watson_speech_operator::simulator::audio::tone_wav(rate, seconds)
}

/// A zip archive of named files.
pub fn zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in files {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(data).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}
