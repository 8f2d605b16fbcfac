//! The HTTP API (README "The plan server"): routes, handlers and the request counter.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State as Shared};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cloudops_playbook::plan::IntentKind;
use serde_json::json;

use crate::error::ApiError;
use crate::request::{parse_plan_request, too_large};
use crate::secrets::secret_kind;
use crate::state::{LoadError, State};

/// The router over `state`.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/plan", post(plan))
        .route("/v1/playbooks", get(list_playbooks))
        .route("/v1/playbooks/{id}", get(get_playbook))
        .route("/v1/reload", post(reload))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Counts answers of matched routes by their template; the fallback counts its own.
        .route_layer(middleware::from_fn_with_state(state.clone(), count))
        .fallback(not_found)
        .with_state(state)
}

async fn count(Shared(state): Shared<Arc<State>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.request(&route, response.status().as_u16());
    response
}

async fn not_found(Shared(state): Shared<Arc<State>>, request: Request) -> ApiError {
    state.metrics.request("unmatched", 404);
    // The path is echoed to help, unless it carries what must never be repeated.
    if secret_kind(request.uri().path()).is_some() {
        return secret_in_path("path");
    }
    ApiError::whole(
        StatusCode::NOT_FOUND,
        "no_such_route",
        format!(
            "no route {} {}: the routes are POST /v1/plan, GET /v1/playbooks, \
             GET /v1/playbooks/{{id}}, POST /v1/reload, GET /healthz, GET /metrics",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn plan(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    // A declared length over the limit is refused before a byte is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return Err(too_large(&limits));
    }
    let bytes = axum::body::to_bytes(body, limits.max_body_bytes)
        .await
        .map_err(|e| body_error(e, &limits))?;
    let started = Instant::now();
    let request = match parse_plan_request(&bytes, &limits) {
        Ok(request) => request,
        Err(refusal) => {
            // The path and code only: the body may hold what must never be written down.
            tracing::info!(code = refusal.code, field = ?refusal.field, "plan request refused");
            return Err(refusal);
        }
    };
    let loaded = state.current();
    let planner = loaded.planner.clone();
    let planned = tokio::task::spawn_blocking(move || planner.plan(&request))
        .await
        .map_err(|e| internal(format!("the planning task failed: {e}")))?;
    let plan = planned.map_err(|e| internal(format!("planning failed: {e}")))?;
    let intent = match plan.intent.kind {
        IntentKind::Operation => "operation",
        IntentKind::Question => "question",
        IntentKind::Search => "search",
    };
    let risk = if plan.playbook.is_some() {
        plan.risk.level.as_str()
    } else {
        "none"
    };
    state
        .metrics
        .plan(started.elapsed().as_secs_f64(), intent, risk);
    Ok(Json(plan).into_response())
}

fn body_error(error: axum::Error, limits: &crate::request::Limits) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return too_large(limits);
        }
        source = e.source();
    }
    ApiError::whole(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        format!("the body could not be read ({error}); send it again"),
    )
}

fn secret_in_path(field: &str) -> ApiError {
    ApiError::field(
        StatusCode::BAD_REQUEST,
        "secret_in_request",
        field,
        "the URL carries what looks like an AWS credential; the plan server never needs one. \
         Rotate it if it was real",
    )
}

fn internal(message: String) -> ApiError {
    tracing::error!("{message}");
    ApiError::whole(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

fn unavailable(error: crate::meta::MetaError) -> ApiError {
    tracing::warn!("{error}");
    ApiError::whole(
        StatusCode::SERVICE_UNAVAILABLE,
        "metadata_unavailable",
        error.to_string(),
    )
}

async fn list_playbooks(Shared(state): Shared<Arc<State>>) -> Result<Response, ApiError> {
    let loaded = state.current();
    let playbooks = state
        .meta
        .list(&loaded.commit, &loaded.summaries)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({ "commit": loaded.commit, "playbooks": playbooks })).into_response())
}

async fn get_playbook(
    Shared(state): Shared<Arc<State>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if secret_kind(&id).is_some() {
        return Err(secret_in_path("id"));
    }
    let loaded = state.current();
    let found = state
        .meta
        .get(&loaded.commit, &id, &loaded.summaries)
        .await
        .map_err(unavailable)?;
    match found {
        Some(summary) => Ok(Json(summary).into_response()),
        None => Err(ApiError::field(
            StatusCode::NOT_FOUND,
            "no_such_playbook",
            "id",
            format!(
                "no playbook `{}` at commit {}; GET /v1/playbooks lists the {} there are",
                id.chars().take(200).collect::<String>(),
                loaded.commit,
                loaded.summaries.len()
            ),
        )),
    }
}

async fn reload(Shared(state): Shared<Arc<State>>) -> Result<Response, ApiError> {
    match state.reload().await {
        Ok(done) => Ok(Json(done).into_response()),
        Err(LoadError::Broken {
            commit,
            diagnostics,
        }) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            Err(ApiError::whole(
                StatusCode::UNPROCESSABLE_ENTITY,
                "library_refused",
                format!(
                    "commit {commit} was refused ({} problems, in details); still serving {}",
                    lines.len(),
                    state.current().commit
                ),
            )
            .with_details(json!({ "commit": commit, "diagnostics": lines })))
        }
        Err(other) => {
            tracing::warn!("reload failed: {other}");
            Err(ApiError::whole(
                StatusCode::BAD_GATEWAY,
                "reload_failed",
                format!("{other}; still serving {}", state.current().commit),
            ))
        }
    }
}

async fn healthz(Shared(state): Shared<Arc<State>>) -> Response {
    let loaded = state.current();
    let refusal = state.refusal();
    let loaded_at = loaded
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Json(json!({
        // Serving is healthy; a refused newer commit is reported, not fatal.
        "status": if refusal.is_some() { "degraded" } else { "ok" },
        "commit": loaded.commit,
        "playbooks": loaded.summaries.len(),
        "loaded_at": loaded_at,
        "load_seconds": loaded.load_time.as_secs_f64(),
        "metadata": state.meta.kind(),
        "refused": refusal,
    }))
    .into_response()
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
