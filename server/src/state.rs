//! What the server serves, and reloading it.
//!
//! The served library is one [`Loaded`] behind an [`ArcSwap`]: a request takes the current one
//! with a lock-free load and keeps it for its whole life, so a reload never makes a reader wait
//! and a plan never mixes two commits. Reloads (the poll, SIGHUP, `POST /v1/reload`) run one at
//! a time; a commit whose library is broken is refused and reported while the previous one keeps
//! serving, and is not retried until the ref moves again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use cloudops_planner::Planner;
use cloudops_playbook::{Diagnostic, Library};
use serde::Serialize;

use crate::meta::{MetaStore, PlaybookSummary};
use crate::metrics::Metrics;
use crate::source::{Files, Source, SourceError};

/// One commit's library, planner and catalogue.
pub struct Loaded {
    /// Plans for this commit.
    pub planner: Arc<Planner>,
    /// The commit.
    pub commit: String,
    /// The catalogue, by id (served from here unless Redis holds it).
    pub summaries: BTreeMap<String, PlaybookSummary>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// How long parse + check + embed + index took.
    pub load_time: Duration,
}

/// The last commit refused, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// The commit.
    pub commit: String,
    /// Each problem, `file:line:column: message`.
    pub diagnostics: Vec<String>,
    /// When, in seconds since 1970.
    pub at: u64,
}

/// Why a load did not produce a planner.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The library at this commit is broken.
    #[error("the playbook library at commit {commit} is broken:\n{}", lines(.diagnostics))]
    Broken {
        /// The commit.
        commit: String,
        /// Every problem.
        diagnostics: Vec<Diagnostic>,
    },
    /// Git failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The planner could not be built (the model, the index).
    #[error("cannot build the planner for commit {commit}: {message}")]
    Planner {
        /// The commit.
        commit: String,
        /// Why.
        message: String,
    },
    /// The catalogue could not be published.
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
}

fn lines(diagnostics: &[Diagnostic]) -> String {
    let all: Vec<String> = diagnostics.iter().map(|d| format!("  {d}")).collect();
    all.join("\n")
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Reloaded {
    /// A new commit is served.
    Updated {
        /// The commit served before.
        from: String,
        /// The commit served now.
        to: String,
    },
    /// The ref still names the served commit (or the commit refused last time).
    Unchanged {
        /// The commit served.
        commit: String,
    },
}

/// The server's shared state.
pub struct State {
    current: ArcSwap<Loaded>,
    refusal: Mutex<Option<Refusal>>,
    reloading: tokio::sync::Mutex<()>,
    source: Source,
    embedder: Arc<Embedder>,
    // One index for every commit: each build borrows the served planner's open index and
    // vectors, and the planner retires the points of older commits.
    index: Location,
    /// The catalogue store.
    pub meta: MetaStore,
    /// The metrics.
    pub metrics: Metrics,
    /// The request limits.
    pub limits: crate::request::Limits,
}

impl State {
    /// Loads the ref's commit; fails (and serves nothing) when it is broken.
    pub async fn start(
        source: Source,
        embedder: Arc<Embedder>,
        index: Location,
        meta: MetaStore,
        limits: crate::request::Limits,
    ) -> Result<State, LoadError> {
        let commit = source.resolve().await?;
        let metrics = Metrics::new();
        let loaded = load(&source, &commit, &embedder, &index, None).await?;
        meta.publish(&commit, &summaries_vec(&loaded)).await?;
        metrics.serving(&commit, loaded.summaries.len());
        tracing::info!(
            commit = %commit,
            playbooks = loaded.summaries.len(),
            seconds = loaded.load_time.as_secs_f64(),
            "library loaded"
        );
        Ok(State {
            current: ArcSwap::from_pointee(loaded),
            refusal: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            source,
            embedder,
            index,
            meta,
            metrics,
            limits,
        })
    }

    /// The library served now (never waits).
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// The last refused commit, unless a good one was loaded since.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fetches the ref and serves its commit when it changed and is sound. A broken commit is
    /// recorded (log, `/healthz`, `/metrics`) and returned as the error; the served one stays.
    pub async fn reload(&self) -> Result<Reloaded, LoadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let result = self.reload_once().await;
        match &result {
            Ok(Reloaded::Updated { .. }) => self.metrics.reload("ok"),
            Ok(Reloaded::Unchanged { .. }) => self.metrics.reload("unchanged"),
            Err(_) => self.metrics.reload("failed"),
        }
        result
    }

    async fn reload_once(&self) -> Result<Reloaded, LoadError> {
        let served = self.current();
        let commit = self.source.resolve().await?;
        let refused_already = self.refusal().is_some_and(|r| r.commit == commit);
        if commit == served.commit || refused_already {
            return Ok(Reloaded::Unchanged {
                commit: served.commit.clone(),
            });
        }
        let loaded = match load(
            &self.source,
            &commit,
            &self.embedder,
            &self.index,
            Some(&served),
        )
        .await
        {
            Ok(loaded) => loaded,
            Err(LoadError::Broken {
                commit,
                diagnostics,
            }) => {
                self.refuse(&commit, &diagnostics);
                return Err(LoadError::Broken {
                    commit,
                    diagnostics,
                });
            }
            Err(other) => return Err(other),
        };
        // Published before it is served: a catalogue reader never sees a commit it cannot list.
        self.meta.publish(&commit, &summaries_vec(&loaded)).await?;
        let playbooks = loaded.summaries.len();
        let load_time = loaded.load_time;
        self.current.store(Arc::new(loaded));
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.metrics.serving(&commit, playbooks);
        tracing::info!(
            from = %served.commit, to = %commit, playbooks,
            seconds = load_time.as_secs_f64(), "library reloaded"
        );
        Ok(Reloaded::Updated {
            from: served.commit.clone(),
            to: commit,
        })
    }

    fn refuse(&self, commit: &str, diagnostics: &[Diagnostic]) {
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        for line in &lines {
            tracing::warn!(commit = %commit, "refused commit: {line}");
        }
        tracing::warn!(
            commit = %commit,
            serving = %self.current().commit,
            "library at {commit} refused ({} problems); still serving the previous commit",
            lines.len()
        );
        self.metrics.refused(commit, &lines);
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(Refusal {
            commit: commit.to_owned(),
            diagnostics: lines,
            at,
        });
    }
}

fn summaries_vec(loaded: &Loaded) -> Vec<PlaybookSummary> {
    loaded.summaries.values().cloned().collect()
}

/// Why the blocking part of a load made no planner.
enum NotBuilt {
    /// The library's diagnostics.
    Broken(Vec<Diagnostic>),
    /// The planner's error.
    Failed(String),
}

/// Reads, checks, embeds and indexes the library at `commit`.
async fn load(
    source: &Source,
    commit: &str,
    embedder: &Arc<Embedder>,
    location: &Location,
    previous: Option<&Arc<Loaded>>,
) -> Result<Loaded, LoadError> {
    let started = Instant::now();
    let broken = |diagnostics| LoadError::Broken {
        commit: commit.to_owned(),
        diagnostics,
    };
    let files = match source.files(commit).await? {
        Files::Read(files) => files,
        Files::Refused(diagnostics) => return Err(broken(diagnostics)),
    };
    let (commit_owned, embedder, location) =
        (commit.to_owned(), embedder.clone(), location.clone());
    let previous = previous.cloned();
    // Parsing and embedding are CPU work: off the async threads.
    let built = tokio::task::spawn_blocking(move || {
        let library = Library::from_files(files).map_err(NotBuilt::Broken)?;
        let previous = previous.as_ref().map(|p| p.planner.as_ref());
        Planner::build(library, commit_owned, embedder, &location, previous)
            .map_err(|e| NotBuilt::Failed(e.to_string()))
    })
    .await
    .map_err(|e| LoadError::Planner {
        commit: commit.to_owned(),
        message: format!("the load task failed: {e}"),
    })?;
    let planner = match built {
        Ok(planner) => planner,
        Err(NotBuilt::Broken(diagnostics)) => return Err(broken(diagnostics)),
        Err(NotBuilt::Failed(message)) => {
            return Err(LoadError::Planner {
                commit: commit.to_owned(),
                message,
            })
        }
    };
    let summaries = planner
        .library()
        .playbooks()
        .map(|p| (p.id.clone(), PlaybookSummary::of(p, commit)))
        .collect();
    Ok(Loaded {
        planner: Arc::new(planner),
        commit: commit.to_owned(),
        summaries,
        loaded_at: SystemTime::now(),
        load_time: started.elapsed(),
    })
}
