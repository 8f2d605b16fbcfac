//! The step kinds that run a program: `aws-cli`, `exec` and `script`.
//!
//! None of them goes through a shell: the argv is built as a list and handed to the program.
//! The child starts with an empty environment plus `PATH`, `LANG` and a fresh `HOME`; an
//! `aws-cli` child also gets its account's credentials there (`AWS_ACCESS_KEY_ID`, ...),
//! never on its command line, and no shared config or credentials file. A `script` step runs
//! the bytes it hashed: the library file is read once, its SHA-256 compared with the one the
//! plan pins, and those very bytes are written to a private file and run, so a change between
//! the check and the run cannot slip in.
//!
//! Their scope is the plan's hash: the approval names the plan, the plan holds the exact argv
//! and script hash, and the engine refuses an altered plan. Each run is recorded in the audit
//! log (scrubbed) before the program starts, as a request of the step's action and target.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use cloudops_playbook::cli_line::kebab;
use cloudops_playbook::plan::{ScriptRef, Step, StepKind};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::accounts::Accounts;
use crate::engine::{BoxFuture, StepContext, StepError, StepRunner};

/// The AWS CLI program: `CLOUDOPS_AWS_CLI` when set, else `aws` on `PATH`.
pub fn aws_cli() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLOUDOPS_AWS_CLI") {
        return Some(PathBuf::from(path));
    }
    find_on_path("aws")
}

/// `program` as `PATH` finds it (a path with a `/` is taken as it is).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The AWS CLI's arguments for `step` (after the program): service, operation, each
/// parameter as `--kebab-name value` (booleans as `--name` / `--no-name`, structures as
/// JSON), the region, JSON output and, for an overridden endpoint, `--endpoint-url`.
pub fn aws_cli_args(step: &Step, endpoint: Option<&str>) -> Vec<String> {
    let (service, operation) = step.action.split_once(':').unwrap_or((&step.action, ""));
    let service = match service {
        "s3" => "s3api",
        "elasticloadbalancing" => "elbv2",
        other => other,
    };
    let mut args = vec![service.to_owned(), kebab(operation)];
    let mut params: Vec<(&String, &Value)> = step.params.iter().collect();
    params.sort_by_key(|(name, _)| *name);
    for (name, value) in params {
        let flag = kebab(name);
        match value {
            Value::Bool(true) => args.push(format!("--{flag}")),
            Value::Bool(false) => args.push(format!("--no-{flag}")),
            Value::String(s) => args.extend([format!("--{flag}"), s.clone()]),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                args.push(format!("--{flag}"));
                args.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            other => args.extend([format!("--{flag}"), other.to_string()]),
        }
    }
    if !step.target.region.is_empty() && step.target.region != "global" {
        args.extend(["--region".to_owned(), step.target.region.clone()]);
    }
    args.extend(["--output".to_owned(), "json".to_owned()]);
    if let Some(url) = endpoint {
        args.extend(["--endpoint-url".to_owned(), url.to_owned()]);
    }
    args
}

/// What the preflight checks of a command step: the AWS CLI is installed (`aws-cli`), the
/// program exists (`exec`), the script is in the library and still hashes as pinned
/// (`script`). Nothing for `aws` steps.
pub fn preflight(step: &Step, library: Option<&Path>) -> Result<Vec<String>, StepError> {
    match step.kind {
        StepKind::Aws => Ok(Vec::new()),
        StepKind::AwsCli => {
            let cli = aws_cli().ok_or_else(|| {
                StepError::new(format!(
                    "step {} runs the AWS CLI, which is not installed: install it (pip install awscli) or set CLOUDOPS_AWS_CLI",
                    step.id
                ))
            })?;
            Ok(vec![format!("the AWS CLI is {}", cli.display())])
        }
        StepKind::Exec => {
            let program = step.argv.first().ok_or_else(|| {
                StepError::new(format!(
                    "step {} has no argv: the plan is malformed",
                    step.id
                ))
            })?;
            let path = find_on_path(program).ok_or_else(|| {
                StepError::new(format!(
                    "step {} runs {program}, which is not installed here",
                    step.id
                ))
            })?;
            Ok(vec![format!("{program} is {}", path.display())])
        }
        StepKind::Script => {
            let (script, _) = script_bytes(step, library)?;
            Ok(vec![format!(
                "{} has the pinned SHA-256 {}",
                script.path, script.sha256
            )])
        }
    }
}

/// The script's bytes, refused unless they hash as the plan pins them.
fn script_bytes<'a>(
    step: &'a Step,
    library: Option<&Path>,
) -> Result<(&'a ScriptRef, Vec<u8>), StepError> {
    let script = step.script.as_ref().ok_or_else(|| {
        StepError::new(format!(
            "step {} is a script step without a script: the plan is malformed",
            step.id
        ))
    })?;
    let library = library.ok_or_else(|| {
        StepError::new(format!(
            "step {} runs the library script {}, and this run was given no playbook library",
            step.id, script.path
        ))
    })?;
    let path = library.join(&script.path);
    let bytes = std::fs::read(&path)
        .map_err(|e| StepError::new(format!("cannot read the script {}: {e}", path.display())))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != script.sha256 {
        return Err(StepError::new(format!(
            "the script {} changed since the plan was approved (SHA-256 {sha}, the plan pins {}): ask for the plan again",
            script.path, script.sha256
        )));
    }
    Ok((script, bytes))
}

/// Runs `aws-cli`, `exec` and `script` steps.
pub struct CommandRunner {
    accounts: Accounts,
    library: Option<PathBuf>,
}

impl CommandRunner {
    /// Runs with `accounts`' credentials (`aws-cli`) and `library`'s scripts (`script`).
    pub fn new(accounts: Accounts, library: Option<PathBuf>) -> CommandRunner {
        CommandRunner { accounts, library }
    }

    /// The program, its arguments, extra environment and what the audit records.
    fn command(&self, step: &Step, scratch: &Path) -> Result<Prepared, StepError> {
        match step.kind {
            StepKind::AwsCli => {
                let account = self.accounts.get(&step.target.account)?;
                let endpoints = account.client.endpoints();
                let service = step.action.split(':').next().unwrap_or_default();
                let endpoint = endpoints
                    .is_overridden()
                    .then(|| endpoints.resolve(service, &step.target.region).ok())
                    .flatten()
                    .map(|r| r.url);
                let c = &account.credentials;
                let mut env = vec![
                    ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id().to_owned()),
                    (
                        "AWS_SECRET_ACCESS_KEY".to_owned(),
                        c.secret_access_key().to_owned(),
                    ),
                ];
                if let Some(token) = c.session_token() {
                    env.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
                }
                let program =
                    aws_cli().ok_or_else(|| StepError::new("the AWS CLI is not installed"))?;
                Ok(Prepared {
                    program,
                    args: aws_cli_args(step, endpoint.as_deref()),
                    env,
                    record: step.params.clone(),
                })
            }
            StepKind::Exec => {
                let (program, args) = step
                    .argv
                    .split_first()
                    .ok_or_else(|| StepError::new("no argv"))?;
                Ok(Prepared {
                    program: find_on_path(program).unwrap_or_else(|| PathBuf::from(program)),
                    args: args.to_vec(),
                    env: Vec::new(),
                    record: object(json!({"argv": step.argv})),
                })
            }
            StepKind::Script => {
                let (script, bytes) = script_bytes(step, self.library.as_deref())?;
                let file = scratch.join("script");
                write_executable(&file, &bytes)?;
                Ok(Prepared {
                    program: file,
                    args: step.argv.clone(),
                    env: Vec::new(),
                    record: object(
                        json!({"script": script.path, "sha256": script.sha256, "argv": step.argv}),
                    ),
                })
            }
            StepKind::Aws => Err(StepError::new("an aws step is sent by the aws runner")),
        }
    }
}

/// A command about to run.
struct Prepared {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    record: Map<String, Value>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), StepError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(path)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
    };
    write().map_err(|e| StepError::new(format!("cannot stage the script to run: {e}")))
}

impl StepRunner for CommandRunner {
    fn run<'a>(
        &'a self,
        step: &'a Step,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let scratch = tempfile::tempdir()
                .map_err(|e| StepError::new(format!("cannot make a scratch folder: {e}")))?;
            let prepared = self.command(step, scratch.path())?;
            // Recorded (scrubbed) before the program starts; refused outside the scope.
            ctx.request(&step.action, &step.target.arn, &prepared.record)?;
            run_child(step, ctx, prepared, scratch.path()).await
        })
    }
}

/// Runs the child with a clean environment, streaming its output lines as the step's.
async fn run_child(
    step: &Step,
    ctx: &StepContext,
    prepared: Prepared,
    home: &Path,
) -> Result<(), StepError> {
    let mut command = Command::new(&prepared.program);
    command
        .args(&prepared.args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("HOME", home)
        // The AWS CLI reads no profile of the user's and asks no instance metadata.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let name = prepared.program.display().to_string();
    let mut child = command
        .spawn()
        .map_err(|e| StepError::new(format!("step {}: cannot run {name}: {e}", step.id)))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = errors.clone();
    let err_task = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut kept = kept.lock().expect("not poisoned");
            kept.push(line);
            // The last lines say why; the rest would only fill the error.
            if kept.len() > 20 {
                kept.remove(0);
            }
        }
    });
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        ctx.output(&crate::scrub::scrub_line(&line));
    }
    let status = child
        .wait()
        .await
        .map_err(|e| StepError::new(format!("step {}: waiting for {name}: {e}", step.id)))?;
    let _ = err_task.await;
    let stderr = errors.lock().expect("not poisoned").join("\n");
    if status.success() {
        return Ok(());
    }
    Err(StepError::new(format!(
        "step {}: {name} exited with {status}: {}",
        step.id,
        crate::scrub::scrub_line(stderr.trim())
    )))
}
