//! Where plans come from: the plan server (`[server] url` in config.toml, or
//! `CLOUDOPS_SERVER_URL`), else the same planner in this process, built from a playbook
//! library folder.
//!
//! The in-process planner keeps its playbook index in `<data dir>/planner/<library hash>/` and
//! the library texts' vectors in `<data dir>/planner/vectors.json`, so a second `ask` embeds
//! only the texts that changed (measured on the 47-playbook library, on a loaded two-core
//! machine: `cloudops plan` took 7-11 s embedding the whole library every time; see the
//! report of this change for the figure with the cache). When another process holds that
//! index (two `ask`s at once), this one builds a private index in a temporary folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use cloudops_planner::Planner;
use cloudops_playbook::plan::{Plan, PlanRequest};
use cloudops_playbook::Library;

use crate::AskError;

/// How long a request to the plan server may take.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// A source of plans.
pub enum PlannerClient {
    /// `POST {url}/v1/plan`.
    Server {
        /// The server's base URL.
        url: String,
        /// The HTTP client.
        http: reqwest::Client,
    },
    /// The planner in this process.
    InProcess {
        /// The planner over the local library.
        planner: Box<Planner>,
        /// A private index folder, when the shared one was busy (removed on drop).
        _scratch: Option<tempfile::TempDir>,
    },
}

impl std::fmt::Debug for PlannerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PlannerClient {
    /// A client of the plan server at `url`.
    pub fn server(url: &str) -> Result<PlannerClient, AskError> {
        let http = reqwest::Client::builder()
            .timeout(SERVER_TIMEOUT)
            .build()
            .map_err(|e| AskError::Server {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        Ok(PlannerClient::Server {
            url: url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The planner in this process over the library in `library_dir`, its index cached under
    /// `data_dir`. Blocks (embedding the library's texts).
    pub fn in_process(
        library_dir: &Path,
        embedder: Arc<Embedder>,
        data_dir: &Path,
    ) -> Result<PlannerClient, AskError> {
        let files = cloudops_playbook::library::read_dir(library_dir)
            .map_err(|errors| library_error(library_dir, &errors))?;
        let commit = format!("local-{}", &hash_files(&files)[..16]);
        let library =
            Library::from_files(files).map_err(|errors| library_error(library_dir, &errors))?;
        let shared = data_dir.join("planner").join(&commit);
        let vectors = data_dir.join("planner").join("vectors.json");
        let build = |index: &Path| {
            Planner::build_with_saved_vectors(
                library.clone(),
                commit.clone(),
                embedder.clone(),
                &Location::Embedded(index.to_owned()),
                &vectors,
            )
        };
        match build(&shared) {
            Ok(planner) => {
                if let Err(e) = planner.save_vectors(&vectors) {
                    tracing::warn!("the playbooks' vectors were not cached: {e}");
                }
                Ok(PlannerClient::InProcess {
                    planner: Box::new(planner),
                    _scratch: None,
                })
            }
            Err(e) if e.to_string().contains("lock") || e.to_string().contains("another") => {
                tracing::info!("the shared playbook index is busy ({e}); building a private one");
                let scratch = tempfile::tempdir().map_err(|e| AskError::io(&shared, e))?;
                let planner = build(&scratch.path().join("index"))
                    .map_err(|e| AskError::Planner(e.to_string()))?;
                Ok(PlannerClient::InProcess {
                    planner: Box::new(planner),
                    _scratch: Some(scratch),
                })
            }
            Err(e) => Err(AskError::Planner(e.to_string())),
        }
    }

    /// Says where plans come from, for people.
    pub fn describe(&self) -> String {
        match self {
            PlannerClient::Server { url, .. } => format!("plan server {url}"),
            PlannerClient::InProcess { planner, .. } => format!(
                "planner in process ({} playbooks, library {})",
                planner.library().len(),
                planner.commit()
            ),
        }
    }

    /// The local library, when planning in process.
    pub fn library(&self) -> Option<&Library> {
        match self {
            PlannerClient::Server { .. } => None,
            PlannerClient::InProcess { planner, .. } => Some(planner.library()),
        }
    }

    /// The plan for `request`. The in-process planner blocks: call from a blocking task or
    /// through [`PlannerClient::plan_async`].
    pub async fn plan(&self, request: &PlanRequest) -> Result<Plan, AskError> {
        let plan = match self {
            PlannerClient::Server { url, http } => post_plan(http, url, request).await?,
            PlannerClient::InProcess { planner, .. } => {
                let planner: &Planner = planner;
                tokio::task::block_in_place(|| planner.plan(request))
                    .map_err(|e| AskError::Planner(e.to_string()))?
            }
        };
        if !plan.is_intact() {
            return Err(AskError::Planner(format!(
                "plan {} does not match its own id (it was altered on the way): ask again",
                plan.plan_id
            )));
        }
        Ok(plan)
    }
}

/// `POST {url}/v1/plan` with `request`; the server's refusal message when it refuses.
async fn post_plan(
    http: &reqwest::Client,
    url: &str,
    request: &PlanRequest,
) -> Result<Plan, AskError> {
    let err = |message: String| AskError::Server {
        url: url.to_owned(),
        message,
    };
    let body = serde_json::to_vec(request).expect("a request is always JSON");
    let response = http
        .post(format!("{url}/v1/plan"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            err(format!(
                "cannot reach it ({e}); start it, fix `[server] url` in config.toml, or unset it to plan in process"
            ))
        })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| err(format!("reading its answer: {e}")))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
        return Err(err(format!("refused the request ({status}): {message}")));
    }
    serde_json::from_slice(&bytes).map_err(|e| err(format!("its answer is not a plan: {e}")))
}

fn library_error(dir: &Path, errors: &[cloudops_playbook::check::Diagnostic]) -> AskError {
    AskError::Library {
        dir: dir.to_owned(),
        message: format!(
            "{} errors, the first: {}; fix them (`cloudops playbook check {}`)",
            errors.len(),
            errors.first().map(ToString::to_string).unwrap_or_default(),
            dir.display()
        ),
    }
}

/// The library folder to plan with: `explicit`, else `CLOUDOPS_PLAYBOOKS_DIR`, else the
/// `playbooks/` folder of the checkout this binary was built from, when it is there.
pub fn library_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_owned)
        .or_else(|| std::env::var_os("CLOUDOPS_PLAYBOOKS_DIR").map(PathBuf::from))
        .or_else(|| {
            let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks");
            built.is_dir().then_some(built)
        })
}

/// SHA-256 (hex) of a library's files, paths and bytes: the planner's index is keyed by it,
/// so an edited library gets a new index.
fn hash_files(files: &[(String, Vec<u8>)]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (path, bytes) in sorted {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}
