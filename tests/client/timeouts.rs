//! The split timeouts of an attempt (issue 26, "large inputs streamed"): connect, first byte
//! (the answer once the body was sent) and idle (no byte moving). An upload streamed from its
//! source that keeps moving is never cut, however long it takes in all; one that stops moving is
//! cut at the idle timeout; a service that never answers at the first-byte timeout.

use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;
use serde_json::json;
use watson_speech_operator::watson::stt_types::AudioFormat;
use watson_speech_operator::watson::{
    Auth, Bytes, Error, SttClient, TransportKind, Upload, UploadStream,
};

use crate::scripted::{Canned, FakeServer};

/// A server answering every request at once (after reading its body), and a client of it with
/// 1 s first-byte and idle timeouts.
async fn quick() -> (FakeServer, SttClient) {
    let server = FakeServer::start(|_, _| Canned::json(201, json!({}))).await;
    let mut config = server.config(Auth::Bearer(SecretString::from("t")));
    config.first_byte_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(1);
    let stt = SttClient::new(config).expect("client");
    (server, stt)
}

/// `chunks` chunks of `size` bytes, one every `every`, from a stream opened per attempt.
fn trickle(chunks: usize, size: usize, every: Duration) -> Upload {
    Upload::new(Some((chunks * size) as u64), move || {
        let s = futures::stream::iter(0..chunks).then(move |i| async move {
            tokio::time::sleep(every).await;
            Ok(Bytes::from(vec![i as u8; size]))
        });
        Box::pin(s) as UploadStream
    })
}

fn is_timeout(e: &Error) -> bool {
    matches!(
        e,
        Error::Transport {
            kind: TransportKind::Timeout,
            ..
        }
    )
}

#[tokio::test]
async fn an_upload_that_keeps_moving_is_not_cut_by_any_timeout() {
    let (server, stt) = quick().await;
    // 8 chunks 400 ms apart: 3.2 s in all, more than three times each timeout.
    let upload = trickle(8, 1000, Duration::from_millis(400));
    stt.add_audio("am1", "slow", &AudioFormat::wav(), upload, false)
        .await
        .expect("a moving upload completes");
    let sent = server.requests_to("/v1/acoustic_customizations/am1/audio/slow");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body.len(), 8000, "every byte arrived");
    assert_eq!(sent[0].header("content-length"), Some("8000"));
    assert_eq!(sent[0].body[7999], 7, "in order");
}

#[tokio::test]
async fn an_upload_that_stops_moving_is_cut_at_the_idle_timeout() {
    let (server, stt) = quick().await;
    // One chunk, then nothing: the source hangs.
    let upload = Upload::new(Some(2000), || {
        let s = futures::stream::iter([Ok(Bytes::from(vec![1u8; 1000]))])
            .chain(futures::stream::pending());
        Box::pin(s) as UploadStream
    });
    let e = stt
        .add_audio("am1", "stuck", &AudioFormat::wav(), upload, false)
        .await
        .expect_err("a stalled upload fails");
    assert!(is_timeout(&e), "{e:?}");
    assert!(e.to_string().contains("made no progress for 1 s"), "{e}");
    assert!(
        server
            .requests_to("/v1/acoustic_customizations/am1/audio/stuck")
            .is_empty(),
        "the server never had a whole request"
    );
}

#[tokio::test]
async fn a_service_that_never_answers_is_cut_at_the_first_byte_timeout() {
    let server =
        FakeServer::start(|_, _| Canned::json(201, json!({})).delayed(Duration::from_secs(30)))
            .await;
    let mut config = server.config(Auth::Bearer(SecretString::from("t")));
    config.first_byte_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(5);
    let stt = SttClient::new(config).expect("client");
    let e = stt
        .add_corpus("lm1", "c1", "some words\n", false)
        .await
        .expect_err("no answer");
    assert!(is_timeout(&e), "{e:?}");
    assert!(
        e.to_string().contains("no response within 1 s"),
        "the first-byte timeout, not the idle one: {e}"
    );
    assert_eq!(
        server
            .requests_to("/v1/customizations/lm1/corpora/c1")
            .len(),
        1
    );
}
