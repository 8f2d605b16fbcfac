//! The Executions view: past and running runs as the hash-chained audit log tells them
//! (`<data dir>/audit.jsonl`, verified on every read), each run's records in order (its
//! plan, approval, principal, every request and every engine event), and live runs' events
//! as they happen (`execution` events, sent by the chat view's runs).

use std::sync::Arc;

use cloudops_host::ask::run;
use cloudops_host::execute::audit::{self, AuditLog, Entry, Record};
use serde::Serialize;
use serde_json::Value;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// The Executions view's content.
#[derive(Debug, Serialize)]
pub struct Executions {
    /// The log's file.
    pub path: String,
    /// How many records it holds.
    pub records: u64,
    /// `None` when the chain verifies; else what is wrong, naming the line.
    pub tampered: Option<String>,
    /// The runs, newest first.
    pub runs: Vec<run::RunInfo>,
}

/// Every run in the audit log, newest first: running, or how it ended (a run whose process
/// died is closed as interrupted, as `cloudops runs` does).
#[tauri::command]
pub async fn list_executions(state: State<'_, Arc<AppState>>) -> CommandResult<Executions> {
    let data_dir = state.data_dir().to_owned();
    let path = AuditLog::open(&data_dir).path().to_owned();
    let (listed, verified) =
        tokio::task::spawn_blocking(move || (run::list(&data_dir), audit::verify(&path)))
            .await
            .map_err(CommandError::host)?;
    let path = AuditLog::open(state.data_dir())
        .path()
        .display()
        .to_string();
    Ok(match (listed, verified) {
        (Ok(runs), Ok(summary)) => Executions {
            path,
            records: summary.records,
            tampered: None,
            runs: runs.into_iter().rev().collect(),
        },
        (Err(e), _) => Executions {
            path,
            records: 0,
            tampered: Some(e.to_string()),
            runs: Vec::new(),
        },
        (_, Err(tamper)) => Executions {
            path,
            records: 0,
            tampered: Some(format!(
                "{tamper}; keep the log as evidence (`cloudops audit verify`)"
            )),
            runs: Vec::new(),
        },
    })
}

/// The engine events of run `run` so far (its step logs), from its event file.
#[tauri::command]
pub fn execution_events(
    state: State<'_, Arc<AppState>>,
    run: String,
) -> CommandResult<Vec<cloudops_host::execute::events::Event>> {
    run::events(state.data_dir(), &run).map_err(|e| CommandError::NotFound(e.to_string()))
}

/// Cancels a running run (of this app or of a `cloudops` process): the call in flight
/// finishes, nothing after it starts.
#[tauri::command]
pub fn cancel_execution(state: State<'_, Arc<AppState>>, run: String) -> CommandResult<()> {
    run::request_cancel(state.data_dir(), &run).map_err(|e| CommandError::Invalid(e.to_string()))
}

/// The audit records of one run: its plan and approval (which precede the run and name its
/// plan), its principal, its requests (parameters scrubbed) and its events, in log order.
#[tauri::command]
pub async fn execution_records(
    state: State<'_, Arc<AppState>>,
    run: String,
) -> CommandResult<Vec<Value>> {
    let log = AuditLog::open(state.data_dir());
    let path = log.path().to_owned();
    let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
        .await
        .map_err(CommandError::host)?
        .map_err(|e| CommandError::NotFound(format!("no audit log to read: {e}")))?;
    let records: Vec<Record> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let plan_id = records.iter().find_map(|r| match &r.entry {
        Entry::Event(cloudops_host::execute::events::Event::RunStarted {
            run: id,
            plan_id,
            ..
        }) if *id == run => Some(plan_id.clone()),
        _ => None,
    });
    let belongs = |r: &Record| match &r.entry {
        Entry::Plan { plan_id: p, .. } | Entry::Approval { plan_id: p, .. } => {
            plan_id.as_deref() == Some(p.as_str())
        }
        Entry::Principal { run: id, .. }
        | Entry::Request { run: id, .. }
        | Entry::RunInterrupted { run: id, .. } => *id == run,
        Entry::Event(e) => e.run() == run,
    };
    let found: Vec<Value> = records
        .iter()
        .filter(|r| belongs(r))
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    if found.is_empty() {
        return Err(CommandError::NotFound(format!(
            "no run `{run}` in the audit log"
        )));
    }
    Ok(found)
}
