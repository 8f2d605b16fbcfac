//! `cloudops runs`, `cloudops run show|start` and `cloudops cancel`: runs in the data dir,
//! from this process or another.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use cloudops_host::ask::history::Turn;
use cloudops_host::ask::{run, Session};
use cloudops_host::execute::events::{Event, EventSink};
use cloudops_host::playbook::plan::Plan;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

use super::ask::session;

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Print a run's events; `--follow` keeps printing them until it ends.
    Show {
        /// The run's id (`cloudops runs` lists them).
        id: String,
        /// Keep printing new events until the run ends (from another terminal, too).
        #[arg(long, short)]
        follow: bool,
        /// Print the events as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Run a saved plan with an approval granted by `cloudops approve PLAN_ID --later`.
    Start {
        /// The plan's id.
        plan_id: String,
        /// The approval's id.
        #[arg(long, value_name = "ID")]
        approval: String,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id.
    id: String,
}

/// Runs `plan` with approval `approval_id`: events to the terminal (stderr), then the
/// touched resources re-scanned and the outcome remembered. Returns the run as JSON.
pub async fn execute(
    session: &Arc<Session>,
    plan: &Plan,
    approval_id: &str,
    json: bool,
) -> anyhow::Result<serde_json::Value> {
    let sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(Terminal)];
    let id = session.execute(plan, approval_id, sinks).await?;
    if !json {
        eprintln!(
            "run {id} started (follow it: cloudops run show {id} --follow; cancel: cloudops cancel {id})"
        );
    }
    let outcome = session.wait(&id).await;
    let outcome_name = outcome
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .unwrap_or(json!("unknown"));
    let rescan = match session.rescan(plan).await {
        Ok(report) => {
            for e in &report.errors {
                eprintln!("warning: re-scan: {e}");
            }
            serde_json::to_value(&report)?
        }
        Err(e) => {
            eprintln!(
                "warning: the touched resources were not re-scanned ({e}); `cloudops sync` will"
            );
            serde_json::Value::Null
        }
    };
    let mut turn = Turn::now(
        &session.options().chat_session,
        "assistant",
        format!("run {id}: {}", outcome_name.as_str().unwrap_or("unknown")),
    );
    turn.plan_id = Some(plan.plan_id.clone());
    turn.run_id = Some(id.0.clone());
    if let Err(e) = tokio::task::block_in_place(|| session.remember(&[turn])) {
        eprintln!("warning: the chat history was not saved: {e}");
    }
    let events = run::events(session.data_dir(), &id.0).unwrap_or_default();
    Ok(json!({"id": id.0, "outcome": outcome_name, "events": events, "rescan": rescan}))
}

/// `cloudops runs`.
pub fn list(args: RunsArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let runs = run::list(data_dir)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&json!({"runs": runs}))?);
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        eprintln!("no runs yet: `cloudops ask PROMPT` runs a plan once approved");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "RUN",
        "PLAN",
        "STATUS",
        "COMPLETED",
        "FAILED",
        "REQUESTS",
    ]);
    for r in &runs {
        table.add_row([
            r.id.clone(),
            super::plan_view::short(&r.plan_id).to_owned(),
            r.status.clone(),
            r.completed.join(" "),
            r.failed.join(" "),
            r.requests.to_string(),
        ]);
    }
    out!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// `cloudops run show|start`.
pub async fn run(cmd: RunCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        RunCommand::Show { id, follow, json } => show(&id, follow, json, data_dir).await,
        RunCommand::Start {
            plan_id,
            approval,
            json,
        } => {
            let session = session(data_dir)?;
            let plan = session.saved(&plan_id)?.plan;
            let run = execute(&session, &plan, &approval, json).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&run)?);
            }
            Ok(if run["outcome"] == "succeeded" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Prints the run's events; following, until its end or its process's death.
async fn show(id: &str, follow: bool, json: bool, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let mut shown = 0;
    loop {
        let events = run::events(data_dir, id)?;
        for event in &events[shown.min(events.len())..] {
            if json {
                out!("{}", serde_json::to_string(event)?);
            } else {
                out!("{}", describe(event));
            }
        }
        shown = events.len();
        let ended = events
            .iter()
            .any(|e| matches!(e, Event::RunFinished { .. }));
        if ended || !follow {
            return Ok(ExitCode::SUCCESS);
        }
        if !run::is_live(data_dir, id) {
            // Read once more: the last events may have landed just before the lock went.
            if run::events(data_dir, id)?.len() == shown {
                eprintln!("run {id} is not running and never ended: its process died (`cloudops runs` marks it interrupted)");
                return Ok(ExitCode::FAILURE);
            }
            continue;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `cloudops cancel ID`.
pub fn cancel(args: CancelArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    run::request_cancel(data_dir, &args.id)?;
    eprintln!(
        "cancel requested: the call in flight finishes, nothing after it starts (`cloudops run show {} --follow`)",
        args.id
    );
    Ok(ExitCode::SUCCESS)
}

/// Events as lines on stderr, while the run goes on.
struct Terminal;

impl EventSink for Terminal {
    fn emit(&self, event: &Event) {
        eprintln!("{}", describe(event));
    }
}

/// One event in words.
fn describe(event: &Event) -> String {
    match event {
        Event::RunStarted { run, steps, .. } => {
            format!("run {run}: {} step(s): {}", steps.len(), steps.join(", "))
        }
        Event::PreflightPassed { step, checks, .. } => {
            format!("preflight {step}: {}", checks.join("; "))
        }
        Event::PreflightRefused { step, reason, .. } => {
            format!("REFUSED {step} before anything was sent: {reason}")
        }
        Event::StepStarted { step, .. } => format!("> {step}"),
        Event::Output { step, line, .. } => format!("  {step}: {line}"),
        Event::WaiterProgress {
            step,
            state,
            until,
            elapsed_s,
            ..
        } => format!(
            "  {step}: {} (waiting for {until}, {elapsed_s} s)",
            state.as_deref().unwrap_or("not found")
        ),
        Event::StepFinished { step, ms, .. } => format!("ok {step} ({:.1} s)", *ms as f64 / 1e3),
        Event::StepFailed { step, error, .. } => format!("FAILED {step}: {error}"),
        Event::StepCancelled { step, .. } => format!("cancelled {step}"),
        Event::StepSkipped { step, because, .. } => {
            format!("skipped {step} (it depends on {because}, which failed)")
        }
        Event::RunFinished {
            outcome, completed, ..
        } => format!(
            "run {}: {} step(s) completed",
            serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            completed.len()
        ),
    }
}
