//! Error responses in IBM's shape: `{"code", "code_description", "error"}` (credentials
//! failures: exactly `{"code":401,"error":"Unauthorized"}`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::SimError;

/// An error answer of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// A refusal from the state machines.
    Sim(SimError),
    /// Bad or missing credentials.
    Unauthorized,
    /// Any other status with a message.
    Status(u16, String),
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        ApiError::Sim(e)
    }
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::Status(400, message.into())
    }
}

/// The `code_description` for a status.
pub fn code_description(status: u16) -> &'static str {
    match status {
        404 => "No Such Resource",
        _ => StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error"),
    }
}

/// The error body for a status and message.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({"code": status, "code_description": code_description(status), "error": message})
}

/// A complete error response.
pub fn error_response(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(error_body(status, message))).into_response()
}

/// The 401 for bad credentials.
pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"code": 401, "error": "Unauthorized"})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Sim(e) => error_response(e.status(), &e.to_string()),
            ApiError::Unauthorized => unauthorized(),
            ApiError::Status(s, m) => error_response(s, &m),
        }
    }
}
