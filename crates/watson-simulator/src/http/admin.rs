//! The admin API (`/_simulator/...`, no authentication, never subject to faults or logging).
//! The contract is documented in `docs/simulator.md`; [`AdminClient`](crate::admin::AdminClient)
//! is its typed client.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;

use super::errors::ApiError;
use super::{Sim, empty, json_response, parse_json, query_map};
use crate::api::{
    BaseModelLifecycle, ConfigPatch, FailNextTraining, Faults, PublishVersion, Quirks, SimModels,
};
use crate::faults;
use crate::log::RequestLog;
use crate::state::State;

type S = AxState<Arc<Sim>>;
type Res = Result<Response, ApiError>;

/// The admin routes, relative to `/_simulator`.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/reset", post(reset))
        .route("/base-models/{name}/versions", post(publish_version))
        .route(
            "/base-models/{name}/lifecycle",
            axum::routing::put(put_lifecycle),
        )
        .route("/models", get(models))
        .route("/models/{id}", axum::routing::delete(delete_model))
        .route("/models/{id}/fail-next-training", post(fail_next_training))
        .route("/models/{id}/hold", post(hold).delete(release))
        .route("/models/{id}/lock", post(lock).delete(unlock))
        .route("/models/{id}/worse", post(worse).delete(not_worse))
        .route(
            "/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route(
            "/quirks",
            get(get_quirks).put(put_quirks).delete(clear_quirks),
        )
        .route("/requests", get(requests))
        .route("/counters", get(counters))
        .route("/config", get(get_config).put(put_config))
}

fn to_json<T: serde::Serialize>(status: StatusCode, v: &T) -> Res {
    let value = serde_json::to_value(v).map_err(|e| ApiError::Status(500, e.to_string()))?;
    Ok(json_response(status, value))
}

async fn reset(AxState(sim): S) -> Res {
    {
        let mut st = sim.state.lock();
        let owner = st.owner.clone();
        let profile = st.policy.profile;
        *st = State::with_profile(owner, profile);
    }
    *sim.faults.lock() = Faults::default();
    *sim.quirks.lock() = Quirks::default();
    sim.locked.lock().clear();
    *sim.log.lock() = RequestLog::default();
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn publish_version(AxState(sim): S, Path(name): Path<String>, body: Bytes) -> Res {
    let req: PublishVersion = parse_json(&body)?;
    let result = sim
        .state
        .lock()
        .catalogue
        .publish(&name, req.version.as_deref());
    match result {
        None => Err(ApiError::Status(
            404,
            format!("Unknown base model '{name}'."),
        )),
        Some(Err(e)) => Err(ApiError::bad_request(e)),
        Some(Ok(version)) => Ok(json_response(
            StatusCode::CREATED,
            json!({ "version": version }),
        )),
    }
}

async fn put_lifecycle(AxState(sim): S, Path(name): Path<String>, body: Bytes) -> Res {
    let req: BaseModelLifecycle = parse_json(&body)?;
    let mut st = sim.state.lock();
    let Some(base) = st.catalogue.get(&name) else {
        return Err(ApiError::Status(
            404,
            format!("Unknown base model '{name}'."),
        ));
    };
    let prefix = format!("{}.v", base.name);
    if let Some(v) = req
        .defective_versions
        .iter()
        .chain(&req.repaired_versions)
        .chain(&req.worse_versions)
        .chain(&req.restored_versions)
        .find(|v| !v.starts_with(&prefix))
    {
        return Err(ApiError::bad_request(format!(
            "version '{v}' must start with '{prefix}'"
        )));
    }
    let policy = &mut st.policy;
    match req.upgrade_by_retrain {
        Some(true) => {
            policy.retrain_to_upgrade.insert(name.clone());
        }
        Some(false) => {
            policy.retrain_to_upgrade.remove(&name);
        }
        None => {}
    }
    match req.withdrawn {
        Some(true) => {
            policy.withdrawn.insert(name);
        }
        Some(false) => {
            policy.withdrawn.remove(&name);
        }
        None => {}
    }
    for v in req.defective_versions {
        policy.defective.insert(v);
    }
    for v in &req.repaired_versions {
        policy.defective.remove(v);
    }
    for v in req.worse_versions {
        policy.worse_versions.insert(v);
    }
    for v in &req.restored_versions {
        policy.worse_versions.remove(v);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn models(AxState(sim): S) -> Res {
    let now = sim.now();
    let models = sim.state.lock().admin_models(now);
    to_json(StatusCode::OK, &SimModels { models })
}

async fn delete_model(AxState(sim): S, Path(id): Path<String>) -> Res {
    if sim.state.lock().remove_any(&id) {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::Status(404, format!("Unknown model '{id}'.")))
    }
}

async fn hold(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_hold(&sim, &id, true)
}

async fn release(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_hold(&sim, &id, false)
}

fn set_hold(sim: &Sim, id: &str, held: bool) -> Res {
    if sim.state.lock().hold(id, held) {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::Status(
            404,
            format!("Unknown language or acoustic model '{id}'."),
        ))
    }
}

async fn worse(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_worse(&sim, &id, true)
}

async fn not_worse(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_worse(&sim, &id, false)
}

/// A custom language model marked worse loses every third heard word at recognition (issue
/// 28): a test can make a retrained model regress.
fn set_worse(sim: &Sim, id: &str, worse: bool) -> Res {
    match sim.state.lock().language.get_mut(id) {
        Some(m) => {
            m.worse = worse;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        None => Err(ApiError::Status(
            404,
            format!("Unknown language model '{id}'."),
        )),
    }
}

async fn lock(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_lock(&sim, &id, true)
}

async fn unlock(AxState(sim): S, Path(id): Path<String>) -> Res {
    set_lock(&sim, &id, false)
}

/// A locked model refuses every change (409) until unlocked: IBM users saw test models stay
/// locked and undeletable until IBM support freed them (`watson-api.md` §16).
fn set_lock(sim: &Sim, id: &str, locked: bool) -> Res {
    let known = {
        let st = sim.state.lock();
        st.language.contains_key(id) || st.acoustic.contains_key(id) || st.voice.contains_key(id)
    };
    if !known {
        return Err(ApiError::Status(404, format!("Unknown model '{id}'.")));
    }
    let mut set = sim.locked.lock();
    if locked {
        set.insert(id.to_owned());
    } else {
        set.remove(id);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn fail_next_training(AxState(sim): S, Path(id): Path<String>, body: Bytes) -> Res {
    let req: FailNextTraining = parse_json(&body)?;
    if sim.state.lock().fail_next_training(&id, req.error) {
        Ok(empty(StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::Status(
            404,
            format!("Unknown language or acoustic model '{id}'."),
        ))
    }
}

async fn get_faults(AxState(sim): S) -> Res {
    let f = sim.faults.lock().clone();
    to_json(StatusCode::OK, &f)
}

async fn put_faults(AxState(sim): S, body: Bytes) -> Res {
    let f: Faults = parse_json(&body)?;
    faults::validate(&f).map_err(ApiError::bad_request)?;
    *sim.faults.lock() = f;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn clear_faults(AxState(sim): S) -> Res {
    *sim.faults.lock() = Faults::default();
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn get_quirks(AxState(sim): S) -> Res {
    let q = sim.quirks.lock().clone();
    to_json(StatusCode::OK, &q)
}

async fn put_quirks(AxState(sim): S, body: Bytes) -> Res {
    let q: Quirks = parse_json(&body)?;
    *sim.quirks.lock() = q;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn clear_quirks(AxState(sim): S) -> Res {
    *sim.quirks.lock() = Quirks::default();
    sim.locked.lock().clear();
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn requests(AxState(sim): S, RawQuery(q): RawQuery) -> Res {
    let q = query_map(q.as_deref());
    let parse = |key: &str, default: u64| -> Result<u64, ApiError> {
        q.get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("'{key}' must be an integer")))
            })
            .transpose()
            .map(|v| v.unwrap_or(default))
    };
    let since = parse("since", 0)?;
    let limit = usize::try_from(parse("limit", u64::MAX)?).unwrap_or(usize::MAX);
    let page = sim.log.lock().page(since, limit);
    to_json(StatusCode::OK, &page)
}

async fn counters(AxState(sim): S) -> Res {
    let c = sim.log.lock().counters();
    to_json(StatusCode::OK, &c)
}

async fn get_config(AxState(sim): S) -> Res {
    let mut c = sim.runtime.lock().clone();
    {
        let st = sim.state.lock();
        c.profile = st.policy.profile;
        c.audio_cap_hours = st.policy.audio_cap_hours;
    }
    to_json(StatusCode::OK, &c)
}

async fn put_config(AxState(sim): S, body: Bytes) -> Res {
    let patch: ConfigPatch = parse_json(&body)?;
    if patch.time_scale.is_some_and(|t| !t.is_finite() || t < 0.0) {
        return Err(ApiError::bad_request(
            "time_scale must be a finite number >= 0",
        ));
    }
    if patch.token_ttl_seconds == Some(0) {
        return Err(ApiError::bad_request("token_ttl_seconds must be positive"));
    }
    if patch
        .audio_cap_hours
        .is_some_and(|h| !h.is_finite() || h <= 0.0)
    {
        return Err(ApiError::bad_request(
            "audio_cap_hours must be a finite number > 0",
        ));
    }
    if let Some(h) = patch.audio_cap_hours {
        sim.state.lock().policy.audio_cap_hours = h;
    }
    let mut c = sim.runtime.lock();
    if let Some(t) = patch.time_scale {
        c.time_scale = t;
    }
    if let Some(m) = patch.model_cap {
        c.model_cap = m;
    }
    if let Some(t) = patch.token_ttl_seconds {
        c.token_ttl_seconds = t;
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
