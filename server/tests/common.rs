//! What every test uses: the model, a Git repository of the playbooks, a running server, an
//! HTTP client, and the log lines the server wrote.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use cloudops_estate::embed::Embedder;
use cloudops_server::{Limits, Options, Server, StartError};
use serde_json::Value;

/// The model, loaded once for the whole test binary.
pub fn embedder() -> Arc<Embedder> {
    static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(Embedder::from_env().unwrap_or_else(|e| {
                panic!("the embedding model is needed: run scripts/setup and source scripts/env.sh ({e})")
            }))
        })
        .clone()
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of every test (all levels of the server's, info and up of the rest)
/// into one buffer that [`logs`] reads.
pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("info,cloudops_server=trace")
            .with_writer(|| Capture)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    });
}

/// Every log line written so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// The repository's `playbooks/` folder.
pub fn library_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks")
}

/// A Git repository (branch `main`) whose first commit is the repository's playbooks.
pub struct Repo {
    /// Its folder.
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// Copies `playbooks/` into a new repository and commits it.
    pub fn of_playbooks() -> Repo {
        Repo::with_playbooks_in("")
    }

    /// Copies `playbooks/` into `folder` of a new repository (the root when empty) and
    /// commits it.
    pub fn with_playbooks_in(folder: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&library_folder(), &dir.path().join(folder));
        let repo = Repo { dir };
        repo.git(&["init", "--quiet", "--initial-branch", "main"]);
        repo.commit("the playbooks");
        repo
    }

    /// Its folder as text.
    pub fn path(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    /// Writes a file (relative to the repository).
    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Commits everything and returns the commit.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The commit `main` names.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "main"]).trim().to_owned()
    }

    /// Runs git in the repository.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(self.dir.path())
            .args([
                "-c",
                "user.name=cloudops tests",
                "-c",
                "user.email=tests@cloudops.invalid",
            ])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Options for a server over `repo` (a folder or URL), polling never, defaults elsewhere.
pub fn options(repo: &str) -> Options {
    Options {
        playbooks: repo.to_owned(),
        reference: "main".into(),
        subdir: String::new(),
        data_dir: None,
        qdrant: None,
        redis_url: None,
        poll: None,
        limits: Limits::default(),
    }
}

/// A server on 127.0.0.1:0.
pub async fn start(options: Options) -> Result<Server, StartError> {
    capture_logs();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::start(options, listen, embedder()).await
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

/// `method path` on `server` with `body` (raw bytes, sent as JSON).
pub async fn call(server: &Server, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("http://{}{path}", server.addr);
    let mut request = client.request(method.parse().unwrap(), url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, json, text }
}

/// `POST /v1/plan` with `body`.
pub async fn plan(server: &Server, body: &Value) -> Answer {
    call(
        server,
        "POST",
        "/v1/plan",
        Some(serde_json::to_vec(body).unwrap()),
    )
    .await
}

/// The seed's example request: "Stop pg-instance-main1" with its identified resource, from
/// `playbooks/tests/rds.stop-instance.json`.
pub fn seed_request() -> Value {
    let cases = library_folder().join("tests/rds.stop-instance.json");
    let cases: Value = serde_json::from_slice(&std::fs::read(cases).unwrap()).unwrap();
    let case = &cases[0];
    assert_eq!(case["prompt"], "Stop pg-instance-main1");
    serde_json::json!({"prompt": case["prompt"], "identified_resources": case["resources"]})
}

/// Prints the line scripts/test counts as a skipped test.
pub fn skipped(test: &str, why: &str) {
    // Straight to stdout: libtest swallows a passing test's `println!`.
    let _ = writeln!(std::io::stdout().lock(), "SKIPPED: {test}: {why}");
}
