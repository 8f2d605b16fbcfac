//! Reading `POST /v1/plan`'s body: size, JSON, credentials, shape, then limits, in that order,
//! so that a credential is refused before any error message could quote it.

use axum::http::StatusCode;
use cloudops_playbook::PlanRequest;
use serde_json::Value;

use crate::error::ApiError;
use crate::secrets::find_secret;

/// What a plan request may be at most. Every number the server checks is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of body (413 above).
    pub max_body_bytes: usize,
    /// Entries of `identified_resources`.
    pub max_resources: usize,
    /// Characters of `prompt`.
    pub max_prompt_chars: usize,
    /// Turns of `recent_chat`.
    pub max_chat_turns: usize,
}

impl Default for Limits {
    /// 256 KiB, 200 resources, 2,000 characters of prompt, 20 turns of chat: a plan for
    /// 200 resources with their tags and metadata fits in well under 256 KiB.
    fn default() -> Limits {
        Limits {
            max_body_bytes: 256 * 1024,
            max_resources: 200,
            max_prompt_chars: 2_000,
            max_chat_turns: 20,
        }
    }
}

/// The request in `body`, or the refusal that names the field at fault.
pub fn parse_plan_request(body: &[u8], limits: &Limits) -> Result<PlanRequest, ApiError> {
    if body.len() > limits.max_body_bytes {
        return Err(too_large(limits));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        // serde_json's syntax errors give a position and never quote the input.
        ApiError::whole(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "the body is not JSON: {e}; send a PlanRequest object (README: The plan server)"
            ),
        )
    })?;
    if let Some(found) = find_secret(&value) {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "secret_in_request",
            found.path,
            format!(
                "this field carries what looks like {}; the plan server never needs credentials \
                 (the host keeps and uses them). Remove it and rotate the credential if it was real",
                found.kind.describe()
            ),
        ));
    }
    let request: PlanRequest = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        let code = if inner.starts_with("unknown field") {
            "unknown_field"
        } else if inner.starts_with("missing field") {
            "missing_field"
        } else {
            "invalid_type"
        };
        ApiError::field(
            StatusCode::BAD_REQUEST,
            code,
            if field == "." { "$".into() } else { field },
            format!("{inner} (README: The plan server lists a PlanRequest's fields)"),
        )
    })?;
    check_limits(&request, limits)?;
    Ok(request)
}

/// The 413 for a body over the limit.
pub fn too_large(limits: &Limits) -> ApiError {
    ApiError::whole(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the body is over {} bytes; send fewer or smaller identified_resources",
            limits.max_body_bytes
        ),
    )
}

fn check_limits(request: &PlanRequest, limits: &Limits) -> Result<(), ApiError> {
    let over = |field: &str, what: String| {
        Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "over_limit",
            field,
            what,
        ))
    };
    if request.prompt.trim().is_empty() {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "empty_prompt",
            "prompt",
            "the prompt is empty; say what to do (\"stop pg-instance-main1\")",
        ));
    }
    let chars = request.prompt.chars().count();
    if chars > limits.max_prompt_chars {
        return over(
            "prompt",
            format!(
                "the prompt has {chars} characters; at most {} are read",
                limits.max_prompt_chars
            ),
        );
    }
    let n = request.identified_resources.len();
    if n > limits.max_resources {
        return over(
            "identified_resources",
            format!(
                "{n} resources; one plan takes at most {}: narrow the selection or split it",
                limits.max_resources
            ),
        );
    }
    let turns = request.recent_chat.len();
    if turns > limits.max_chat_turns {
        return over(
            "recent_chat",
            format!(
                "{turns} turns of chat; send only the last {}",
                limits.max_chat_turns
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> ApiError {
        parse_plan_request(body.as_bytes(), &Limits::default()).unwrap_err()
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        let e = refusal(
            r#"{"prompt":"stop","identified_resources":[{"resource_type":"rds_instance",
            "identifier":"a","arn":"b","name":"c","account_id":"1","region":"r","tags":"env"}]}"#,
        );
        assert_eq!(e.code, "invalid_type");
        assert_eq!(e.field.as_deref(), Some("identified_resources[0].tags"));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let e = refusal(r#"{"prompt":"stop","dry_run":true}"#);
        assert_eq!(e.code, "unknown_field");
        assert_eq!(e.field.as_deref(), Some("dry_run"));
    }

    #[test]
    fn limits_name_their_field() {
        let e = refusal(&format!(r#"{{"prompt":"{}"}}"#, "x".repeat(2_001)));
        assert_eq!((e.code, e.field.as_deref()), ("over_limit", Some("prompt")));
        let e = refusal(r#"{"prompt":"  "}"#);
        assert_eq!(e.field.as_deref(), Some("prompt"));
        let e = refusal("{");
        assert_eq!((e.code, e.field), ("invalid_json", None));
    }
}
