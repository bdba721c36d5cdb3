//! Text to Speech handlers (`/text-to-speech/v1/...`): custom models and their words. Every
//! operation is synchronous.

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
use super::{Sim, customer_id, empty, json_response, parse_json, query_map};
use crate::state::voice::{CreateVoiceModel, UpdateVoiceModel, WordDef};

type S = AxState<Arc<Sim>>;
type Res = Result<Response, ApiError>;

/// The TTS routes, relative to `/text-to-speech`.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/v1/user_data", axum::routing::delete(delete_user_data))
        .route("/v1/voices", axum::routing::get(list_voices))
        .route("/v1/customizations", post(create).get(list))
        .route(
            "/v1/customizations/{id}",
            post(update).get(get_one).delete(delete),
        )
        .route(
            "/v1/customizations/{id}/words",
            get(list_words).post(add_words),
        )
        .route(
            "/v1/customizations/{id}/words/{word}",
            put(put_word).get(get_word).delete(delete_word),
        )
}

async fn create(AxState(sim): S, body: Bytes) -> Res {
    let req: CreateVoiceModel = parse_json(&body)?;
    let ctx = sim.ctx();
    let id = sim.state.lock().create_voice_model(ctx, &req)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "customization_id": id }),
    ))
}

async fn list(AxState(sim): S, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let language = q.get("language");
    let st = sim.state.lock();
    let mut models: Vec<_> = st
        .voice
        .values()
        .filter(|m| language.is_none_or(|l| &m.language == l))
        .collect();
    models.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let list: Vec<_> = models.into_iter().map(|m| m.to_json(false)).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "customizations": list }),
    ))
}

async fn get_one(AxState(sim): S, Path(id): Path<String>) -> Res {
    Ok(json_response(
        StatusCode::OK,
        sim.state.lock().voice(&id)?.to_json(true),
    ))
}

async fn update(AxState(sim): S, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Res {
    let now = sim.now();
    let mut st = sim.state.lock();
    let model = st.voice(&id)?;
    let req: UpdateVoiceModel = parse_json(&body)?;
    model.update(now, &req, customer_id(&headers).as_deref())?;
    Ok(empty(StatusCode::OK))
}

async fn delete(AxState(sim): S, Path(id): Path<String>) -> Res {
    let mut st = sim.state.lock();
    st.voice(&id)?;
    st.voice.remove(&id);
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct WordsBody {
    #[serde(default)]
    words: Option<Vec<WordDef>>,
}

async fn list_words(AxState(sim): S, Path(id): Path<String>) -> Res {
    Ok(json_response(
        StatusCode::OK,
        sim.state.lock().voice(&id)?.list_words(),
    ))
}

async fn add_words(
    AxState(sim): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let now = sim.now();
    let mut st = sim.state.lock();
    let model = st.voice(&id)?;
    let req: WordsBody = parse_json(&body)?;
    let words = req
        .words
        .ok_or_else(|| ApiError::bad_request("Required field 'words' is missing."))?;
    model.add_words(now, &words, customer_id(&headers).as_deref())?;
    Ok(empty(StatusCode::OK))
}

async fn put_word(
    AxState(sim): S,
    Path((id, word)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let now = sim.now();
    let mut st = sim.state.lock();
    let model = st.voice(&id)?;
    let def: WordDef = parse_json(&body)?;
    model.put_word(now, &word, &def, customer_id(&headers).as_deref())?;
    Ok(empty(StatusCode::OK))
}

async fn get_word(AxState(sim): S, Path((id, word)): Path<(String, String)>) -> Res {
    Ok(json_response(
        StatusCode::OK,
        sim.state.lock().voice(&id)?.get_word(&word)?,
    ))
}

async fn delete_word(AxState(sim): S, Path((id, word)): Path<(String, String)>) -> Res {
    let now = sim.now();
    sim.state.lock().voice(&id)?.delete_word(now, &word)?;
    Ok(empty(StatusCode::NO_CONTENT))
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
    sim.state.lock().delete_tts_customer_data(now, cid);
    Ok(empty(StatusCode::OK))
}

/// `GET /v1/voices`: the voices of the languages custom models accept (a fixed catalogue; what
/// a client uses to tell a Text to Speech URL from a Speech to Text one).
async fn list_voices(headers: HeaderMap, AxState(sim): S) -> Res {
    if super::stt::flapped(&sim) {
        return Err(crate::state::SimError::NotFound("Not Found".into()).into());
    }
    let base = super::request_base(&sim, &headers);
    let voices: Vec<serde_json::Value> = crate::state::voice::LANGUAGES
        .iter()
        .map(|lang| {
            let name = format!("{lang}_SimulatedV3Voice");
            serde_json::json!({
                "name": name,
                "language": lang,
                "gender": "female",
                "url": format!("{base}/text-to-speech/v1/voices/{name}"),
                "customizable": true,
                "description": format!("Simulated {lang} voice."),
                "supported_features": {"custom_pronunciation": true, "voice_transformation": false},
            })
        })
        .collect();
    Ok(super::json_response(
        axum::http::StatusCode::OK,
        serde_json::json!({ "voices": voices }),
    ))
}
