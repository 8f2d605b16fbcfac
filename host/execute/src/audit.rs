//! The audit log: append-only JSON lines, each carrying the SHA-256 of the line before it.
//!
//! `<data dir>/audit.jsonl` holds one [`Record`] per line: a sequence number, the hash of the
//! previous line (the first line: of [`GENESIS`]), the time, and an [`Entry`] (the plan, the
//! approval, the principal, each request with its parameters scrubbed of secrets, and every
//! engine event). Each record is written under an exclusive lock and fsynced before the call
//! returns. `audit.jsonl.head` remembers the last record's number, hash and end, so that
//! cutting records off the end is found too.
//!
//! [`verify`] re-walks the chain and names the first line that was edited, deleted, reordered
//! or cut off; it also reports every run that started and never wrote its end (the process
//! was killed) as interrupted, with the steps that completed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cloudops_playbook::plan::{Plan, ScriptRef, StepKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::approval::{Approval, Grant, Scope};
use crate::events::{Event, RunOutcome};
use crate::files;
use crate::scrub::scrub_map;

/// The text whose hash the first record carries as `prev`.
pub const GENESIS: &str = "cloudops audit log v1";

/// A step as the audit log keeps it: no secrets in its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    /// The step id.
    pub id: String,
    /// The operation (`rds:StopDBInstance`).
    pub action: String,
    /// The target's ARN.
    pub target: String,
    /// Its parameters, scrubbed.
    pub params: Map<String, Value>,
    /// Steps it waits for.
    pub depends_on: Vec<String>,
    /// How it runs (`aws` when absent).
    #[serde(default, skip_serializing_if = "StepKind::is_aws")]
    pub kind: StepKind,
    /// `exec` and `script`: the argv the approval bound, scrubbed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// `script`: the file and its pinned SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptRef>,
}

/// What a record says. Serialised with `record` naming the variant (events add `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Entry {
    /// The plan about to run.
    Plan {
        /// Its hash.
        plan_id: String,
        /// `id@version` of its playbook.
        playbook: Option<String>,
        /// Its steps.
        steps: Vec<PlanStep>,
    },
    /// The approval consumed for it.
    Approval {
        /// The approval.
        approval_id: String,
        /// The plan.
        plan_id: String,
        /// What it allows.
        grants: Vec<Grant>,
        /// When it expired (Unix seconds).
        expires_at: u64,
    },
    /// Who the run acts as.
    Principal {
        /// The execution id.
        run: String,
        /// The principal's ARN (STS GetCallerIdentity).
        arn: String,
    },
    /// One API request, recorded before it is sent.
    Request {
        /// The execution id.
        run: String,
        /// The step.
        step: String,
        /// The operation (`rds:StopDBInstance`).
        operation: String,
        /// The target's ARN.
        target: String,
        /// The parameters, scrubbed.
        parameters: Map<String, Value>,
    },
    /// A run found unfinished (its process died) and closed by [`AuditLog::close_interrupted`].
    RunInterrupted {
        /// The execution id.
        run: String,
        /// The steps that had finished.
        completed: Vec<String>,
    },
    /// An engine event.
    Event(Event),
}

impl Entry {
    /// The plan's record: its steps with their parameters scrubbed.
    pub fn plan(plan: &Plan) -> Entry {
        Entry::Plan {
            plan_id: plan.plan_id.clone(),
            playbook: plan
                .playbook
                .as_ref()
                .map(|p| format!("{}@{}", p.id, p.version)),
            steps: plan
                .steps
                .iter()
                .map(|s| PlanStep {
                    id: s.id.clone(),
                    action: s.action.clone(),
                    target: s.target.arn.clone(),
                    params: scrub_map(&s.params),
                    depends_on: s.depends_on.clone(),
                    kind: s.kind,
                    argv: s.argv.iter().map(|a| crate::scrub::scrub_line(a)).collect(),
                    script: s.script.clone(),
                })
                .collect(),
        }
    }

    /// The record of the approval a scope came from, as a run consumed it.
    pub fn scope(scope: &Scope) -> Entry {
        Entry::Approval {
            approval_id: scope.approval_id().to_owned(),
            plan_id: scope.plan_id().to_owned(),
            grants: scope.grants().iter().cloned().collect(),
            expires_at: scope.expires_at(),
        }
    }

    /// The approval's record, when it is granted.
    pub fn approval(approval: &Approval) -> Entry {
        Entry::Approval {
            approval_id: approval.id.clone(),
            plan_id: approval.plan_id.clone(),
            grants: approval.grants.iter().cloned().collect(),
            expires_at: approval.expires_at,
        }
    }

    /// A request's record, its parameters scrubbed here so no caller can forget.
    pub fn request(
        run: &str,
        step: &str,
        operation: &str,
        target: &str,
        parameters: &Map<String, Value>,
    ) -> Entry {
        Entry::Request {
            run: run.into(),
            step: step.into(),
            operation: operation.into(),
            target: target.into(),
            parameters: scrub_map(parameters),
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1 for the first line, then one more per line.
    pub seq: u64,
    /// SHA-256 (hex) of the previous line's bytes (without its newline), or of [`GENESIS`].
    pub prev: String,
    /// When it was written (Unix milliseconds).
    pub at_ms: u64,
    /// What it says.
    #[serde(flatten)]
    pub entry: Entry,
}

/// What the head file remembers of the last record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
    len: u64,
}

/// Why a record could not be appended.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing the log failed.
    #[error("audit log {path}: {message}: check the data dir's permissions and free space; nothing runs unrecorded")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The log is shorter than its head says, or does not parse where the writer resumes.
    #[error("audit log {path} was damaged ({message}): run `cloudops audit verify`, keep the file as evidence and move it aside to start a new log")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The audit log of a data dir.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `<data_dir>/audit.jsonl` (created by the first append).
    pub fn open(data_dir: &Path) -> AuditLog {
        AuditLog {
            path: data_dir.join("audit.jsonl"),
        }
    }

    /// The log's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` as the next record and fsyncs it; returns its sequence number.
    pub fn append(&self, entry: &Entry) -> Result<u64, AuditError> {
        let io = |e: std::io::Error| AuditError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let _lock = files::lock_beside(&self.path).map_err(io)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        let mut head = self.catch_up(&mut file)?;
        let record = Record {
            seq: head.seq + 1,
            prev: head.hash.clone(),
            at_ms: unix_ms(),
            entry: entry.clone(),
        };
        let line = serde_json::to_string(&record).expect("a record is always JSON");
        file.seek(SeekFrom::Start(head.len)).map_err(io)?;
        file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        head = Head {
            seq: record.seq,
            hash: line_hash(line.as_bytes()),
            len: head.len + line.len() as u64 + 1,
        };
        let text = serde_json::to_vec(&head).expect("a head is always JSON");
        files::atomic_write(&head_path(&self.path), &text).map_err(io)?;
        Ok(record.seq)
    }

    /// Reads the head and the records written after it (the writer died between the record
    /// and the head), and drops a torn last line, which no append ever acknowledged.
    fn catch_up(&self, file: &mut File) -> Result<Head, AuditError> {
        let io = |e: std::io::Error| AuditError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let damaged = |message: String| AuditError::Damaged {
            path: self.path.clone(),
            message,
        };
        let mut head = match std::fs::read(head_path(&self.path)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| damaged(format!("its head file is unreadable: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Head {
                seq: 0,
                hash: line_hash(GENESIS.as_bytes()),
                len: 0,
            },
            Err(e) => return Err(io(e)),
        };
        let len = file.metadata().map_err(io)?.len();
        if len < head.len {
            return Err(damaged(format!(
                "it has {len} bytes but held {} after record {}",
                head.len, head.seq
            )));
        }
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(head.len)).map_err(io)?;
        file.read_to_end(&mut tail).map_err(io)?;
        for line in tail.split_inclusive(|b| *b == b'\n') {
            if !line.ends_with(b"\n") {
                file.set_len(head.len).map_err(io)?;
                break;
            }
            let bytes = &line[..line.len() - 1];
            let record: Record = serde_json::from_slice(bytes)
                .map_err(|e| damaged(format!("record {} does not parse: {e}", head.seq + 1)))?;
            if record.seq != head.seq + 1 || record.prev != head.hash {
                return Err(damaged(format!("record {} breaks the chain", head.seq + 1)));
            }
            head = Head {
                seq: record.seq,
                hash: line_hash(bytes),
                len: head.len + line.len() as u64,
            };
        }
        Ok(head)
    }

    /// Writes a [`Entry::RunInterrupted`] record for every run that started and never ended,
    /// except those in `live` (runs of this process still going). Call it when no other
    /// process is running plans against this data dir; returns the runs it closed.
    pub fn close_interrupted(&self, live: &[String]) -> Result<Vec<RunSummary>, AuditError> {
        let summary = verify(&self.path).map_err(|t| AuditError::Damaged {
            path: self.path.clone(),
            message: t.to_string(),
        })?;
        let mut closed = Vec::new();
        for run in summary.runs {
            if run.status == RunStatus::Unfinished && !live.contains(&run.run) {
                self.append(&Entry::RunInterrupted {
                    run: run.run.clone(),
                    completed: run.completed.clone(),
                })?;
                closed.push(run);
            }
        }
        Ok(closed)
    }
}

/// How a run recorded in the log ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// It wrote its end.
    Finished(RunOutcome),
    /// It was closed as interrupted ([`AuditLog::close_interrupted`]).
    Interrupted,
    /// It started and never wrote its end: its process was killed (or it is still running).
    Unfinished,
}

/// One run, as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The execution id.
    pub run: String,
    /// The plan it ran.
    pub plan_id: String,
    /// How it ended.
    pub status: RunStatus,
    /// The steps that finished, in order.
    pub completed: Vec<String>,
    /// The steps that failed.
    pub failed: Vec<String>,
    /// How many requests it sent.
    pub requests: usize,
}

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// How many records.
    pub records: u64,
    /// The runs, in the order they started.
    pub runs: Vec<RunSummary>,
}

impl Summary {
    /// The runs that never wrote their end (unfinished or closed as interrupted).
    pub fn interrupted(&self) -> impl Iterator<Item = &RunSummary> {
        self.runs
            .iter()
            .filter(|r| !matches!(r.status, RunStatus::Finished(_)))
    }
}

/// What is wrong with a log, naming the line (1-based) where it shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// The file could not be read.
    #[error("audit log {path} cannot be read: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A line is not a record.
    #[error("line {line} is not an audit record ({message}): it was edited")]
    Malformed {
        /// The line.
        line: u64,
        /// The parse error.
        message: String,
    },
    /// A line's content no longer matches the hash the next line (or the head) carries.
    #[error("line {line} was edited: its hash no longer matches the one recorded after it")]
    Edited {
        /// The line.
        line: u64,
    },
    /// Records are missing before a line.
    #[error("records {first} to {last} were deleted: line {line} follows record {before}")]
    Deleted {
        /// The line after the gap.
        line: u64,
        /// The record before the gap.
        before: u64,
        /// The first missing record.
        first: u64,
        /// The last missing record.
        last: u64,
    },
    /// A record is out of order.
    #[error("line {line} holds record {seq}: the records were reordered")]
    Reordered {
        /// The line.
        line: u64,
        /// The record it holds.
        seq: u64,
    },
    /// Records were cut off the end.
    #[error("the log was truncated after line {line}: records {first} to {last} are missing")]
    Truncated {
        /// The last line left.
        line: u64,
        /// The first missing record.
        first: u64,
        /// The last record written.
        last: u64,
    },
    /// The last line is incomplete.
    #[error("line {line} is cut off (no newline): the log was truncated mid-record")]
    CutOff {
        /// The line.
        line: u64,
    },
}

/// Checks the whole chain of the log at `path` (and its head file, when present) and
/// summarises its runs; the first problem found is returned, naming its line.
pub fn verify(path: &Path) -> Result<Summary, Tamper> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Tamper::Unreadable {
                path: path.to_owned(),
                message: e.to_string(),
            })
        }
    };
    let records = parse_lines(&bytes)?;
    check_chain(&records)?;
    check_head(path, &records)?;
    Ok(summarise(&records))
}

/// A parsed line: its record and the hash of its bytes.
struct Line {
    record: Record,
    hash: String,
}

fn parse_lines(bytes: &[u8]) -> Result<Vec<Line>, Tamper> {
    let mut lines = Vec::new();
    for (i, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let Some(text) = raw.strip_suffix(b"\n") else {
            return Err(Tamper::CutOff { line });
        };
        let record = serde_json::from_slice(text).map_err(|e| Tamper::Malformed {
            line,
            message: e.to_string(),
        })?;
        lines.push(Line {
            record,
            hash: line_hash(text),
        });
    }
    Ok(lines)
}

fn check_chain(lines: &[Line]) -> Result<(), Tamper> {
    let mut prev_hash = line_hash(GENESIS.as_bytes());
    for (i, l) in lines.iter().enumerate() {
        let line = i as u64 + 1;
        let seq = l.record.seq;
        if seq != line {
            // A record whose number belongs to another line was moved; a gap is a deletion.
            if seq < line || lines.iter().any(|o| o.record.seq == line) {
                return Err(Tamper::Reordered { line, seq });
            }
            return Err(Tamper::Deleted {
                line,
                before: line - 1,
                first: line,
                last: seq - 1,
            });
        }
        if l.record.prev != prev_hash {
            // The numbering is intact, so the line before changed (line 1: it was replaced).
            return Err(Tamper::Edited {
                line: (line - 1).max(1),
            });
        }
        prev_hash = l.hash.clone();
    }
    Ok(())
}

fn check_head(path: &Path, lines: &[Line]) -> Result<(), Tamper> {
    let Ok(bytes) = std::fs::read(head_path(path)) else {
        return Ok(());
    };
    let head: Head = serde_json::from_slice(&bytes).map_err(|e| Tamper::Malformed {
        line: 0,
        message: format!("the head file {}: {e}", head_path(path).display()),
    })?;
    let last = lines.len() as u64;
    if head.seq > last {
        return Err(Tamper::Truncated {
            line: last,
            first: last + 1,
            last: head.seq,
        });
    }
    // Later records may exist (the writer died before updating the head): the chain covers them.
    match lines.get(head.seq.saturating_sub(1) as usize) {
        Some(l) if head.seq > 0 && l.hash != head.hash => Err(Tamper::Edited { line: head.seq }),
        _ => Ok(()),
    }
}

fn summarise(lines: &[Line]) -> Summary {
    let mut runs: Vec<RunSummary> = Vec::new();
    for l in lines {
        let (run, entry) = match &l.record.entry {
            Entry::Event(event) => (event.run(), &l.record.entry),
            Entry::Request { run, .. } | Entry::RunInterrupted { run, .. } => {
                (run.as_str(), &l.record.entry)
            }
            _ => continue,
        };
        let index = match runs.iter().position(|r| r.run == run) {
            Some(i) => i,
            None => {
                runs.push(RunSummary {
                    run: run.to_owned(),
                    plan_id: String::new(),
                    status: RunStatus::Unfinished,
                    completed: Vec::new(),
                    failed: Vec::new(),
                    requests: 0,
                });
                runs.len() - 1
            }
        };
        let summary = &mut runs[index];
        match entry {
            Entry::Event(event) => apply_event(summary, event),
            Entry::Request { .. } => summary.requests += 1,
            _ => summary.status = RunStatus::Interrupted,
        }
    }
    Summary {
        records: lines.len() as u64,
        runs,
    }
}

fn apply_event(summary: &mut RunSummary, event: &Event) {
    match event {
        Event::RunStarted { plan_id, .. } => summary.plan_id = plan_id.clone(),
        Event::StepFinished { step, .. } => summary.completed.push(step.clone()),
        Event::StepFailed { step, .. } | Event::PreflightRefused { step, .. } => {
            summary.failed.push(step.clone())
        }
        Event::RunFinished { outcome, .. } => summary.status = RunStatus::Finished(*outcome),
        _ => {}
    }
}

fn head_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

/// SHA-256 (hex) of a line's bytes.
fn line_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
