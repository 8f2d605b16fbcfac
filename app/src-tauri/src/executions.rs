//! The Executions view: past and running runs as the hash-chained audit log tells them
//! (`<data dir>/audit.jsonl`, verified on every read), each run's records in order (its
//! plan, approval, principal, every request and every engine event), and live runs' events
//! as they happen (`execution` events, sent by the chat view's runs).

use std::sync::Arc;

use cloudops_execute::audit::{self, AuditLog, Entry, Record};
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
    pub runs: Vec<audit::RunSummary>,
}

/// Every run in the audit log.
#[tauri::command]
pub async fn list_executions(state: State<'_, Arc<AppState>>) -> CommandResult<Executions> {
    let log = AuditLog::open(state.data_dir());
    let path = log.path().to_owned();
    let verified = tokio::task::spawn_blocking(move || audit::verify(&path))
        .await
        .map_err(CommandError::host)?;
    let path = log.path().display().to_string();
    Ok(match verified {
        Ok(summary) => Executions {
            path,
            records: summary.records,
            tampered: None,
            runs: summary.runs.into_iter().rev().collect(),
        },
        Err(tamper) => Executions {
            path,
            records: 0,
            tampered: Some(format!(
                "{tamper}; the runs cannot be shown from a damaged log: keep it as evidence \
                 (`cloudops audit verify`)"
            )),
            runs: Vec::new(),
        },
    })
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
        Entry::Event(cloudops_execute::events::Event::RunStarted { run: id, plan_id, .. })
            if *id == run =>
        {
            Some(plan_id.clone())
        }
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
        return Err(CommandError::NotFound(format!("no run `{run}` in the audit log")));
    }
    Ok(found)
}
