//! Argument parsing and the subcommands.

/// `println!` for results: a closed stdout (`cloudops status | head -1`) ends the process
/// quietly instead of panicking, as `cat` or `grep` would.
macro_rules! out {
    () => {
        $crate::cli::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

mod ask;
mod audit;
mod backup;
mod demo;
mod demo_ask;
mod output;
mod plan_view;
mod playbook;
mod playbook_component;
mod plugin;
mod runs;
mod scan;
mod search;
mod store;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// cloudops — a local-first AWS operations assistant.
///
/// Scanners for each AWS service are sandboxed WebAssembly plugins: they describe API
/// requests and parse responses, while cloudops holds your credentials, signs and sends.
#[derive(Debug, Parser)]
#[command(name = "cloudops", version, propagate_version = true)]
pub struct Cli {
    /// Where cloudops keeps plugins, caches and data [env: CLOUDOPS_DATA_DIR]
    /// [default: ~/.local/share/cloudops]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan AWS resources of one service with its plugin and print them.
    ///
    /// Examples:
    ///   cloudops scan --service ec2 --region us-west-2
    ///   cloudops scan --service ec2 --profile prod --region us-east-1 --region eu-west-1 --json
    Scan(scan::ScanArgs),
    /// Build, list and inspect scanner plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Store or remove AWS keys in the OS keychain.
    #[command(subcommand)]
    Credentials(scan::CredentialsCommand),
    /// Keep the local estate in step with AWS: every account × region × plugin, with IAM
    /// permissions, embeddings and sealed storage. Unchanged resources cost nothing.
    ///
    /// Examples:
    ///   cloudops sync                                  # the config's [[accounts]] or default credentials
    ///   cloudops sync --profile prod --profile staging --region us-west-2 --region us-east-1
    ///   cloudops sync --service rds --json
    Sync(sync::SyncArgs),
    /// Show how the last sync of every account, region and service went.
    Status(sync::StatusArgs),
    /// Search the local estate by name, meaning, tags, account, region and type.
    ///
    /// Examples:
    ///   cloudops search production database
    ///   cloudops search pg-main1
    ///   cloudops search env=prod AND app=main
    ///   cloudops search web servers in staging account in us-east-1 --json
    Search(search::SearchArgs),
    /// Repair the local store: `cloudops store rebuild` re-syncs into a fresh store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Measure search quality: index an estate file, run a query set, print recall@1,
    /// recall@5 and MRR.
    Eval(search::EvalArgs),
    /// Run the demo: start a local AWS emulator, seed a three-account estate, sync it
    /// (plugins, IAM, embeddings, sealed store), search it, plan a change and run a low-risk one.
    ///
    /// Needs no AWS account. Needs moto_server and the embedding model (both installed by
    /// scripts/setup) and the scanner plugins (`cloudops plugin build plugins/`).
    Demo(demo::DemoArgs),
    /// Write and check playbooks: the YAML files that teach the planner one AWS operation
    /// each (playbooks/SCHEMA.md documents the format).
    ///
    /// Examples:
    ///   cloudops playbook check              # every error as file:line:column
    ///   cloudops playbook test               # plan every case in playbooks/tests/
    ///   cloudops playbook new NAME           # a playbook with a component (playbooks/COMPONENTS.md)
    ///   cloudops playbook build              # build the library's components
    #[command(subcommand, verbatim_doc_comment)]
    Playbook(playbook::PlaybookCommand),
    /// Ask for a change in your words: see its plan, approve it, run it.
    ///
    /// cloudops finds the resources in the local estate, gets a plan (steps with their AWS CLI
    /// lines, IAM verdicts, risk), asks for approval as the risk requires, runs it, and
    /// re-scans what it touched.
    ///
    /// Low-risk plans run with `--yes`; medium ones ask you to type `yes`; high and critical
    /// ones ask for the target's name. A plan IAM denies or a precondition blocks never asks.
    ///
    /// Examples:
    ///   cloudops ask stop pg-instance-main1
    ///   cloudops ask start web-server-1 --yes
    ///   cloudops ask reboot every staging web server --show-request
    ///   cloudops ask stop pg-instance-main1 --json
    #[command(verbatim_doc_comment)]
    Ask(ask::AskArgs),
    /// Print the plan for a prompt and run nothing; its id is what `approve` takes.
    ///
    /// Examples:
    ///   cloudops plan stop pg-instance-main1
    ///   cloudops plan terminate web-server-1 --json
    #[command(verbatim_doc_comment)]
    Plan(ask::PlanArgs),
    /// Approve a plan printed by `plan` or `ask`, and run it.
    ///
    /// In a terminal: medium-risk plans ask for `yes`, high-risk ones for the target's name.
    ///
    /// Examples:
    ///   cloudops approve 3f2a9c1b7d4e
    ///   cloudops approve 3f2a9c1b7d4e --later --ttl 300   # grant only; run with `run start`
    #[command(verbatim_doc_comment)]
    Approve(ask::ApproveArgs),
    /// List the runs of this data dir: running, succeeded, failed, cancelled or interrupted
    /// (their process died), with the steps that completed.
    Runs(runs::RunsArgs),
    /// Show a run's events (`--follow` from another terminal), or start an approved plan.
    ///
    /// Examples:
    ///   cloudops run show 6c1e…-…  --follow
    ///   cloudops run start 3f2a9c1b7d4e --approval 0b7f…
    #[command(subcommand, verbatim_doc_comment)]
    Run(runs::RunCommand),
    /// Cancel a run, from any terminal: the AWS call in flight finishes, nothing after it
    /// starts.
    Cancel(runs::CancelArgs),
    /// Print the hash-chained audit log; `cloudops audit verify` checks it.
    ///
    /// Examples:
    ///   cloudops audit
    ///   cloudops audit verify
    #[command(verbatim_doc_comment)]
    Audit(audit::AuditArgs),
    /// Print the chat history: prompts, plans and outcomes (sealed in the store).
    History(audit::HistoryArgs),
    /// Back up the local estate (store, chat history, audit log, sync status, plugins and
    /// their trust, config) into one encrypted archive; list and check backups.
    ///
    /// Examples:
    ///   cloudops backup                                # into <data dir>/backups (kept 7 days)
    ///   cloudops backup --to s3://my-backups/laptop    # and upload it (kept 30 days)
    ///   cloudops backup list
    ///   cloudops backup verify s3://my-backups/laptop/cloudops-backup-20261206T101500Z.cbk
    #[command(verbatim_doc_comment)]
    Backup(backup::BackupArgs),
    /// Replace the data dir with a backup, after verifying all of it (a damaged, truncated
    /// or foreign backup changes nothing).
    Restore(backup::RestoreArgs),
    /// Export the estate key under a passphrase for safekeeping, or import it back.
    #[command(subcommand)]
    Key(backup::KeyCommand),
}

/// Writes one line of results to stdout; see `out!`.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"));
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader has all it wanted: not an error.
            std::process::exit(0);
        }
        eprintln!("error: cannot write the results to stdout: {e}");
        std::process::exit(1);
    }
}

/// Sets up tracing on stderr; stdout is kept for results.
pub fn init_logging(verbose: u8) {
    // qdrant-edge warns "Feature flags not initialized!" on every open: its flags are a
    // server setting that the embedded store has no way to set, and the defaults are right.
    let default = match verbose {
        0 => "warn,qdrant_edge=error",
        1 => "info,cloudops_host=info,qdrant_edge=error",
        2 => "debug,hyper=info,h2=info,rustls=info,cranelift_codegen=info,wasmtime=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only for a person at a terminal, not in logs and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cloudops_host::paths::data_dir(cli.data_dir);
    // A restore killed part-way is finished or undone before anything reads the data dir.
    match cloudops_host::backup::recover(&data_dir) {
        Ok(Some(done)) => eprintln!("{done}"),
        Ok(None) => {}
        Err(e) => anyhow::bail!("an interrupted restore could not be cleaned up: {e}"),
    }
    match cli.command {
        Command::Scan(args) => scan::run(args, &data_dir).await,
        Command::Plugin(cmd) => plugin::run(cmd, &data_dir).await,
        Command::Credentials(cmd) => scan::credentials(cmd),
        Command::Sync(args) => sync::run(args, &data_dir).await,
        Command::Status(args) => sync::status(args, &data_dir),
        // The store blocks (DESIGN: qdrant-edge is synchronous): keep it off the runtime.
        Command::Search(args) => {
            tokio::task::spawn_blocking(move || search::search(args, &data_dir)).await?
        }
        Command::Store(cmd) => store::run(cmd, &data_dir).await,
        Command::Eval(args) => tokio::task::spawn_blocking(move || search::eval(args)).await?,
        Command::Demo(args) => demo::run(args, &data_dir).await,
        // Components build and run WebAssembly, and need the data dir's code cache.
        Command::Playbook(playbook::PlaybookCommand::Component(cmd)) => {
            playbook_component::run(cmd, &data_dir).await
        }
        Command::Playbook(cmd) => playbook::run(cmd, &data_dir),
        Command::Ask(args) => ask::ask(args, &data_dir).await,
        Command::Plan(args) => ask::plan(args, &data_dir).await,
        Command::Approve(args) => ask::approve(args, &data_dir).await,
        Command::Runs(args) => runs::list(args, &data_dir),
        Command::Run(cmd) => runs::run(cmd, &data_dir).await,
        Command::Cancel(args) => runs::cancel(args, &data_dir),
        Command::Audit(args) => audit::run(args, &data_dir),
        Command::History(args) => audit::history(args, &data_dir),
        Command::Backup(args) => backup::run(args, &data_dir).await,
        Command::Restore(args) => backup::restore(args, &data_dir).await,
        Command::Key(cmd) => backup::key(cmd, &data_dir),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the whole command tree (ids, globals against subcommand arguments)
    /// only here, not at build time.
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// A subcommand argument named like a global one (`--verbose`) passes `debug_assert`
    /// but panics when parsed, so parse every subcommand together with the globals.
    #[test]
    fn every_subcommand_parses_with_the_global_options() {
        let mut cli = super::Cli::command();
        let names: Vec<String> = cli
            .get_subcommands()
            .filter(|c| !c.has_subcommands())
            .map(|c| c.get_name().to_owned())
            .collect();
        for name in names {
            let args = ["cloudops", "-v", "--data-dir", "/tmp/x", name.as_str()];
            if let Err(e) = cli.try_get_matches_from_mut(args) {
                // Missing required arguments are fine here; a panic is what this catches.
                assert_ne!(
                    e.kind(),
                    clap::error::ErrorKind::UnknownArgument,
                    "{name}: {e}"
                );
            }
            let _ = <super::Cli as clap::Parser>::try_parse_from(args);
        }
    }
}
