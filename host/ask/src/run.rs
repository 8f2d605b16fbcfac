//! Runs in the data dir, visible to other processes.
//!
//! A run started by [`crate::Session::execute`] writes every event as a JSON line to
//! `<data dir>/runs/<id>.jsonl` (what `cloudops run show ID --follow` tails) and holds an
//! exclusive lock on `<data dir>/runs/<id>.lock` while it runs. `cloudops cancel ID` creates
//! `<data dir>/runs/<id>.cancel`; the running process watches for it and cancels through the
//! engine. A run whose lock nobody holds but whose end the audit log lacks died with its
//! process (`kill -9`): [`list`] closes it in the audit log as interrupted, with the steps
//! that had finished.

use std::fs::File;
use std::path::{Path, PathBuf};

use cloudops_execute::audit::{self, AuditLog, RunStatus, RunSummary};
use cloudops_execute::events::{Event, EventSink, RunOutcome};
use serde::Serialize;

use crate::AskError;

/// The runs folder of a data dir.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// The events file of run `id`.
pub fn events_file(data_dir: &Path, id: &str) -> PathBuf {
    dir(data_dir).join(format!("{id}.jsonl"))
}

fn lock_file(data_dir: &Path, id: &str) -> PathBuf {
    dir(data_dir).join(format!("{id}.lock"))
}

/// The marker `cancel` leaves for the running process.
pub fn cancel_marker(data_dir: &Path, id: &str) -> PathBuf {
    dir(data_dir).join(format!("{id}.cancel"))
}

/// A run id is a UUID: refuses anything else before it becomes a path.
pub fn check_id(id: &str) -> Result<(), AskError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| AskError::UnknownRun(id.to_owned()))
}

/// Held by the process running a run: the lock says "alive" to other processes.
pub struct Liveness {
    _file: File,
}

impl Liveness {
    /// Takes run `id`'s lock.
    pub fn take(data_dir: &Path, id: &str) -> Result<Liveness, AskError> {
        let path = lock_file(data_dir, id);
        std::fs::create_dir_all(dir(data_dir)).map_err(|e| AskError::io(dir(data_dir), e))?;
        let file = File::create(&path).map_err(|e| AskError::io(&path, e))?;
        file.lock().map_err(|e| AskError::io(&path, e))?;
        Ok(Liveness { _file: file })
    }
}

/// True when a process holds run `id`'s lock.
pub fn is_live(data_dir: &Path, id: &str) -> bool {
    let Ok(file) = File::open(lock_file(data_dir, id)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

/// Asks the process running run `id` to cancel it. Errors when no process runs it.
pub fn request_cancel(data_dir: &Path, id: &str) -> Result<(), AskError> {
    check_id(id)?;
    if !events_file(data_dir, id).exists() {
        return Err(AskError::UnknownRun(id.to_owned()));
    }
    if !is_live(data_dir, id) {
        return Err(AskError::Confirmation(format!(
            "run {id} is not running (it ended, or its process died): `cloudops run show {id}` says how it ended"
        )));
    }
    let marker = cancel_marker(data_dir, id);
    std::fs::write(&marker, b"cancel\n").map_err(|e| AskError::io(&marker, e))
}

/// One run, as `cloudops runs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The execution id.
    pub id: String,
    /// The plan it ran.
    pub plan_id: String,
    /// `running`, `succeeded`, `failed`, `cancelled` or `interrupted`.
    pub status: String,
    /// The steps that finished.
    pub completed: Vec<String>,
    /// The steps that failed.
    pub failed: Vec<String>,
    /// Requests sent.
    pub requests: usize,
}

/// Every run of the data dir, oldest first. Runs whose process died are closed in the audit
/// log as interrupted first.
pub fn list(data_dir: &Path) -> Result<Vec<RunInfo>, AskError> {
    let log = AuditLog::open(data_dir);
    let summary = audit::verify(log.path()).map_err(|e| {
        AskError::Audit(format!(
            "the audit log is damaged ({e}): run `cloudops audit verify`"
        ))
    })?;
    let live: Vec<String> = summary
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Unfinished && is_live(data_dir, &r.run))
        .map(|r| r.run.clone())
        .collect();
    if summary
        .interrupted()
        .any(|r| r.status == RunStatus::Unfinished && !live.contains(&r.run))
    {
        log.close_interrupted(&live)
            .map_err(|e| AskError::Audit(e.to_string()))?;
    }
    let summary = audit::verify(log.path()).map_err(|e| AskError::Audit(e.to_string()))?;
    Ok(summary.runs.iter().map(|r| info(r, &live)).collect())
}

fn info(run: &RunSummary, live: &[String]) -> RunInfo {
    let status = match &run.status {
        RunStatus::Finished(RunOutcome::Succeeded) => "succeeded",
        RunStatus::Finished(RunOutcome::Failed) => "failed",
        RunStatus::Finished(RunOutcome::Cancelled) => "cancelled",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Unfinished if live.contains(&run.run) => "running",
        RunStatus::Unfinished => "interrupted",
    };
    RunInfo {
        id: run.run.clone(),
        plan_id: run.plan_id.clone(),
        status: status.to_owned(),
        completed: run.completed.clone(),
        failed: run.failed.clone(),
        requests: run.requests,
    }
}

/// The events of run `id` so far.
pub fn events(data_dir: &Path, id: &str) -> Result<Vec<Event>, AskError> {
    check_id(id)?;
    let path = events_file(data_dir, id);
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AskError::UnknownRun(id.to_owned()),
        _ => AskError::io(&path, e),
    })?;
    // A line being written is not complete yet: only whole lines count.
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Writes each event to the run's JSON-lines file, flushed, so a follower sees it at once,
/// and holds the run's lock from its first event for as long as the engine keeps the sink
/// (the run's life). The engine names the run only in its first event, so the file is
/// opened then.
pub(crate) struct RunFiles {
    data_dir: PathBuf,
    open: std::sync::Mutex<Option<(File, Liveness)>>,
}

impl RunFiles {
    pub(crate) fn new(data_dir: &Path) -> Result<RunFiles, AskError> {
        let runs = dir(data_dir);
        std::fs::create_dir_all(&runs).map_err(|e| AskError::io(&runs, e))?;
        Ok(RunFiles {
            data_dir: data_dir.to_owned(),
            open: std::sync::Mutex::new(None),
        })
    }

    fn open(&self, run: &str) -> std::io::Result<(File, Liveness)> {
        let liveness = Liveness::take(&self.data_dir, run)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(events_file(&self.data_dir, run))?;
        Ok((file, liveness))
    }
}

impl EventSink for RunFiles {
    fn emit(&self, event: &Event) {
        use std::io::Write;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.is_none() {
            match self.open(event.run()) {
                Ok(files) => *open = Some(files),
                Err(e) => {
                    tracing::warn!("cannot write the run's events file: {e}");
                    return;
                }
            }
        }
        let Some((file, _)) = open.as_mut() else {
            return;
        };
        let mut line = serde_json::to_string(event).expect("an event is always JSON");
        line.push('\n');
        let _ = file.write_all(line.as_bytes()).and_then(|_| file.flush());
    }
}
