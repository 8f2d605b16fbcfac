//! Running moto server on 127.0.0.1 for demos and tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::{AwsClient, Credentials, Endpoints, HttpTransport};

/// moto's default account.
pub const DEMO_ACCOUNT: &str = "123456789012";
/// Keys the demo signs with. moto accepts any key while authentication is off; with it on
/// (see [`Emulator::enable_auth`]) it knows these as the root user's keys.
pub const DEMO_ACCESS_KEY: &str = crate::aws::EXAMPLE_ACCESS_KEY;
/// The secret that goes with [`DEMO_ACCESS_KEY`].
pub const DEMO_SECRET_KEY: &str = crate::aws::EXAMPLE_SECRET_KEY;

/// The emulator could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// `moto_server` is not installed where we look.
    #[error(
        "the AWS emulator (moto_server) was not found: run `scripts/setup` (it installs \
         moto[server] into .venv), or set CLOUDOPS_MOTO_SERVER to its path"
    )]
    NotInstalled,
    /// It did not start or answer.
    #[error("the AWS emulator did not start: {0} (its log: {1})")]
    NotReady(String, String),
    /// An admin call failed.
    #[error("emulator admin call failed: {0}")]
    Admin(String),
}

/// A running moto server; killed when dropped.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Emulator {
    /// Starts moto server (`CLOUDOPS_MOTO_SERVER`, else `moto_server` on `PATH`) on a free
    /// loopback port and waits until it answers.
    pub async fn start() -> Result<Self, EmulatorError> {
        Self::start_program(&moto_server().ok_or(EmulatorError::NotInstalled)?).await
    }

    /// Starts `program`, which takes moto server's `-H HOST -p PORT` arguments (moto
    /// server itself, or the project's extended emulator in tests/emulator/).
    pub async fn start_program(program: &std::path::Path) -> Result<Self, EmulatorError> {
        let port =
            free_port().map_err(|e| EmulatorError::NotReady(e.to_string(), String::new()))?;
        let log = std::env::temp_dir().join(format!("cloudops-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).map_err(|e| {
            EmulatorError::NotReady(
                format!("cannot create {}: {e}", log.display()),
                String::new(),
            )
        })?;
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Without default AMIs moto uses less memory and self-owned snapshot listings
            // stay small.
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(|e| EmulatorError::NotReady(e.to_string(), String::new()))?,
            )
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                EmulatorError::NotReady(
                    format!("cannot run {}: {e}", program.display()),
                    log.display().to_string(),
                )
            })?;
        let mut emulator = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        emulator.wait_ready(Duration::from_secs(60)).await?;
        Ok(emulator)
    }

    /// The base URL, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The emulator's process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client that sends everything to this emulator, signing with the given keys.
    pub fn client(&self, access_key: &str, secret_key: &str) -> AwsClient {
        AwsClient::new(
            Credentials::from_keys(access_key, secret_key, None),
            Endpoints::default().with_global(&self.url),
            Arc::new(HttpTransport::new().expect("a default HTTP client always builds")),
        )
    }

    /// A client with the demo keys, accepted while authentication is off.
    pub fn demo_client(&self) -> AwsClient {
        self.client(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    }

    /// Turns on SigV4 and IAM policy checks: from now on a wrong secret is refused.
    pub async fn enable_auth(&self) -> Result<(), EmulatorError> {
        // moto wants the raw body `0` (how many initial requests to let through), not a form.
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.url))
            .body("0")
            .send()
            .await
            .map_err(|e| EmulatorError::Admin(e.to_string()))?;
        if !response.status().is_success() {
            return Err(EmulatorError::Admin(format!(
                "reset-auth answered {}",
                response.status()
            )));
        }
        Ok(())
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), EmulatorError> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(EmulatorError::NotReady(
                    format!("it exited with {status}"),
                    self.log.display().to_string(),
                ));
            }
            if let Ok(r) = client.get(format!("{}/moto-api/", self.url)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                return Err(EmulatorError::NotReady(
                    format!("no answer within {}s", timeout.as_secs()),
                    self.log.display().to_string(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // A std child (not tokio's): the emulator may outlive the runtime that started it,
        // as in tests that share one.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLOUDOPS_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
