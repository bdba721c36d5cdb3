//! Error classification of the IBM client: every category, with operation, status and
//! transaction id. Scripted-server tests pin exact wire behaviour.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::scripted::{Canned, FakeServer, iam_auth, iam_token, refused_url};
use serde_json::json;
use watson_speech_operator::errors::{Classified, RetryClass};
use watson_speech_operator::watson::stt_types::{CreateLanguageModel, TrainLanguageModel};
use watson_speech_operator::watson::{
    Auth, Error, Operation, RetryPolicy, SttClient, TransportKind,
};

fn assert_class(e: &Error, category: &str, class: RetryClass) {
    assert_eq!(e.category(), category, "{e:?}");
    assert_eq!(e.retry_class(), class, "{e:?}");
}

#[tokio::test]
async fn scripted_401_depends_on_what_the_path_targets() {
    // The service refuses the ID only: the collection answers, so a 401 on the model is "not
    // found or not owned" (after one confirming collection call).
    let server = FakeServer::start(|r, _| {
        if r.path == "/v1/customizations" {
            Canned::json(200, json!({"customizations": []}))
        } else {
            Canned::ibm_error(401, "Unauthorized")
        }
    })
    .await;
    let client = SttClient::new(server.config(Auth::None)).expect("client");

    let e = client
        .get_language_model("unknown-id")
        .await
        .expect_err("401");
    assert_class(&e, "NotFoundOrForbidden", RetryClass::WaitForSpecChange);
    assert!(matches!(e, Error::NotFoundOrForbidden(_)));
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.transaction_id(), Some("tx-abc"));
    assert_eq!(e.operation(), Some(Operation::GetLanguageModel));
    assert!(e.is_not_found());

    let e = client
        .delete_word("unknown-id", "w")
        .await
        .expect_err("401");
    assert_class(&e, "NotFoundOrForbidden", RetryClass::WaitForSpecChange);

    // The service refuses everything (issue 15, case 8: a revoked token): a 401 on a model is
    // refused credentials, never a vanished model.
    let server = FakeServer::start(|_, _| Canned::ibm_error(401, "Unauthorized")).await;
    let client = SttClient::new(server.config(Auth::None)).expect("client");
    let e = client
        .delete_language_model("some-id")
        .await
        .expect_err("401");
    assert_class(&e, "Unauthorized", RetryClass::Credentials);
    assert!(!e.is_not_found());
    assert_eq!(e.operation(), Some(Operation::DeleteLanguageModel));
    let e = client.list_language_models(None).await.expect_err("401");
    assert_class(&e, "Unauthorized", RetryClass::Credentials);
    let e = client.list_models().await.expect_err("401");
    assert_class(&e, "Unauthorized", RetryClass::Credentials);
    let e = client
        .create_language_model(&CreateLanguageModel {
            name: "m".into(),
            base_model_name: "en-US_BroadbandModel".into(),
            ..Default::default()
        })
        .await
        .expect_err("401");
    assert_class(&e, "Unauthorized", RetryClass::Credentials);
}

#[tokio::test]
async fn scripted_status_codes_map_to_categories() {
    let server = FakeServer::start(|r, _| match r.path.as_str() {
        "/v1/customizations/busy/train" => Canned::ibm_error(409, "Model is locked"),
        "/v1/customizations/same/train" => {
            Canned::ibm_error(400, "No input data modified since last training")
        }
        "/v1/customizations/bad/train" => {
            Canned::ibm_error(400, "Customization weight must be <= 1")
        }
        "/v1/models/nope" => Canned::json(
            404,
            json!({"code":404,"code_description":"Not Found","error":"Model nope not found"}),
        ),
        "/v1/customizations/x/grammars/g" => Canned::ibm_error(415, "Unsupported Media Type"),
        "/v1/customizations/x/words" => Canned::json(406, json!({"message":"Not Acceptable"})),
        "/v1/customizations/x/corpora" => Canned::text(500, "<html>oops</html>"),
        "/v1/customizations/x/corpora/c" => Canned::json(503, json!({"errorMessage":"down"})),
        "/v1/customizations/x/words/w" => {
            Canned::json(429, json!({"errors":[{"message":"slow down"}]}))
                .with_header("retry-after", "7")
        }
        _ => Canned::json(200, json!({})),
    })
    .await;
    let client = SttClient::new(server.config(Auth::None)).expect("client");

    let e = client
        .train_language_model("busy", &TrainLanguageModel::default())
        .await
        .expect_err("409");
    assert_class(&e, "ModelBusy", RetryClass::WaitForService);
    assert_eq!(e.message(), "Model is locked");

    let e = client
        .train_language_model("same", &TrainLanguageModel::default())
        .await
        .expect_err("400");
    assert_class(&e, "InvalidRequest", RetryClass::WaitForSpecChange);
    assert!(e.is_no_input_modified());

    let e = client
        .train_language_model("bad", &TrainLanguageModel::default())
        .await
        .expect_err("400");
    assert!(!e.is_no_input_modified());

    let e = client.get_model("nope").await.expect_err("404");
    assert_class(&e, "NotFound", RetryClass::WaitForSpecChange);
    assert_eq!(e.message(), "Model nope not found");

    let e = client
        .add_grammar(
            "x",
            "g",
            watson_speech_operator::watson::stt_types::GrammarFormat::Abnf,
            "#ABNF 1.0;",
            false,
        )
        .await
        .expect_err("415");
    assert_class(&e, "UnsupportedRequest", RetryClass::WaitForSpecChange);

    let e = client
        .list_words("x", Default::default())
        .await
        .expect_err("406");
    assert_class(&e, "UnsupportedRequest", RetryClass::WaitForSpecChange);
    assert_eq!(e.message(), "Not Acceptable");

    let e = client.list_corpora("x").await.expect_err("500");
    assert_class(&e, "ServiceUnavailable", RetryClass::Backoff);
    assert_eq!(e.message(), "Internal Server Error");

    let e = client.get_corpus("x", "c").await.expect_err("503");
    assert_class(&e, "ServiceUnavailable", RetryClass::Backoff);
    assert_eq!(e.message(), "down");

    let e = client.get_word("x", "w").await.expect_err("429");
    assert_class(&e, "RateLimited", RetryClass::Backoff);
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(7)));
    assert_eq!(e.message(), "slow down");
}

#[tokio::test]
async fn scripted_decode_error() {
    let server = FakeServer::start(|_, _| {
        Canned::json(200, json!({"not_an_id": true})).with_header("x-global-transaction-id", "tx-d")
    })
    .await;
    let client = SttClient::new(server.config(Auth::None)).expect("client");
    let e = client.get_language_model("x").await.expect_err("decode");
    assert_class(&e, "DecodeError", RetryClass::Backoff);
    assert_eq!(e.status(), Some(200));
    assert_eq!(e.transaction_id(), Some("tx-d"));
    // Bodies the sheet allows to be empty are fine.
    client
        .delete_language_model("x")
        .await
        .expect("unit call ignores the body");
}

/// A server that answers every request with a chunked body of `chunks` MiB of `[`, without a
/// length; returns its URL and the number of bytes it managed to write.
async fn endless_chunked_body(chunks: usize) -> (url::Url, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url =
        url::Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'['; 1024 * 1024];
                for _ in 0..chunks {
                    let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                    frame.extend_from_slice(&chunk);
                    frame.extend_from_slice(b"\r\n");
                    if socket.write_all(&frame).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len(), Ordering::SeqCst);
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (url, written)
}

#[tokio::test]
async fn response_bodies_are_read_up_to_a_limit() {
    // Announced: refused before reading.
    let big = "x".repeat(watson_speech_operator::watson::MAX_RESPONSE_BYTES + 1);
    let server = FakeServer::start(move |_, _| Canned::text(200, &big)).await;
    let mut config = server.config(Auth::None);
    config.retry = RetryPolicy::none();
    let client = SttClient::new(config).expect("client");
    let e = client.list_models().await.expect_err("too large");
    assert_class(&e, "DecodeError", RetryClass::Backoff);
    assert!(e.to_string().contains("larger than"), "{e}");
    // Not announced (chunked, 64 MiB offered): the client stops reading at the limit.
    let (url, written) = endless_chunked_body(64).await;
    let mut config = watson_speech_operator::watson::ClientConfig::new(url, Auth::None);
    config.retry = RetryPolicy::none();
    let client = SttClient::new(config).expect("client");
    let e = client.list_models().await.expect_err("too large");
    assert_class(&e, "DecodeError", RetryClass::Backoff);
    assert!(e.to_string().contains("larger than"), "{e}");
    assert!(
        written.load(Ordering::SeqCst) < 64 * 1024 * 1024,
        "the client read the whole body"
    );
    // Word listings may be larger (90,000 words), and are bounded too.
    assert!(
        watson_speech_operator::watson::response_limit(Operation::ListWords)
            > watson_speech_operator::watson::MAX_RESPONSE_BYTES
    );
    let e = client
        .list_words("x", Default::default())
        .await
        .expect_err("too large");
    assert!(e.to_string().contains("larger than 16777216 bytes"), "{e}");
}

#[tokio::test]
async fn transport_error_connection_refused() {
    let url = refused_url().await;
    let mut config = watson_speech_operator::watson::ClientConfig::new(url, Auth::None);
    config.retry = watson_speech_operator::watson::RetryPolicy::none();
    let client = SttClient::new(config).expect("client");
    let e = client.list_models().await.expect_err("refused");
    assert_class(&e, "TransportError", RetryClass::Backoff);
    assert!(matches!(
        e,
        Error::Transport {
            kind: TransportKind::Connect,
            ..
        }
    ));
    assert_eq!(e.operation(), Some(Operation::ListModels));
    assert_eq!(e.status(), None);
}

#[tokio::test]
async fn scripted_iam_failures() {
    let server = FakeServer::start(|r, _| {
        if r.path != "/identity/token" {
            return iam_token(0, 3600);
        }
        if String::from_utf8_lossy(&r.body).contains("apikey=bad") {
            Canned::json(
                400,
                json!({"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found."}),
            )
        } else {
            Canned::json(503, json!({"errorMessage":"IAM down"}))
        }
    })
    .await;
    let client = SttClient::new(server.config(iam_auth(&server.url, "bad"))).expect("client");
    let e = client.list_models().await.expect_err("iam 400");
    assert_class(&e, "IamTokenFailure", RetryClass::Credentials);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.operation(), Some(Operation::GetToken));
    assert_eq!(e.message(), "Provided API key could not be found.");
    // The service was never called.
    assert!(server.requests_to("/v1").is_empty());

    let client = SttClient::new(server.config(iam_auth(&server.url, "other"))).expect("client");
    let e = client.list_models().await.expect_err("iam 503");
    assert_class(&e, "IamTokenFailure", RetryClass::Backoff);

    let mut config = server.config(iam_auth(&refused_url().await, "k"));
    config.url = server.url.clone();
    let client = SttClient::new(config).expect("client");
    let e = client.list_models().await.expect_err("iam refused");
    assert_class(&e, "IamTokenFailure", RetryClass::Backoff);
    assert_eq!(e.status(), None);
}

#[tokio::test]
async fn invalid_arguments_are_refused_before_sending() {
    let server = FakeServer::start(|_, _| Canned::json(200, json!({}))).await;
    let client = SttClient::new(server.config(Auth::None)).expect("client");
    for bad in ["", ".", ".."] {
        let e = client.delete_word("id", bad).await.expect_err("refused");
        assert_class(&e, "InvalidArgument", RetryClass::WaitForSpecChange);
    }
    assert!(server.requests().is_empty());
}

// ----- against the simulator -----

use crate::sim;

mod simulator {
    use super::sim::{self, start_sim};
    use super::*;
    use secrecy::SecretString;
    use watson_speech_operator::simulator::Faults;
    use watson_speech_operator::watson::stt_types::{CreateLanguageModel, TrainLanguageModel};

    #[tokio::test]
    async fn sim_unknown_id_versus_bad_credentials() {
        let s = start_sim(0.001).await;
        let good = sim::stt(&s);
        let e = good
            .get_language_model("00000000-0000-0000-0000-000000000000")
            .await
            .expect_err("unknown id");
        assert_class(&e, "NotFoundOrForbidden", RetryClass::WaitForSpecChange);
        assert_eq!(e.status(), Some(401));
        assert!(e.transaction_id().is_some(), "{e:?}");
        let e = good
            .delete_language_model("00000000-0000-0000-0000-000000000000")
            .await
            .expect_err("unknown id");
        assert_class(&e, "NotFoundOrForbidden", RetryClass::WaitForSpecChange);

        // A bad API key is refused by IAM.
        let bad = SttClient::new(sim::config(&s, &s.stt_url(), "wrong-key")).expect("client");
        let e = bad.list_language_models(None).await.expect_err("bad key");
        assert_class(&e, "IamTokenFailure", RetryClass::Credentials);

        // A bad key sent directly (Basic) on a collection path is Unauthorized.
        let mut config = sim::config(&s, &s.stt_url(), "x");
        config.auth = Auth::api_key_basic(SecretString::from("wrong-key"));
        let basic = SttClient::new(config).expect("client");
        let e = basic.list_language_models(None).await.expect_err("bad key");
        assert_class(&e, "Unauthorized", RetryClass::Credentials);
        s.shutdown().await;
    }

    #[tokio::test]
    async fn sim_busy_invalid_and_not_found() {
        // Realistic time: the corpus analysis takes long enough to observe 409.
        let s = start_sim(1.0).await;
        let stt = sim::stt(&s);
        let e = stt.get_model("xx-XX_NoSuchModel").await.expect_err("404");
        assert_class(&e, "NotFound", RetryClass::WaitForSpecChange);
        let id = stt
            .create_language_model(&CreateLanguageModel {
                name: "busy".into(),
                base_model_name: "en-US_BroadbandModel".into(),
                ..Default::default()
            })
            .await
            .expect("create")
            .customization_id;
        let e = stt
            .train_language_model(&id, &TrainLanguageModel::default())
            .await
            .expect_err("no data");
        assert_class(&e, "InvalidRequest", RetryClass::WaitForSpecChange);
        stt.add_corpus(&id, "c1", "some words for the corpus\n", false)
            .await
            .expect("corpus");
        let e = stt
            .add_corpus(&id, "c2", "more words\n", false)
            .await
            .expect_err("busy");
        assert_class(&e, "ModelBusy", RetryClass::WaitForService);
        assert_eq!(e.status(), Some(409));
        let e = stt
            .train_language_model(&id, &TrainLanguageModel::default())
            .await
            .expect_err("busy");
        assert_class(&e, "ModelBusy", RetryClass::WaitForService);
        let e = stt
            .create_language_model(&CreateLanguageModel {
                name: "bad base".into(),
                base_model_name: "xx-XX_NoSuchModel".into(),
                ..Default::default()
            })
            .await
            .expect_err("bad base model");
        assert_eq!(e.retry_class(), RetryClass::WaitForSpecChange, "{e:?}");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn sim_injected_faults() {
        let s = start_sim(0.001).await;
        let stt = sim::stt(&s);
        stt.list_models()
            .await
            .expect("token fetched before the faults");
        let admin = s.admin();

        let mut faults = Faults::default();
        faults.error_rates.insert("429".into(), 1.0);
        faults.retry_after_seconds = 2;
        admin.set_faults(&faults).await.expect("faults");
        let e = stt.list_language_models(None).await.expect_err("429");
        assert_class(&e, "RateLimited", RetryClass::Backoff);
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(2)));

        let mut faults = Faults::default();
        faults.error_rates.insert("503".into(), 1.0);
        admin.set_faults(&faults).await.expect("faults");
        let e = stt.list_language_models(None).await.expect_err("503");
        assert_class(&e, "ServiceUnavailable", RetryClass::Backoff);
        assert_eq!(e.status(), Some(503));

        let faults = Faults {
            drop_rate: 1.0,
            ..Faults::default()
        };
        admin.set_faults(&faults).await.expect("faults");
        let e = stt.list_language_models(None).await.expect_err("dropped");
        assert_class(&e, "TransportError", RetryClass::Backoff);

        let faults = Faults {
            iam_outage: true,
            ..Faults::default()
        };
        admin.set_faults(&faults).await.expect("faults");
        let fresh = sim::stt(&s);
        let e = fresh.list_models().await.expect_err("IAM down");
        assert_class(&e, "IamTokenFailure", RetryClass::Backoff);
        assert_eq!(e.status(), Some(503));
        admin.clear_faults().await.expect("clear");
        fresh.list_models().await.expect("IAM back");
        s.shutdown().await;
    }
}
