//! The Chat view over the ask flow (`cloudops-ask`): a prompt is resolved to resources the
//! user can trim before planning; the plan comes back as a card (explain, steps with their
//! AWS CLI equivalents, risk and reasons, IAM verdicts, denied and blocked steps); approving
//! grants the same scoped, single-use approval as `cloudops ask` (a high-risk plan needs its
//! target's name typed) and starts the run, whose events stream to the window as
//! `execution` events until the touched resources are re-scanned.

use std::sync::{Arc, Mutex};

use cloudops_host::ask::approve::question;
use cloudops_host::ask::history::Turn;
use cloudops_host::ask::resolve::Resolution;
use cloudops_host::ask::{Options, Session};
use cloudops_host::config::Config;
use cloudops_host::execute::approval::Given;
use cloudops_host::execute::events::{Event, EventSink};
use cloudops_host::playbook::plan::Plan;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter, State};

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// The event live runs reach the window as.
pub const EXECUTION_EVENT: &str = "execution";

/// The chat's session and the last resolution, kept between the chat's commands.
#[derive(Default)]
pub struct Chat {
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    resolved: Mutex<Option<(String, Resolution)>>,
}

impl Chat {
    /// Forgets the session, so the next command opens one with the current accounts and
    /// endpoints (after the demo starts, for instance).
    pub async fn reset(&self) {
        *self.session.lock().await = None;
    }
}

fn ask_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::Host(e.to_string())
}

/// The session, opened on first use with the data dir's configuration — or, while the demo
/// runs, its emulator and accounts.
async fn session(state: &Arc<AppState>) -> CommandResult<Arc<Session>> {
    let mut slot = state.chat.session.lock().await;
    if let Some(session) = slot.as_ref() {
        return Ok(session.clone());
    }
    let config = Config::load_for(state.data_dir()).map_err(CommandError::Host)?;
    let mut options: Options = config.ask_options(state.data_dir());
    options.chat_session = "app".into();
    if let Some(demo) = state.demo.lock().await.as_ref() {
        options.endpoints = demo.endpoints();
        options.accounts = demo.access();
        options.base_credentials = Some(demo.base_credentials());
    }
    let session = tokio::task::spawn_blocking(move || Session::open(options))
        .await
        .map_err(CommandError::host)?
        .map_err(|e| CommandError::NoEstate(e.to_string()))?;
    let session = Arc::new(session);
    *slot = Some(session.clone());
    Ok(session)
}

/// The chat history, oldest first.
#[tauri::command]
pub async fn chat_history(state: State<'_, Arc<AppState>>) -> CommandResult<Vec<Turn>> {
    let session = session(state.inner()).await?;
    tokio::task::spawn_blocking(move || session.history(50))
        .await
        .map_err(CommandError::host)?
        .map_err(ask_error)
}

/// Resolves `prompt` to the resources it names (best first), or to candidates when it is
/// ambiguous. Nothing leaves the machine.
#[tauri::command]
pub async fn chat_resolve(state: State<'_, Arc<AppState>>, prompt: String) -> CommandResult<Value> {
    if prompt.trim().is_empty() {
        return Err(CommandError::Invalid(
            "say what to do, e.g. \"stop pg-instance-main1\"".into(),
        ));
    }
    let session = session(state.inner()).await?;
    let asked = prompt.clone();
    let resolution = tokio::task::spawn_blocking(move || session.resolve(&asked))
        .await
        .map_err(CommandError::host)?
        .map_err(ask_error)?;
    let view = json!({
        "query": resolution.query,
        "plural": resolution.plural,
        "resources": resolution.resources.iter().map(|r| json!({
            "point_id": r.id().to_string(),
            "type": r.resource.resource_type,
            "name": r.resource.name,
            "id": r.resource.identifier,
            "account": format!("{} ({})", r.account_name, r.resource.account_id),
            "region": r.resource.region,
            "state": r.resource.state,
        })).collect::<Vec<_>>(),
        "ambiguous": resolution.ambiguous,
    });
    *state
        .chat
        .resolved
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some((prompt, resolution));
    Ok(view)
}

/// Plans `prompt` over the resolved resources the user kept (`keep`: their point ids), as
/// `cloudops ask` plans (`Session::plan_for`): request, planner, component, saved plan, chat
/// history.
#[tauri::command]
pub async fn chat_plan(
    state: State<'_, Arc<AppState>>,
    prompt: String,
    keep: Vec<String>,
) -> CommandResult<Value> {
    let mut resolution = match state
        .chat
        .resolved
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        Some((resolved, r)) if resolved == prompt => r,
        _ => {
            return Err(CommandError::Invalid(
                "the prompt changed since it was resolved: resolve it again".into(),
            ))
        }
    };
    resolution
        .resources
        .retain(|r| keep.contains(&r.id().to_string()));
    let session = session(state.inner()).await?;
    let asked = session
        .plan_for(&prompt, resolution)
        .await
        .map_err(ask_error)?;
    Ok(plan_view(&asked.plan, &asked.planner))
}

/// The plan card's content: the plan itself and what approving it takes.
fn plan_view(plan: &Plan, planner: &str) -> Value {
    json!({
        "plan": plan,
        "planner": planner,
        // `None`: low risk, the Approve button is enough; else what must be typed, in words.
        "question": question(plan),
        "needs_typing": matches!(plan.risk.level.as_str(), "high" | "critical"),
    })
}

/// Sends a run's events to the window.
struct WindowSink(AppHandle);

impl EventSink for WindowSink {
    fn emit(&self, event: &Event) {
        if let Err(e) = self.0.emit(EXECUTION_EVENT, event) {
            tracing::warn!("run event not delivered: {e}");
        }
    }
}

/// Approves plan `plan_id` with what the user gave (`typed`: the target's name or `yes`;
/// nothing for a low-risk plan) and starts it. Returns the execution id at once; the run's
/// events follow as `execution` events, then a `rescanned` one when the touched resources
/// have been read again.
#[tauri::command]
pub async fn chat_approve(
    app: AppHandle,
    state: State<'_, Arc<AppState>>,
    plan_id: String,
    typed: Option<String>,
) -> CommandResult<Value> {
    let state = state.inner().clone();
    let session = session(&state).await?;
    let plan = session
        .saved(&plan_id)
        .map_err(|e| CommandError::NotFound(e.to_string()))?
        .plan;
    let given = match typed {
        Some(text) => Given::Typed(text),
        None => Given::YesFlag,
    };
    let approval = session.approve(&plan, &given).map_err(ask_error)?;
    let sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(WindowSink(app.clone()))];
    let id = session
        .execute(&plan, &approval.id, sinks)
        .await
        .map_err(ask_error)?;
    let run = id.0.clone();
    tokio::spawn(async move {
        let outcome = session.wait(&id).await;
        let rescan = session.rescan(&plan).await;
        state.reopen();
        let payload = match rescan {
            Ok(report) => json!({"type": "rescanned", "run": id.0, "outcome": outcome,
                "found": report.found, "updated": report.updated, "errors": report.errors}),
            Err(e) => json!({"type": "rescanned", "run": id.0, "outcome": outcome,
                "errors": [e.to_string()]}),
        };
        if let Err(e) = app.emit(EXECUTION_EVENT, payload) {
            tracing::warn!("run event not delivered: {e}");
        }
    });
    Ok(json!({"approval_id": approval.id, "run": run}))
}
