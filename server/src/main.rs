//! The `cloudops-server` command line: flags, logs, signals, exit codes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use cloudops_server::{Limits, LoadError, Options, Server, StartError};

/// The cloudops plan server: turns a prompt and the resources the host identified into an
/// exact, risk-assessed, approval-gated plan, from a playbook library kept in Git.
///
/// It holds no AWS credentials and never talks to AWS; the host executes the plans.
///
/// Examples:
///
///   cloudops-server --playbooks ./playbooks-repo
///
///   cloudops-server --playbooks https://git.example.com/ops/playbooks.git --ref v3 \
///       --listen 0.0.0.0:8080 --data-dir /var/lib/cloudops-server
///
/// Endpoints: POST /v1/plan, GET /v1/playbooks, GET /v1/playbooks/{id}, POST /v1/reload,
/// GET /healthz, GET /metrics (README: "The plan server").
///
/// Exit codes: 0 stopped cleanly, 1 could not start, 2 the library is broken (every
/// file:line:column is printed).
#[derive(Debug, Parser)]
#[command(name = "cloudops-server", version, verbatim_doc_comment)]
struct Args {
    /// The playbook library's Git repository: a folder, or a URL that is cloned bare into
    /// the data folder and fetched on every reload.
    #[arg(long, value_name = "REPO")]
    playbooks: String,

    /// The branch, tag or commit to serve; a branch is followed as it moves.
    #[arg(long = "ref", value_name = "REF", default_value = "main")]
    reference: String,

    /// The library's folder inside the repository, when it is not the whole repository
    /// (`playbooks` for the cloudops repository itself).
    #[arg(long, value_name = "PATH", default_value = "")]
    path: String,

    /// Where to listen. Keep it on loopback unless a proxy in front authenticates callers:
    /// POST /v1/reload is not authenticated.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// A Qdrant server (gRPC, e.g. http://127.0.0.1:6334) for the playbook index; without it
    /// the index is embedded in the data folder.
    #[arg(long, value_name = "URL", env = "QDRANT_URL")]
    qdrant_url: Option<String>,

    /// The Qdrant server's API key, if it wants one.
    #[arg(
        long,
        value_name = "KEY",
        env = "QDRANT_API_KEY",
        hide_env_values = true
    )]
    qdrant_api_key: Option<String>,

    /// Redis for the playbook catalogue (GET /v1/playbooks), e.g. redis://127.0.0.1:6379;
    /// without it the catalogue is kept in process.
    #[arg(long, value_name = "URL", env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,

    /// Seconds between checks of the ref (0: never; SIGHUP and POST /v1/reload still reload).
    #[arg(long, value_name = "N", default_value_t = 30)]
    poll_seconds: u64,

    /// Where the clone of a URL and the embedded index are kept; a temporary folder, removed
    /// on exit, when not given.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cloudops-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let embedder = match Embedder::from_env() {
        Ok(embedder) => Arc::new(embedder),
        Err(e) => {
            eprintln!(
                "cloudops-server: cannot load the embedding model: {e}\n\
                 run scripts/setup, then `source scripts/env.sh` (it sets CLOUDOPS_MODEL_DIR and ORT_DYLIB_PATH)"
            );
            return ExitCode::from(1);
        }
    };
    let options = Options {
        playbooks: args.playbooks,
        reference: args.reference,
        subdir: args.path,
        data_dir: args.data_dir,
        qdrant: args.qdrant_url.map(|url| Location::Server {
            url,
            api_key: args.qdrant_api_key,
        }),
        redis_url: args.redis_url,
        poll: (args.poll_seconds > 0).then(|| Duration::from_secs(args.poll_seconds)),
        limits: Limits::default(),
    };
    let server = match Server::start(options, args.listen, embedder).await {
        Ok(server) => server,
        Err(StartError::Load(e @ LoadError::Broken { .. })) => {
            eprintln!("cloudops-server: {e}\nfix these and commit, then start again");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("cloudops-server: {e}");
            return ExitCode::from(1);
        }
    };
    wait_for_signals(&server).await;
    server.stop().await;
    ExitCode::SUCCESS
}

/// Reloads on SIGHUP; returns on SIGINT or SIGTERM.
async fn wait_for_signals(server: &Server) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for signals; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the playbook library");
                let state = server.state.clone();
                // In a task: a slow fetch must not delay a SIGTERM.
                tokio::spawn(async move {
                    if let Err(e) = state.reload().await {
                        tracing::warn!("reload on SIGHUP failed: {e}");
                    }
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("stopping: requests in flight finish first");
}
