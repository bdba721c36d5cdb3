//! The token endpoints: IAM (`POST /identity/token`: API-key, trusted-profile `cr-token` and
//! refresh-token grants; errors in IAM's own shape, `errorCode`, `errorMessage`, `context`) and
//! Cloud Pak for Data (`POST /icp4d-api/v1/authorize`: a JSON username with a password or API
//! key; errors in its `_messageCode_`/`message` shape). Every token is a JWT with `iat` and `exp`
//! (the runtime token TTL) that the STT and TTS APIs accept as a Bearer token.

use std::sync::Arc;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use super::{Sim, json_response, query_map};
use crate::auth::key_label;

/// The API-key grant type.
pub const APIKEY_GRANT: &str = "urn:ibm:params:oauth:grant-type:apikey";
/// The compute-resource-token grant type (trusted profiles).
pub const CR_TOKEN_GRANT: &str = "urn:ibm:params:oauth:grant-type:cr-token";
/// The one trusted profile the simulator knows, by ID.
pub const TRUSTED_PROFILE_ID: &str = "Profile-00000000-0000-4000-8000-5157a7ed0001";
/// The same trusted profile, by name.
pub const TRUSTED_PROFILE_NAME: &str = "simulator-profile";

fn iam_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({
            "errorCode": code,
            "errorMessage": message,
            "context": {"requestId": uuid::Uuid::new_v4().to_string(), "requestType": "incoming.Identity_Token"},
        }),
    )
}

/// `POST /identity/token` (form-encoded).
pub async fn token(AxState(sim): AxState<Arc<Sim>>, body: Bytes) -> Response {
    let form = query_map(std::str::from_utf8(&body).ok());
    let now_s = sim.now() / 1000;
    let ttl = sim.runtime.lock().token_ttl_seconds;
    let subject = match form.get("grant_type").map(String::as_str) {
        Some(APIKEY_GRANT) => match form.get("apikey") {
            Some(k) if sim.api_keys.contains(k) || !sim.auth_required => key_label(k),
            Some(_) => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0415E",
                    "Provided API key could not be found.",
                );
            }
            None => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0234E",
                    "Property missing or empty. Property=apikey",
                );
            }
        },
        Some(CR_TOKEN_GRANT) => {
            // A compute resource token is a JWT (a projected service-account token); the
            // simulator checks its shape, not its issuer.
            let cr_token = form.get("cr_token").map(String::as_str).unwrap_or_default();
            if cr_token.split('.').filter(|p| !p.is_empty()).count() != 3 {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0234E",
                    "Property missing or empty. Property=cr_token",
                );
            }
            let known = form.get("profile_id").map(String::as_str) == Some(TRUSTED_PROFILE_ID)
                || form.get("profile_name").map(String::as_str) == Some(TRUSTED_PROFILE_NAME);
            if !form.contains_key("profile_id") && !form.contains_key("profile_name") {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0234E",
                    "Property missing or empty. Property=profile_id or profile_name",
                );
            }
            if !known {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0538E",
                    "The trusted profile could not be found or does not trust this compute resource.",
                );
            }
            TRUSTED_PROFILE_ID.to_owned()
        }
        Some("refresh_token") => match form
            .get("refresh_token")
            .and_then(|t| sim.tokens.verify_refresh(t, now_s))
        {
            Some(s) => s,
            None => {
                return iam_error(
                    StatusCode::BAD_REQUEST,
                    "BXNIM0407E",
                    "Provided refresh token is invalid or expired.",
                );
            }
        },
        Some(other) => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "BXNIM0109E",
                &format!("Unsupported grant type: {other}"),
            );
        }
        None => {
            return iam_error(
                StatusCode::BAD_REQUEST,
                "BXNIM0234E",
                "Property missing or empty. Property=grant_type",
            );
        }
    };
    json_response(
        StatusCode::OK,
        sim.tokens.issue(&subject, now_s, ttl).to_json(),
    )
}

fn cloud_pak_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"_messageCode_": status.as_u16().to_string(), "exception": null, "message": message}),
    )
}

/// `POST /icp4d-api/v1/authorize` (JSON): `{"username", "password"}` or `{"username", "api_key"}`.
/// A user is known when its password or API key is one of the simulator's API keys (or when no
/// credentials are required).
pub async fn cloud_pak_authorize(AxState(sim): AxState<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return cloud_pak_error(StatusCode::BAD_REQUEST, "The request body is not JSON.");
    };
    let text = |k: &str| {
        request
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let Some(username) = text("username") else {
        return cloud_pak_error(StatusCode::BAD_REQUEST, "Missing username.");
    };
    let Some(secret) = text("password").or_else(|| text("api_key")) else {
        return cloud_pak_error(StatusCode::BAD_REQUEST, "Missing password or api_key.");
    };
    if sim.auth_required && !sim.api_keys.contains(secret) {
        return cloud_pak_error(StatusCode::UNAUTHORIZED, "Invalid user or password");
    }
    let now_s = sim.now() / 1000;
    let ttl = sim.runtime.lock().token_ttl_seconds;
    let issued = sim.tokens.issue(&key_label(username), now_s, ttl);
    json_response(
        StatusCode::OK,
        json!({"_messageCode_": "200", "message": "Success", "token": issued.access_token}),
    )
}
