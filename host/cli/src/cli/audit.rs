//! `cloudops audit [verify]` and `cloudops history`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use cloudops_host::execute::audit::{self, AuditLog, Entry, Record};
use serde_json::json;

use super::ask::session;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Print the records as one JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain: an edited, deleted, reordered or truncated record is
    /// named by its line; exits 1 when the log was tampered with.
    Verify {
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many turns, most recent last.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// `cloudops audit` and `cloudops audit verify`.
pub fn run(args: AuditArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let log = AuditLog::open(data_dir);
    match args.command {
        Some(AuditCommand::Verify { json }) => verify(&log, json),
        None => list(&log, args.json),
    }
}

fn verify(log: &AuditLog, json: bool) -> anyhow::Result<ExitCode> {
    match audit::verify(log.path()) {
        Ok(summary) => {
            let interrupted = summary.interrupted().count();
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&json!({"ok": true, "summary": summary}))?
                );
            } else {
                out!(
                    "audit log {} is intact: {} records, {} runs ({interrupted} interrupted)",
                    log.path().display(),
                    summary.records,
                    summary.runs.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(tamper) => {
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"ok": false, "error": tamper.to_string()})
                    )?
                );
            }
            eprintln!(
                "error: audit log {} was tampered with: {tamper}. Keep the file as evidence",
                log.path().display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn list(log: &AuditLog, json: bool) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(log.path()) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", log.path().display())),
    };
    let records: Vec<Record> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "{} does not parse: run `cloudops audit verify`",
                log.path().display()
            )
        })?;
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({"records": records}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        eprintln!("the audit log is empty: nothing has run yet");
    }
    for r in &records {
        out!("{:>5}  {}  {}", r.seq, utc_ms(r.at_ms), summary(&r.entry));
    }
    Ok(ExitCode::SUCCESS)
}

fn utc_ms(ms: u64) -> String {
    cloudops_host::estate::utc((ms / 1000) as i64)
}

/// One record in a line.
fn summary(entry: &Entry) -> String {
    match entry {
        Entry::Plan {
            plan_id,
            playbook,
            steps,
        } => format!(
            "plan {} ({}): {} step(s)",
            super::plan_view::short(plan_id),
            playbook.as_deref().unwrap_or("no playbook"),
            steps.len()
        ),
        Entry::Approval {
            approval_id,
            plan_id,
            grants,
            ..
        } => format!(
            "approval {approval_id} of plan {}: {}",
            super::plan_view::short(plan_id),
            grants
                .iter()
                .map(|g| format!("{} on {}", g.action, g.arn))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Entry::Principal { run, arn } => format!("run {run} acts as {arn}"),
        Entry::Request {
            run,
            operation,
            target,
            ..
        } => {
            format!("run {run}: request {operation} on {target}")
        }
        Entry::RunInterrupted { run, completed } => {
            format!("run {run} interrupted after {} step(s)", completed.len())
        }
        Entry::Event(event) => serde_json::to_string(event).unwrap_or_default(),
    }
}

/// `cloudops history`.
pub fn history(args: HistoryArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let session = session(data_dir)?;
    let turns = tokio::task::block_in_place(|| session.history(args.limit))?;
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({"turns": turns}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if turns.is_empty() {
        eprintln!("no chat history yet: `cloudops ask PROMPT` starts it");
    }
    for t in &turns {
        out!("{}  {:<9} {}", utc_ms(t.at), t.role, t.text);
    }
    Ok(ExitCode::SUCCESS)
}
