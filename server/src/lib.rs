//! `cloudops-server`: the stateless plan server (README "The plan server").
//!
//! It reads the playbook library from a Git repository ([`source`]), indexes it with the
//! planner ([`cloudops_planner::Planner`]) and answers `POST /v1/plan` with a plan that names
//! the library's commit ([`http`]). It reloads when the ref moves ([`state`]), refusing a
//! broken commit while the previous one keeps serving. It holds no credentials, refuses
//! requests that carry any ([`secrets`]), talks to no AWS endpoint, and keeps nothing of a
//! request: the only things it writes are the index of the library and, with `REDIS_URL`, the
//! library's catalogue ([`meta`]).
//!
//! It links neither wasmtime nor the AWS stack (`scripts/layers` checks).

#![deny(missing_docs)]

pub mod error;
pub mod http;
pub mod meta;
pub mod metrics;
pub mod request;
pub mod secrets;
pub mod source;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use request::Limits;
pub use state::{LoadError, State};

/// How the server is set up (the command line's flags, as data).
#[derive(Debug, Clone)]
pub struct Options {
    /// The library's repository: a folder or a URL.
    pub playbooks: String,
    /// The ref to serve and follow (`main`).
    pub reference: String,
    /// The library's folder inside the repository (empty: the whole repository).
    pub subdir: String,
    /// Where the clone of a URL and the embedded index are kept; a temporary folder when
    /// `None` (removed when the server stops).
    pub data_dir: Option<PathBuf>,
    /// A Qdrant server for the index (`None`: embedded Qdrant under the data folder).
    pub qdrant: Option<Location>,
    /// Redis for the catalogue (`None`: in process).
    pub redis_url: Option<String>,
    /// How often the ref is fetched and compared (`None`: never; reloads on request only).
    pub poll: Option<Duration>,
    /// The request limits.
    pub limits: Limits,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The library could not be loaded (broken: exit code 2).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The catalogue store (Redis) is unreachable.
    #[error(transparent)]
    Meta(#[from] meta::MetaError),
    /// The repository could not be opened.
    #[error(transparent)]
    Source(#[from] source::SourceError),
    /// A folder or the listening socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (for reloads and inspection).
    pub state: Arc<State>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    // The temporary data folder, when no --data-dir was given; removed on drop.
    _scratch: Option<tempfile::TempDir>,
}

impl Server {
    /// Loads the library and listens on `listen` (port 0: any free port).
    pub async fn start(
        options: Options,
        listen: SocketAddr,
        embedder: Arc<Embedder>,
    ) -> Result<Server, StartError> {
        let io = |what: String| move |source| StartError::Io { what, source };
        let (scratch, data) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(io(format!("cannot create {}", dir.display())))?;
                (None, dir.clone())
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("cloudops-server-")
                    .tempdir()
                    .map_err(io("cannot make a temporary folder".into()))?;
                let path = dir.path().to_owned();
                (Some(dir), path)
            }
        };
        let source = source::Source::open(
            &options.playbooks,
            &options.reference,
            &options.subdir,
            &data,
        )
        .await?;
        let meta = match &options.redis_url {
            Some(url) => meta::MetaStore::redis(url).await?,
            None => meta::MetaStore::InProcess,
        };
        let index = options
            .qdrant
            .clone()
            .unwrap_or_else(|| Location::Embedded(data.join("index")));
        let state = Arc::new(State::start(source, embedder, index, meta, options.limits).await?);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(io(format!("cannot listen on {listen}")))?;
        let addr = listener
            .local_addr()
            .map_err(io("cannot read the listening address".into()))?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(serve(
            listener,
            state.clone(),
            stopped.clone(),
        ))];
        if let Some(every) = options.poll {
            tasks.push(tokio::spawn(poll(state.clone(), every, stopped)));
        }
        tracing::info!(%addr, commit = %state.current().commit, "plan server listening");
        Ok(Server {
            addr,
            state,
            stop,
            tasks,
            _scratch: scratch,
        })
    }

    /// Stops listening and polling, lets requests in flight finish, and waits.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    let app = http::router(state);
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!("the HTTP server stopped: {e}");
    }
}

/// Reloads every `every` until stopped. Errors are logged (and, for a broken commit, recorded
/// by [`State::reload`]); the served library stays.
async fn poll(state: Arc<State>, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is now: the library was just loaded
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        match state.reload().await {
            Ok(state::Reloaded::Unchanged { .. }) => {}
            Ok(done) => tracing::debug!(?done, "poll reloaded the library"),
            Err(LoadError::Broken { .. }) => {} // logged with every diagnostic by the reload
            Err(e) => tracing::warn!(
                "polling the playbook library failed: {e}; still serving {}",
                state.current().commit
            ),
        }
    }
}
