//! Speech to Text handlers (`/speech-to-text/v1/...`). Each one parses the request, calls the
//! state machine under the lock and shapes the response.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::errors::ApiError;
use super::{Sim, content_type, customer_id, json_response, parse_json, query_map, request_base};
use crate::state::acoustic::prepare_audio;
use crate::state::language::{TrainParams, parse_bool};
use crate::state::words::{CustomWord, WordSort, WordType};
use crate::state::{CreateModel, SimError};

type S = AxState<Arc<Sim>>;
type Res = Result<Response, ApiError>;

/// The STT routes, relative to `/speech-to-text`.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{model}", get(get_model))
        .route("/v1/user_data", axum::routing::delete(delete_user_data))
        .route("/v1/recognize", post(recognize))
        .route("/v1/customizations", post(create_lm).get(list_lms))
        .route("/v1/customizations/{id}", get(get_lm).delete(delete_lm))
        .route("/v1/customizations/{id}/train", post(train_lm))
        .route("/v1/customizations/{id}/reset", post(reset_lm))
        .route("/v1/customizations/{id}/upgrade_model", post(upgrade_lm))
        .route("/v1/customizations/{id}/corpora", get(list_corpora))
        .route(
            "/v1/customizations/{id}/corpora/{name}",
            post(add_corpus).get(get_corpus).delete(delete_corpus),
        )
        .route(
            "/v1/customizations/{id}/words",
            get(list_words).post(add_words),
        )
        .route(
            "/v1/customizations/{id}/words/{word}",
            put(put_word).get(get_word).delete(delete_word),
        )
        .route("/v1/customizations/{id}/grammars", get(list_grammars))
        .route(
            "/v1/customizations/{id}/grammars/{name}",
            post(add_grammar).get(get_grammar).delete(delete_grammar),
        )
        .route("/v1/acoustic_customizations", post(create_am).get(list_ams))
        .route(
            "/v1/acoustic_customizations/{id}",
            get(get_am).delete(delete_am),
        )
        .route("/v1/acoustic_customizations/{id}/train", post(train_am))
        .route("/v1/acoustic_customizations/{id}/reset", post(reset_am))
        .route(
            "/v1/acoustic_customizations/{id}/upgrade_model",
            post(upgrade_am),
        )
        .route("/v1/acoustic_customizations/{id}/audio", get(list_audio))
        .route(
            "/v1/acoustic_customizations/{id}/audio/{name}",
            post(add_audio).get(get_audio).delete(delete_audio),
        )
}

fn ok(v: serde_json::Value) -> Res {
    Ok(json_response(StatusCode::OK, v))
}

fn ok_empty() -> Res {
    ok(json!({}))
}

fn created_empty() -> Res {
    Ok(json_response(StatusCode::CREATED, json!({})))
}

// ---- base models ----

async fn list_models(AxState(sim): S, headers: HeaderMap) -> Res {
    if flapped(&sim) {
        return Err(SimError::NotFound("Not Found".into()).into());
    }
    let url = format!("{}/speech-to-text", request_base(&sim, &headers));
    let st = sim.state.lock();
    let models: Vec<_> = st.offered_base_models().map(|m| m.to_json(&url)).collect();
    ok(json!({ "models": models }))
}

async fn get_model(AxState(sim): S, Path(model): Path<String>, headers: HeaderMap) -> Res {
    let url = format!("{}/speech-to-text", request_base(&sim, &headers));
    let st = sim.state.lock();
    let m = st
        .offered_base_model(&model)
        .ok_or_else(|| SimError::NotFound(format!("Model {model} not found")))?;
    ok(m.to_json(&url))
}

async fn delete_user_data(AxState(sim): S, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let cid = q
        .get("customer_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("Required query parameter 'customer_id' is missing.")
        })?;
    let now = sim.now();
    sim.state.lock().delete_stt_customer_data(now, cid);
    ok_empty()
}

// ---- recognition ----

/// The smallest audio body IBM recognises (its answer to a shorter one).
const MIN_AUDIO_BYTES: usize = 100;

/// `POST /v1/recognize`: the rules of `crate::state::recognition` and `crate::recognize`.
async fn recognize(AxState(sim): S, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Res {
    let q = query_map(q.as_deref());
    let now = sim.now();
    let recognition = sim.state.lock().recognition(now, &q)?;
    if body.len() < MIN_AUDIO_BYTES {
        return Err(ApiError::bad_request(format!(
            "Stream was {} bytes but needs to be at least {MIN_AUDIO_BYTES} bytes.",
            body.len()
        )));
    }
    let media = content_type(&headers)
        .map(crate::audio::MediaType::parse)
        .filter(|m| m.essence != "application/octet-stream" && !m.essence.is_empty());
    let facts = crate::audio::inspect("audio", media.as_ref(), &body, recognition.min_rate);
    if !facts.valid {
        let essence = media.map_or_else(|| "application/octet-stream".to_owned(), |m| m.essence);
        return Err(ApiError::bad_request(format!(
            "unable to transcode data stream {essence} -> audio/x-float-array ({})",
            facts.reason.unwrap_or_default()
        )));
    }
    let spoken = crate::recognize::spoken_text(&body).unwrap_or_default();
    let heard = crate::recognize::recognise(&spoken, &recognition.context);
    let results = if heard.transcript.is_empty() {
        json!([])
    } else {
        json!([{
            "alternatives": [{ "transcript": heard.transcript, "confidence": heard.confidence }],
            "final": true,
        }])
    };
    let mut answer = json!({ "results": results, "result_index": 0 });
    if !recognition.warnings.is_empty() {
        answer["warnings"] = json!(recognition.warnings);
    }
    ok(answer)
}

// ---- language models ----

async fn create_lm(AxState(sim): S, body: Bytes) -> Res {
    let req: CreateModel = parse_json(&body)?;
    let ctx = sim.ctx();
    let cap = sim.model_cap();
    let id = sim.state.lock().create_language_model(ctx, &req, cap)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "customization_id": id }),
    ))
}

/// A listing without the models the faults `hidden_from_listings` and `vanished` hide (by name
/// prefix).
fn unhidden(sim: &Sim, mut list: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let hidden = {
        let f = sim.faults.lock();
        let mut h = f.hidden_from_listings.clone();
        h.extend(f.vanished.iter().cloned());
        h
    };
    if !hidden.is_empty() {
        list.retain(|m| {
            let name = m["name"].as_str().unwrap_or_default();
            !hidden.iter().any(|p| name.starts_with(p.as_str()))
        });
    }
    list
}

async fn list_lms(AxState(sim): S, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let now = sim.now();
    let list = sim
        .state
        .lock()
        .list_language_models(now, q.get("language").map(String::as_str));
    ok(json!({ "customizations": unhidden(&sim, list) }))
}

async fn get_lm(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    let m = sim.state.lock().lm(&id, now)?.to_json();
    not_vanished(&sim, &id, m)
}

/// A model's own GET, unless the fault `vanished` makes the model look gone: then the answer
/// for an unknown ID.
fn not_vanished(sim: &Sim, id: &str, model: serde_json::Value) -> Res {
    let name = model["name"].as_str().unwrap_or_default();
    if sim
        .faults
        .lock()
        .vanished
        .iter()
        .any(|p| name.starts_with(p.as_str()))
    {
        return Err(SimError::UnknownModel(id.to_owned()).into());
    }
    ok(model)
}

/// The fault `flap_base_listings`: whether this answer to a base-model listing is a 404
/// (counts the fault down).
pub(super) fn flapped(sim: &Sim) -> bool {
    let mut f = sim.faults.lock();
    if f.flap_base_listings == 0 {
        return false;
    }
    f.flap_base_listings -= 1;
    true
}

async fn delete_lm(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    sim.state.lock().delete_language_model(&id, now)?;
    ok_empty()
}

async fn train_lm(AxState(sim): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let params = TrainParams::from_query(&query_map(q.as_deref()));
    let ctx = sim.ctx();
    let mut st = sim.state.lock();
    st.lm(&id, ctx.now)?;
    let before = st.status_of(&id, ctx.now);
    let out = st.train_language_model(ctx, &id, &params?)?;
    lag_status(&sim, &mut st, &id, before, ctx.now);
    ok(out)
}

/// Quirk `status_lag_seconds`: after a 200 to train or upgrade, the model keeps reading the
/// status it had before the call for that many (real) seconds.
fn lag_status(
    sim: &Sim,
    st: &mut crate::state::State,
    id: &str,
    before: Option<crate::state::language::ModelStatus>,
    now: u64,
) {
    let lag = sim.quirks.lock().status_lag_seconds;
    if let Some(before) = before
        && lag > 0.0
        && lag.is_finite()
    {
        st.show_status_until(id, before, now.saturating_add((lag * 1000.0) as u64));
    }
}

async fn reset_lm(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    sim.state.lock().lm(&id, now)?.reset(now)?;
    ok_empty()
}

async fn upgrade_lm(AxState(sim): S, Path(id): Path<String>) -> Res {
    let ctx = sim.ctx();
    let mut st = sim.state.lock();
    let before = st.status_of(&id, ctx.now);
    st.upgrade_language_model(ctx, &id)?;
    lag_status(&sim, &mut st, &id, before, ctx.now);
    ok_empty()
}

// ---- corpora ----

/// Extracts the corpus text: the `corpus_file` part of a multipart body, or the raw body. With
/// the quirk `multipart_corpus_as_text` (the service of 2017) a multipart body is the text too.
async fn corpus_text(
    headers: &HeaderMap,
    body: Bytes,
    multipart_as_text: bool,
) -> Result<Bytes, ApiError> {
    if multipart_as_text {
        return Ok(body);
    }
    let Some(ct) =
        content_type(headers).filter(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"))
    else {
        return Ok(body);
    };
    let boundary = multer::parse_boundary(ct)
        .map_err(|e| ApiError::bad_request(format!("Malformed multipart request: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    loop {
        match mp.next_field().await {
            Ok(Some(field)) if field.name() == Some("corpus_file") => {
                return field.bytes().await.map_err(|e| {
                    ApiError::bad_request(format!("Malformed multipart request: {e}"))
                });
            }
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(ApiError::bad_request(
                    "The multipart request has no 'corpus_file' part.",
                ));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "Malformed multipart request: {e}"
                )));
            }
        }
    }
}

async fn add_corpus(
    AxState(sim): S,
    Path((id, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let q = query_map(q.as_deref());
    let overwrite = parse_bool(&q, "allow_overwrite", false)?;
    {
        // Unknown ids answer 401 before the body is looked at.
        let now = sim.now();
        sim.state.lock().lm(&id, now)?;
    }
    let multipart_as_text = sim.quirks.lock().multipart_corpus_as_text;
    let text = corpus_text(&headers, body, multipart_as_text).await?;
    let ctx = sim.ctx();
    sim.state.lock().lm(&id, ctx.now)?.add_corpus(
        ctx,
        &name,
        &text,
        overwrite,
        customer_id(&headers),
    )?;
    created_empty()
}

async fn list_corpora(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.list_corpora())
}

async fn get_corpus(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.get_corpus(&name)?)
}

async fn delete_corpus(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    sim.state.lock().lm(&id, now)?.delete_corpus(now, &name)?;
    ok_empty()
}

// ---- words ----

#[derive(Deserialize)]
struct WordsBody {
    #[serde(default)]
    words: Option<Vec<CustomWord>>,
}

async fn list_words(AxState(sim): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let word_type = WordType::parse(q.get("word_type").map(String::as_str))?;
    let sort = WordSort::parse(q.get("sort").map(String::as_str))?;
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.list_words(word_type, sort))
}

async fn add_words(
    AxState(sim): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let ctx = sim.ctx();
    let mut st = sim.state.lock();
    let model = st.lm(&id, ctx.now)?;
    let parsed: WordsBody = parse_json(&body)?;
    let words = parsed
        .words
        .ok_or_else(|| ApiError::bad_request("Required field 'words' is missing."))?;
    model.add_words(ctx, &words, customer_id(&headers))?;
    created_empty()
}

async fn put_word(
    AxState(sim): S,
    Path((id, word)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let now = sim.now();
    let mut st = sim.state.lock();
    let model = st.lm(&id, now)?;
    let def: CustomWord = parse_json(&body)?;
    model.put_word(now, &word, &def, customer_id(&headers))?;
    created_empty()
}

async fn get_word(AxState(sim): S, Path((id, word)): Path<(String, String)>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.get_word(&word)?)
}

async fn delete_word(AxState(sim): S, Path((id, word)): Path<(String, String)>) -> Res {
    let now = sim.now();
    sim.state.lock().lm(&id, now)?.delete_word(now, &word)?;
    ok_empty()
}

// ---- grammars ----

async fn add_grammar(
    AxState(sim): S,
    Path((id, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let q = query_map(q.as_deref());
    let overwrite = parse_bool(&q, "allow_overwrite", false)?;
    let ctx = sim.ctx();
    sim.state.lock().lm(&id, ctx.now)?.add_grammar(
        ctx,
        &name,
        content_type(&headers),
        &body,
        overwrite,
        customer_id(&headers),
    )?;
    created_empty()
}

async fn list_grammars(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.list_grammars())
}

async fn get_grammar(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().lm(&id, now)?.get_grammar(&name)?)
}

async fn delete_grammar(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    sim.state.lock().lm(&id, now)?.delete_grammar(now, &name)?;
    ok_empty()
}

// ---- acoustic models ----

async fn create_am(AxState(sim): S, body: Bytes) -> Res {
    let req: CreateModel = parse_json(&body)?;
    let ctx = sim.ctx();
    let cap = sim.model_cap();
    let id = sim.state.lock().create_acoustic_model(ctx, &req, cap)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "customization_id": id }),
    ))
}

async fn list_ams(AxState(sim): S, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let now = sim.now();
    let list = sim
        .state
        .lock()
        .list_acoustic_models(now, q.get("language").map(String::as_str));
    ok(json!({ "customizations": unhidden(&sim, list) }))
}

async fn get_am(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    let m = sim.state.lock().am(&id, now)?.to_json();
    not_vanished(&sim, &id, m)
}

async fn delete_am(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    sim.state.lock().delete_acoustic_model(&id, now)?;
    ok_empty()
}

async fn train_am(AxState(sim): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let ctx = sim.ctx();
    let mut st = sim.state.lock();
    st.am(&id, ctx.now)?;
    let strict = parse_bool(&q, "strict", true)?;
    let lm = q
        .get("custom_language_model_id")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let before = st.status_of(&id, ctx.now);
    let out = st.train_acoustic_model(ctx, &id, lm, strict)?;
    lag_status(&sim, &mut st, &id, before, ctx.now);
    ok(out)
}

async fn reset_am(AxState(sim): S, Path(id): Path<String>) -> Res {
    let ctx = sim.ctx();
    sim.state.lock().am(&id, ctx.now)?.reset(ctx)?;
    ok_empty()
}

async fn upgrade_am(AxState(sim): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let ctx = sim.ctx();
    let mut st = sim.state.lock();
    st.am(&id, ctx.now)?;
    let force = parse_bool(&q, "force", false)?;
    let lm = q
        .get("custom_language_model_id")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let before = st.status_of(&id, ctx.now);
    st.upgrade_acoustic_model(ctx, &id, lm, force)?;
    lag_status(&sim, &mut st, &id, before, ctx.now);
    ok_empty()
}

// ---- audio ----

async fn add_audio(
    AxState(sim): S,
    Path((id, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let q = query_map(q.as_deref());
    let overwrite = parse_bool(&q, "allow_overwrite", false)?;
    let contained = headers
        .get("contained-content-type")
        .and_then(|v| v.to_str().ok());
    let min_rate = {
        let now = sim.now();
        sim.state.lock().am(&id, now)?.min_rate
    };
    // Inspecting audio (possibly a 100 MB archive) happens outside the state lock.
    let ct = content_type(&headers).map(str::to_owned);
    let contained = contained.map(str::to_owned);
    let prepared = tokio::task::spawn_blocking(move || {
        prepare_audio(&name, ct.as_deref(), contained.as_deref(), &body, min_rate)
    })
    .await
    .map_err(|e| ApiError::Status(500, format!("audio inspection failed: {e}")))??;
    let ctx = sim.ctx();
    sim.state.lock().am(&id, ctx.now)?.add_audio(
        ctx,
        prepared,
        overwrite,
        customer_id(&headers),
    )?;
    created_empty()
}

async fn list_audio(AxState(sim): S, Path(id): Path<String>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().am(&id, now)?.list_audio())
}

async fn get_audio(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    ok(sim.state.lock().am(&id, now)?.get_audio(&name)?)
}

async fn delete_audio(AxState(sim): S, Path((id, name)): Path<(String, String)>) -> Res {
    let now = sim.now();
    sim.state.lock().am(&id, now)?.delete_audio(now, &name)?;
    ok_empty()
}
