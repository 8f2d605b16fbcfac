//! The one error body every refusal has:
//! `{"error": {"code": "...", "field": "identified_resources[3].tags", "message": "..."}}`.
//!
//! `code` is stable and machine-readable, `field` is the JSON path of the input at fault (or
//! absent when the fault is the whole request), `message` says what to do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

/// A refusal or failure, as the HTTP answer will carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code (`unknown_field`, `secret_in_request`, ...).
    pub code: &'static str,
    /// The JSON path of the input at fault.
    pub field: Option<String>,
    /// What is wrong and what to do, in plain words.
    pub message: String,
    /// More, machine-readable (a refused library's diagnostics). Boxed: errors travel in
    /// `Result`s on every request's path and stay small.
    pub details: Option<Box<Value>>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

impl ApiError {
    /// A refusal of the input at `field`.
    pub fn field(
        status: StatusCode,
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            field: Some(field.into()),
            message: message.into(),
            details: None,
        }
    }

    /// A refusal or failure that concerns no single field.
    pub fn whole(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            field: None,
            message: message.into(),
            details: None,
        }
    }

    /// The same error with machine-readable details.
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let body = Body {
            code: self.code,
            field: self.field.as_deref(),
            message: &self.message,
            details: self.details.as_deref(),
        };
        json!({ "error": body })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
