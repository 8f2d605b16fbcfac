//! `cloudops ask`, `cloudops plan` and `cloudops approve`: the ask flow of cloudops-ask with a
//! terminal around it.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use cloudops_host::ask::{Asked, Session};
use cloudops_host::config::Config;
use cloudops_host::execute::approval::Given;
use cloudops_host::playbook::plan::Plan;
use serde_json::json;

use super::{plan_view, runs};

#[derive(Debug, Args)]
pub struct AskArgs {
    /// What to do, in your words: "stop pg-instance-main1", "reboot every staging web server".
    prompt: Vec<String>,
    /// Approve a low-risk plan without asking (medium and higher still ask).
    #[arg(long)]
    yes: bool,
    /// Print one JSON document on stdout: the plan, the run and its events.
    #[arg(long)]
    json: bool,
    /// Also print the request sent to the planner (what leaves this machine).
    #[arg(long)]
    show_request: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What to do, in your words.
    prompt: Vec<String>,
    /// Print the plan as JSON on stdout (DESIGN § 4 "Ask" documents its fields).
    #[arg(long)]
    json: bool,
    /// Also print the request sent to the planner.
    #[arg(long)]
    show_request: bool,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The plan's id, as `ask` or `plan` printed it (its first 8+ characters are enough).
    plan_id: String,
    /// Approve a low-risk plan without asking.
    #[arg(long)]
    yes: bool,
    /// Only grant the approval and print its id, for `cloudops run start PLAN_ID --approval ID`.
    #[arg(long)]
    later: bool,
    /// How long the approval lasts, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    ttl: u64,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// Opens the ask session of `data_dir` under its configuration.
pub fn session(data_dir: &Path) -> anyhow::Result<Arc<Session>> {
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let options = config.ask_options(data_dir);
    Ok(Arc::new(tokio::task::block_in_place(|| {
        Session::open(options)
    })?))
}

fn prompt_of(words: &[String]) -> anyhow::Result<String> {
    let prompt = words.join(" ");
    if prompt.trim().is_empty() {
        anyhow::bail!("say what to do, e.g. `cloudops ask stop pg-instance-main1`");
    }
    Ok(prompt)
}

/// `cloudops plan`: prints the plan, runs nothing.
pub async fn plan(args: PlanArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let session = session(data_dir)?;
    let asked = session.ask(&prompt_of(&args.prompt)?).await?;
    show(&asked, args.json, args.show_request)?;
    Ok(ExitCode::SUCCESS)
}

/// `cloudops ask`: shows the plan, asks for approval as its risk requires, runs it.
pub async fn ask(args: AskArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let session = session(data_dir)?;
    let asked = session.ask(&prompt_of(&args.prompt)?).await?;
    if !args.json {
        show(&asked, false, args.show_request)?;
    }
    let plan = &asked.plan;
    if !plan.runnable {
        if args.json {
            show(&asked, true, args.show_request)?;
        }
        eprintln!("{}", plan_view::approval_line(plan));
        return Ok(ExitCode::FAILURE);
    }
    let outcome = approve_and_run(&session, plan, args.yes, args.json).await;
    if args.json {
        let mut doc = json!({"plan": plan});
        if args.show_request {
            doc["request"] = serde_json::to_value(&asked.request)?;
        }
        if let Ok(run) = &outcome {
            doc["run"] = run.clone();
        }
        out!("{}", serde_json::to_string_pretty(&doc)?);
    }
    outcome.map(|run| exit_of(&run))
}

/// `cloudops approve PLAN_ID`: approves a saved plan and runs it (or, with `--later`, only
/// grants the approval).
pub async fn approve(args: ApproveArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let session = session(data_dir)?;
    let saved = session.saved(&args.plan_id)?;
    let plan = saved.plan;
    if !args.json {
        out!("prompt: {}", saved.prompt);
        plan_view::print(&plan, "saved");
    }
    if !plan.runnable {
        eprintln!("{}", plan_view::approval_line(&plan));
        return Ok(ExitCode::FAILURE);
    }
    let given = confirmation(&plan, args.yes)?;
    let ttl = std::time::Duration::from_secs(args.ttl);
    let approval = cloudops_host::ask::approve::approve(data_dir, &plan, &given, ttl)?;
    if args.later {
        if args.json {
            out!("{}", serde_json::to_string_pretty(&approval)?);
        } else {
            out!("approval {} for plan {}", approval.id, plan.plan_id);
            eprintln!(
                "run it within {} s: cloudops run start {} --approval {}",
                args.ttl,
                plan_view::short(&plan.plan_id),
                approval.id
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let run = runs::execute(&session, &plan, &approval.id, args.json).await?;
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({"plan": plan, "run": run}))?
        );
    }
    Ok(exit_of(&run))
}

fn show(asked: &Asked, json: bool, show_request: bool) -> anyhow::Result<()> {
    if json {
        let doc = if show_request {
            json!({"request": asked.request, "plan": asked.plan})
        } else {
            serde_json::to_value(&asked.plan)?
        };
        out!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if show_request {
        out!("request sent to the {}:", asked.planner);
        out!("{}", serde_json::to_string_pretty(&asked.request)?);
    }
    if asked.resolution.plural {
        eprintln!(
            "\"{}\" resolved to {} resources",
            asked.resolution.query,
            asked.resolution.resources.len()
        );
    }
    plan_view::print(&asked.plan, &asked.planner);
    eprintln!("{}", plan_view::approval_line(&asked.plan));
    Ok(())
}

async fn approve_and_run(
    session: &Arc<Session>,
    plan: &Plan,
    yes: bool,
    json: bool,
) -> anyhow::Result<serde_json::Value> {
    let given = confirmation(plan, yes)?;
    let approval = session.approve(plan, &given)?;
    runs::execute(session, plan, &approval.id, json).await
}

/// What the user gives for `plan`: `--yes` when that is enough, else a line typed on stdin
/// after the question on stderr.
fn confirmation(plan: &Plan, yes: bool) -> anyhow::Result<Given> {
    let Some(question) = cloudops_host::ask::approve::question(plan) else {
        if yes {
            return Ok(Given::YesFlag);
        }
        // Low risk needs no more than `yes`, but a typed answer must still be it.
        return match ask_line("low risk: type `yes` to run it")? {
            Given::Typed(answer) if answer == "yes" => Ok(Given::YesFlag),
            _ => anyhow::bail!("not approved (the answer was not `yes`): nothing ran"),
        };
    };
    if yes && !std::io::stdin().is_terminal() {
        // Nobody to ask: refuse now rather than wait on a closed stdin.
        let why = cloudops_host::ask::approve::refusal(plan, &Given::YesFlag).unwrap_or_default();
        anyhow::bail!("{why}");
    }
    ask_line(&question)
}

fn ask_line(question: &str) -> anyhow::Result<Given> {
    eprint!("{question}: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    if read == 0 {
        anyhow::bail!("no answer (stdin is closed): nothing ran");
    }
    Ok(Given::Typed(line.trim().to_owned()))
}

fn exit_of(run: &serde_json::Value) -> ExitCode {
    if run["outcome"] == "succeeded" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
