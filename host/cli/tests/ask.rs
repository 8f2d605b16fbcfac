//! `cloudops ask`, `plan`, `approve`, `runs`, `run`, `audit` and `history` against the
//! emulator: a small estate is seeded (its principal may stop databases and may not
//! terminate instances), synced with the real plugins and IAM, then asked about.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use cloudops_demo::{self as demo, seed_estate, Emulator, EstateFile, SeedReport};
use serde_json::Value;

use crate::cli::command;

/// One production account; the role may stop and start databases and instances and is
/// explicitly denied terminating instances.
const ESTATE: &str = r#"{
  "accounts": [
    { "id": "111111111111", "name": "production", "regions": ["us-west-2"],
      "principal": { "role": "Developer",
        "allow": ["ec2:Describe*", "ec2:StopInstances", "ec2:StartInstances",
                  "rds:Describe*", "rds:ListTagsForResource", "rds:StopDBInstance",
                  "rds:StartDBInstance"],
        "deny": ["ec2:TerminateInstances"] } }
  ],
  "resources": [
    { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
      "id": "pg-instance-main1", "tags": { "env": "production", "app": "main" },
      "attrs": { "engine": "postgres" } },
    { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
      "id": "orders-staging-a", "tags": { "env": "staging" }, "attrs": { "engine": "mysql" } },
    { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
      "id": "orders-staging-b", "tags": { "env": "staging" }, "attrs": { "engine": "mysql" } },
    { "type": "rds_instance", "account": "111111111111", "region": "us-west-2",
      "id": "orders-staging-c", "tags": { "env": "staging" }, "attrs": { "engine": "mysql" } },
    { "type": "ec2_instance", "account": "111111111111", "region": "us-west-2",
      "name": "web-server-1", "tags": { "env": "production" }, "state": "running",
      "attrs": { "instance_type": "t3.micro" } }
  ]
}"#;

/// A data dir with the rds and ec2 plugins trusted, an estate seeded in a fresh emulator and
/// synced, and the environment every command runs with.
struct Fixture {
    data: tempfile::TempDir,
    emulator: Emulator,
    seeded: SeedReport,
    env: Vec<(&'static str, String)>,
}

impl Fixture {
    async fn new(test: &str, extra: &str) -> Option<Fixture> {
        let emulator = match Emulator::start().await {
            Ok(e) => e,
            Err(e) => {
                skipped(test, &format!("the emulator is not available: {e}"));
                return None;
            }
        };
        let data = data_dir_with_plugins(&["rds", "ec2"]);
        let mut json: Value = serde_json::from_str(ESTATE).unwrap();
        if !extra.is_empty() {
            let more: Vec<Value> = serde_json::from_str(extra).unwrap();
            json["resources"].as_array_mut().unwrap().extend(more);
        }
        let file = EstateFile::from_json(&json.to_string()).unwrap();
        let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
        std::fs::write(
            data.path().join("config.toml"),
            format!(
                "[aws]\nendpoint_url = \"{}\"\n\n[[accounts]]\nname = \"production\"\n\
                 role_arn = \"arn:aws:iam::111111111111:role/Developer\"\nregions = [\"us-west-2\"]\n",
                emulator.url()
            ),
        )
        .unwrap();
        let env = vec![
            ("AWS_ACCESS_KEY_ID", demo::DEMO_ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", demo::DEMO_SECRET_KEY.to_owned()),
        ];
        let fixture = Fixture {
            data,
            emulator,
            seeded,
            env,
        };
        let synced = fixture.run(&["sync"], "").await;
        assert!(synced.status.success(), "{}", stderr(&synced));
        Some(fixture)
    }

    /// Runs cloudops with `stdin` as its input, on a blocking thread (the emulator's runtime
    /// keeps serving meanwhile).
    async fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = command(self.data.path(), args, &[]);
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start cloudops");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args, "").await;
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The emulator's state of DB instance `id`.
    async fn db_state(&self, id: &str) -> String {
        let client = self.seeded.accounts[0].client(&self.emulator);
        let body = client
            .query(
                "us-west-2",
                "rds",
                "DescribeDBInstances",
                "2014-10-31",
                &[("DBInstanceIdentifier", id)],
            )
            .await
            .unwrap();
        cloudops_host::aws::xml::first_text(&body, "DBInstanceStatus").unwrap()
    }

    /// Every secret that must never be written down: the emulator's keys, the role
    /// sessions' keys and tokens, and the estate key.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![
            demo::DEMO_ACCESS_KEY.to_owned(),
            demo::DEMO_SECRET_KEY.to_owned(),
        ];
        for a in &self.seeded.accounts {
            secrets.push(a.credentials.access_key_id().to_owned());
            secrets.push(a.credentials.secret_access_key().to_owned());
            secrets.extend(a.credentials.session_token().map(str::to_owned));
        }
        let key = std::fs::read(self.data.path().join("keys/estate.key")).unwrap();
        let key = String::from_utf8_lossy(&key).trim().to_owned();
        assert!(key.len() >= 32, "the estate key file holds the key");
        secrets.push(key);
        secrets
    }

    /// Asserts no secret appears in `text` (named `what`).
    fn assert_clean(&self, what: &str, text: &str) {
        for secret in self.secrets() {
            assert!(!text.contains(&secret), "a secret appears in {what}");
        }
    }

    /// Every file `ask` writes: plans, runs, the audit log, approvals.
    fn written_files(&self) -> Vec<PathBuf> {
        let d = self.data.path();
        let mut files = vec![d.join("audit.jsonl"), d.join("approvals.json")];
        for sub in ["plans", "runs"] {
            for entry in std::fs::read_dir(d.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                files.push(entry.path());
            }
        }
        files
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "SKIPPED: {test}: {why}");
}

/// A data dir with `plugins` built (once per test process), copied in and trusted.
fn data_dir_with_plugins(plugins: &[&str]) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    for name in plugins {
        crate::cli::copy_plugin(data.path(), name);
        let trusted = command(data.path(), &["plugin", "trust", name, "--yes"], &[])
            .output()
            .unwrap();
        assert!(trusted.status.success(), "{}", stderr(&trusted));
    }
    data
}

/// The whole loop on a medium-risk plan: `--yes` is refused, a typed `yes` runs it, the
/// emulator has the instance stopped, search shows it stopped at once, the audit log
/// verifies, and no secret is in any output or file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_pg_instance_main1_runs_once_approved_and_search_shows_it_stopped() {
    let test = "stop_pg_instance_main1_runs_once_approved_and_search_shows_it_stopped";
    let Some(f) = Fixture::new(test, "").await else {
        return;
    };
    let shown = f
        .json(&[
            "plan",
            "stop",
            "pg-instance-main1",
            "--json",
            "--show-request",
        ])
        .await;
    let plan = &shown["plan"];
    assert_eq!(plan["runnable"], true, "{plan}");
    assert_eq!(plan["risk"]["level"], "medium", "{plan}");
    assert_eq!(plan["steps"][0]["action"], "rds:StopDBInstance");
    assert_eq!(plan["steps"][0]["iam"], "allowed", "{plan}");
    let request = &shown["request"];
    assert_eq!(request["identified_resources"].as_array().unwrap().len(), 1);
    let request_text = request.to_string();
    for other in ["web-server-1", "orders-staging", "relations"] {
        assert!(!request_text.contains(other), "{other} in {request_text}");
    }
    f.assert_clean("--show-request", &shown.to_string());

    let refused = f
        .run(&["ask", "stop", "pg-instance-main1", "--yes"], "")
        .await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("low-risk plans only"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(f.db_state("pg-instance-main1").await, "available");

    let asked = f.run(&["ask", "stop", "pg-instance-main1"], "yes\n").await;
    assert!(
        asked.status.success(),
        "{}\n{}",
        stdout(&asked),
        stderr(&asked)
    );
    assert!(
        stdout(&asked).contains("aws rds stop-db-instance"),
        "{}",
        stdout(&asked)
    );
    assert!(
        stderr(&asked).contains("run succeeded"),
        "{}",
        stderr(&asked)
    );
    assert_eq!(f.db_state("pg-instance-main1").await, "stopped");

    let found = f.json(&["search", "pg-instance-main1", "--json"]).await;
    assert_eq!(found["results"][0]["id"], "pg-instance-main1");
    assert_eq!(found["results"][0]["state"], "stopped", "{found}");

    let verified = f.run(&["audit", "verify"], "").await;
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(
        stdout(&verified).contains("intact"),
        "{}",
        stdout(&verified)
    );
    let runs = f.json(&["runs", "--json"]).await;
    assert_eq!(runs["runs"][0]["status"], "succeeded", "{runs}");
    let history = f.json(&["history", "--json"]).await;
    assert!(
        history.to_string().contains("stop pg-instance-main1"),
        "{history}"
    );
    // The history is sealed: the prompt is in no file of the store in clear.
    let mut dirs = vec![f.data.path().join("store")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let clear = bytes.windows(22).any(|w| w == b"stop pg-instance-main1");
                assert!(!clear, "the prompt is in clear in {}", path.display());
            }
        }
    }

    // A step IAM denies: the plan says so, nothing asks, nothing runs.
    let denied = f
        .run(&["ask", "terminate", "web-server-1", "--yes"], "")
        .await;
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    assert!(stdout(&denied).contains("denied:"), "{}", stdout(&denied));
    assert!(
        stderr(&denied).contains("not runnable"),
        "{}",
        stderr(&denied)
    );
    let runs = f.json(&["runs", "--json"]).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");

    for out in [&asked, &denied, &verified] {
        f.assert_clean("the command output", &(stdout(out) + &stderr(out)));
    }
    f.assert_clean("history --json", &history.to_string());
    for file in f.written_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        f.assert_clean(&file.display().to_string(), &text);
    }
}

/// Approvals through the CLI: used once, refused when replayed, expired or when the plan was
/// edited after it was approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_expired_and_altered_approvals_are_refused() {
    let test = "replayed_expired_and_altered_approvals_are_refused";
    let Some(f) = Fixture::new(test, "").await else {
        return;
    };
    let plan_of = |shown: Value| shown["plan_id"].as_str().unwrap().to_owned();
    let approve = |plan: String, ttl: &'static str| {
        let f = &f;
        async move {
            let out = f
                .json(&["approve", &plan, "--yes", "--later", "--ttl", ttl, "--json"])
                .await;
            out["id"].as_str().unwrap().to_owned()
        }
    };
    // Replayed.
    let a = plan_of(
        f.json(&["plan", "stop", "orders-staging-a", "--json"])
            .await,
    );
    let approval = approve(a.clone(), "600").await;
    let first = f
        .run(&["run", "start", &a, "--approval", &approval], "")
        .await;
    assert!(first.status.success(), "{}", stderr(&first));
    let again = f
        .run(&["run", "start", &a, "--approval", &approval], "")
        .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already used"),
        "{}",
        stderr(&again)
    );

    // Expired.
    let b = plan_of(
        f.json(&["plan", "stop", "orders-staging-b", "--json"])
            .await,
    );
    let approval = approve(b.clone(), "1").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = f
        .run(&["run", "start", &b, "--approval", &approval], "")
        .await;
    assert_eq!(late.status.code(), Some(1));
    assert!(stderr(&late).contains("expired"), "{}", stderr(&late));
    assert_eq!(f.db_state("orders-staging-b").await, "available");

    // Altered after approval: the saved plan's step now targets another instance.
    let c = plan_of(
        f.json(&["plan", "stop", "orders-staging-c", "--json"])
            .await,
    );
    let approval = approve(c.clone(), "600").await;
    let file = f.data.path().join("plans").join(format!("{c}.json"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("orders-staging-c", "orders-staging-b")).unwrap();
    let altered = f
        .run(&["run", "start", &c, "--approval", &approval], "")
        .await;
    assert_eq!(altered.status.code(), Some(1));
    assert!(stderr(&altered).contains("altered"), "{}", stderr(&altered));
    assert_eq!(f.db_state("orders-staging-b").await, "available");
    assert_eq!(f.db_state("orders-staging-c").await, "available");
}

/// `kill -9` of `ask --yes` in the middle of a run of many steps: `runs` shows it
/// interrupted with the steps that completed, and the audit log still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ask_shows_as_interrupted_with_its_completed_steps() {
    let test = "a_killed_ask_shows_as_interrupted_with_its_completed_steps";
    let many: Vec<Value> = (1..=12)
        .map(|i| {
            serde_json::json!({"type": "rds_instance", "account": "111111111111",
                "region": "us-west-2", "id": format!("reports-dev-{i}"),
                "tags": {"env": "development", "team": "reports"}, "attrs": {"engine": "mysql"}})
        })
        .collect();
    let Some(f) = Fixture::new(test, &serde_json::to_string(&many).unwrap()).await else {
        return;
    };
    // Named, so the prompt resolves to all twelve (one step each).
    let names: String = (1..=12)
        .map(|i| format!("reports-dev-{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = command(f.data.path(), &["ask", "stop", &names, "--yes"], &[]);
    cmd.envs(f.env.iter().map(|(k, v)| (*k, v.as_str())));
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a step has finished and before the run has.
    let started = Instant::now();
    let killed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never started"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ask ended before it could be killed: {status}");
        }
        let progress = runs_progress(f.data.path());
        if progress.0 >= 1 && !progress.1 {
            child.kill().unwrap();
            child.wait().unwrap();
            break progress.0;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let runs = f.json(&["runs", "--json"]).await;
    let run = &runs["runs"][0];
    assert_eq!(run["status"], "interrupted", "{runs}");
    let completed = run["completed"].as_array().unwrap().len();
    assert!(completed >= killed && completed < 12, "{runs}");
    let verified = f.run(&["audit", "verify"], "").await;
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(
        stdout(&verified).contains("1 interrupted"),
        "{}",
        stdout(&verified)
    );
}

/// (steps finished, run finished) in the runs folder's event files.
fn runs_progress(data: &Path) -> (usize, bool) {
    let mut done = (0, false);
    for entry in std::fs::read_dir(data.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            done.0 += text.matches("\"type\":\"step_finished\"").count();
            done.1 |= text.contains("\"type\":\"run_finished\"");
        }
    }
    done
}

/// `cloudops cancel ID` from another process stops a run of `ask --yes` after the call in
/// flight, and `run show ID --follow` in a third one prints its events until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_cancelled_and_followed_from_other_processes() {
    let test = "a_run_is_cancelled_and_followed_from_other_processes";
    let many: Vec<Value> = (1..=20)
        .map(|i| {
            serde_json::json!({"type": "rds_instance", "account": "111111111111",
                "region": "us-west-2", "id": format!("batch-dev-{i}"),
                "tags": {"env": "development"}, "attrs": {"engine": "mysql"}})
        })
        .collect();
    let Some(f) = Fixture::new(test, &serde_json::to_string(&many).unwrap()).await else {
        return;
    };
    let names: String = (1..=20)
        .map(|i| format!("batch-dev-{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = command(f.data.path(), &["ask", "stop", &names, "--yes"], &[]);
    cmd.envs(f.env.iter().map(|(k, v)| (*k, v.as_str())));
    let asking = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let id = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never started"
        );
        if let Some(id) = run_with_a_finished_step(f.data.path()) {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut follow = command(f.data.path(), &["run", "show", &id, "--follow"], &[]);
    let follower = follow
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cancelled = f.run(&["cancel", &id], "").await;
    assert!(cancelled.status.success(), "{}", stderr(&cancelled));
    let asked = tokio::task::spawn_blocking(move || asking.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(asked.status.code(), Some(1), "{}", stderr(&asked));
    assert!(
        stderr(&asked).contains("run cancelled"),
        "{}",
        stderr(&asked)
    );
    let followed = tokio::task::spawn_blocking(move || follower.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(followed.status.success(), "{}", stderr(&followed));
    assert!(
        stdout(&followed).contains("run cancelled"),
        "{}",
        stdout(&followed)
    );
    let runs = f.json(&["runs", "--json"]).await;
    assert_eq!(runs["runs"][0]["status"], "cancelled", "{runs}");
    let completed = runs["runs"][0]["completed"].as_array().unwrap().len();
    assert!((1..20).contains(&completed), "{runs}");
    // A finished run cannot be cancelled, and says so.
    let late = f.run(&["cancel", &id], "").await;
    assert_eq!(late.status.code(), Some(1));
    assert!(
        stderr(&late).contains("is not running"),
        "{}",
        stderr(&late)
    );
}

/// The id of a run with a finished step and no end yet.
fn run_with_a_finished_step(data: &Path) -> Option<String> {
    for entry in std::fs::read_dir(data.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("\"type\":\"step_finished\"") && !text.contains("run_finished") {
                return Some(path.file_stem()?.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// `cloudops demo --keep` on a small estate: it shows a plan and runs one low-risk stop,
/// suggests names from that estate, and leaves a config.toml so that later commands with the
/// same data dir reach the running emulator with no AWS environment at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_demo_plans_runs_and_leaves_a_working_data_dir() {
    let test = "a_kept_demo_plans_runs_and_leaves_a_working_data_dir";
    if demo::Emulator::start().await.is_err() {
        skipped(test, "the emulator is not available");
        return;
    }
    let data = data_dir_with_plugins(&["rds", "ec2"]);
    let estate = data.path().join("estate.json");
    std::fs::write(&estate, ESTATE).unwrap();
    let (out, err) = (data.path().join("demo.out"), data.path().join("demo.err"));
    let mut demo = command(
        data.path(),
        &["demo", "--estate", estate.to_str().unwrap(), "--keep"],
        &[],
    )
    .stdout(std::fs::File::create(&out).unwrap())
    .stderr(std::fs::File::create(&err).unwrap())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&err)
        .unwrap()
        .contains("Press Ctrl-C")
    {
        assert!(
            demo.try_wait().unwrap().is_none(),
            "{}",
            std::fs::read_to_string(&err).unwrap()
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the demo never got ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let shown = std::fs::read_to_string(&out).unwrap();
    assert!(
        shown.contains("$ cloudops plan stop pg-instance-main1"),
        "{shown}"
    );
    // The first database whose stop is low risk: staging, not Multi-AZ, no replicas.
    assert!(
        shown.contains("$ cloudops ask stop orders-staging-a --yes"),
        "{shown}"
    );
    assert!(shown.contains(": succeeded;"), "{shown}");
    assert!(shown.contains("search pg-instance-main1"), "{shown}");
    assert!(!shown.contains("pg-main1\n"), "{shown}");

    // No AWS variable at all: the data dir's config.toml says where and how.
    let later = |args: &'static [&'static str]| {
        let dir = data.path().to_owned();
        tokio::task::spawn_blocking(move || command(&dir, args, &[]).output().unwrap())
    };
    let synced = later(&["sync"]).await.unwrap();
    assert!(synced.status.success(), "{}", stderr(&synced));
    let runs = later(&["runs", "--json"]).await.unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs["runs"][0]["status"], "succeeded", "{runs}");
    let found = later(&["search", "orders-staging-a", "--json"])
        .await
        .unwrap();
    let found: Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(found["results"][0]["state"], "stopped", "{found}");
    let config = std::fs::read_to_string(data.path().join("config.toml")).unwrap();
    assert!(!config.contains(demo::DEMO_SECRET_KEY), "{config}");

    let stopped = std::process::Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(demo.wait().unwrap().success());
}
