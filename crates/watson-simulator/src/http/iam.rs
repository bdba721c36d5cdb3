//! The IAM token endpoint (`POST /identity/token`): API-key and refresh-token grants.
//! Errors use IAM's own shape (`errorCode`, `errorMessage`, `context`), not Watson's.

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
