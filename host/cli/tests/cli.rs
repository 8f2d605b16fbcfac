//! The `cloudops` binary as a user runs it: exit codes, messages, JSON on stdout.
//!
//! Over 800 lines: one scenario per command, sharing the emulator and plugin fixtures above them. A
//! new command's tests go in a new file (one `mod` line in main.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use cloudops_demo::{self as demo, create_iam_user, seed_ec2, Ec2Estate, Emulator};
use cloudops_host::plugin::build::build_plugin;

fn cloudops(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(data_dir, args, env).output().expect("run cloudops")
}

/// The `cloudops` command with a clean AWS environment plus `env`.
pub(crate) fn command(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudops"));
    cmd.arg("--data-dir").arg(data_dir).args(args);
    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "CLOUDOPS_PLUGIN_PATH",
        "CLOUDOPS_CONFIG",
        "CLOUDOPS_AWS_TIMEOUT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    // No desktop keychain in tests: the sealing key lives in the data dir.
    cmd.env("CLOUDOPS_KEY_STORE", "file");
    cmd.envs(env.iter().copied());
    cmd
}

/// A data dir with the ec2 plugin installed and trusted with `plugin trust ec2 --yes`.
fn data_dir_with_trusted_ec2() -> tempfile::TempDir {
    let data = data_dir_with_ec2();
    let trusted = cloudops(data.path(), &["plugin", "trust", "ec2", "--yes"], &[]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    data
}

/// The folder of scanner plugin `name` (`plugins/<name>`), built once per test process:
/// every test of this binary that needs it shares the one build, so no two builds write
/// the same files while another test reads them.
pub(crate) fn built_plugin(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.get(name) {
        return dir.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("cli-test-plugins");
    let dir = build_plugin(
        &root.join("plugins").join(name),
        &out,
        &out.join("no-data-dir"),
    )
    .unwrap_or_else(|e| panic!("build {name}: {e}"))
    .dir;
    built.insert(name.to_owned(), dir.clone());
    dir
}

/// A copy of the built plugin `name` in `data_dir`'s plugins folder (not trusted).
pub(crate) fn copy_plugin(data_dir: &Path, name: &str) {
    let dest = data_dir.join("plugins").join(name);
    std::fs::create_dir_all(&dest).unwrap();
    for entry in std::fs::read_dir(built_plugin(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
    }
}

/// A data dir with the ec2 plugin copied in, not trusted.
fn data_dir_with_ec2() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    copy_plugin(data.path(), "ec2");
    data
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn usage_errors_exit_with_2() {
    let data = tempfile::tempdir().unwrap();
    let out = cloudops(data.path(), &["scan"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--service"));
}

#[test]
fn a_missing_plugin_says_how_to_build_it() {
    let data = tempfile::tempdir().unwrap();
    let out = cloudops(
        data.path(),
        &["scan", "--service", "ec2", "--region", "us-west-2"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret-value"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cloudops plugin build plugins/ec2"), "{err}");
    assert!(!err.contains("secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_prints_json_and_a_table_from_the_emulator() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let client = emulator.demo_client();
    let seeded = seed_ec2(&client, "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let env = demo_env(&emulator);
    let args = [
        "scan",
        "--service",
        "ec2",
        "--region",
        "us-west-2",
        "--region",
        "eu-west-1",
    ];
    let json_out = cloudops_async(data.path(), &[&args[..], &["--json"]].concat(), &env).await;
    let table_out = cloudops_async(data.path(), &args, &env).await;

    assert!(json_out.status.success(), "{}", stderr(&json_out));
    let doc: serde_json::Value =
        serde_json::from_slice(&json_out.stdout).expect("one JSON document on stdout");
    assert_eq!(doc["account_id"], demo::DEMO_ACCOUNT);
    assert_eq!(doc["regions"].as_array().unwrap().len(), 2);
    assert!(doc["regions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["ok"] == true));
    let instance_ids: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resource_type"] == "ec2_instance")
        .map(|r| r["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(instance_ids.len(), seeded.instances.len());
    for (_, id) in &seeded.instances {
        assert!(instance_ids.contains(&id.as_str()), "{id} missing");
    }

    assert!(table_out.status.success(), "{}", stderr(&table_out));
    let table = String::from_utf8_lossy(&table_out.stdout);
    assert!(
        table.contains("web-server-1") && table.contains("env=production"),
        "{table}"
    );
    assert!(
        stderr(&table_out).contains("us-west-2: 10 resources"),
        "{}",
        stderr(&table_out)
    );
}

fn demo_env(emulator: &Emulator) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", emulator.url().to_owned()),
        ("AWS_ACCESS_KEY_ID", demo::DEMO_ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", demo::DEMO_SECRET_KEY.to_owned()),
    ]
}

/// Runs cloudops on a blocking thread (the emulator's runtime keeps serving meanwhile).
async fn cloudops_async(data_dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Output {
    let (data_dir, args, env) = (
        data_dir.to_owned(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        env.to_vec(),
    );
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cloudops(&data_dir, &args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_from_the_template_records_and_replays_its_scan() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join("keys");
    let crate_arg = crate_dir.to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let created = cloudops(
        data.path(),
        &["plugin", "new", "keys", "--dir", crate_arg],
        &[],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(std::fs::read_to_string(crate_dir.join("plugin.toml"))
        .unwrap()
        .contains("name = \"keys\""));

    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let client = emulator.demo_client();
    client
        .query(
            "us-west-2",
            "ec2",
            "CreateKeyPair",
            "2016-11-15",
            &[("KeyName", "deploy")],
        )
        .await
        .unwrap();
    // Share the guest target directory so std is not rebuilt for the new crate.
    let mut env = demo_env(&emulator);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let guest_target = std::env::var("CLOUDOPS_GUEST_TARGET_DIR")
        .unwrap_or_else(|_| root.join("plugins/target").display().to_string());
    env.push(("CLOUDOPS_GUEST_TARGET_DIR", guest_target));

    let recorded = cloudops_async(
        data.path(),
        &["plugin", "record", crate_arg, "--region", "us-west-2"],
        &env,
    )
    .await;
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    assert!(
        stderr(&recorded).contains("1 resources"),
        "{}",
        stderr(&recorded)
    );
    drop(emulator); // replaying needs no network

    let tested = cloudops_async(data.path(), &["plugin", "test", crate_arg], &env).await;
    let stdout = String::from_utf8_lossy(&tested.stdout).into_owned();
    assert!(tested.status.success(), "{stdout}{}", stderr(&tested));
    assert!(
        stdout.contains("ok      default: 1 resources, 1 requests"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fuel") && stdout.contains("peak memory"),
        "{stdout}"
    );

    // A plugin that emits something else fails its test, naming the difference.
    let expected = crate_dir.join("tests/replay/default/expected.json");
    let text = std::fs::read_to_string(&expected)
        .unwrap()
        .replace("\"deploy\"", "\"renamed\"");
    std::fs::write(&expected, text).unwrap();
    let tested = cloudops_async(data.path(), &["plugin", "test", crate_arg], &env).await;
    let stdout = String::from_utf8_lossy(&tested.stdout).into_owned();
    assert_eq!(tested.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED  default: ec2_key_pair"), "{stdout}");
}

#[test]
fn an_installed_plugin_runs_only_once_trusted() {
    let data = data_dir_with_ec2();
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ];
    let scan_args = ["scan", "--service", "ec2", "--region", "us-west-2"];

    // Copied in, never trusted: listed from its manifest, refused by scan.
    let listed = cloudops(data.path(), &["plugin", "list"], &[]);
    assert_eq!(listed.status.code(), Some(1));
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("UNTRUSTED ec2") && out.contains("cloudops plugin trust ec2"),
        "{out}"
    );
    let scan = cloudops(data.path(), &scan_args, &creds);
    assert_eq!(scan.status.code(), Some(1));
    assert!(
        stderr(&scan).contains("none of its code was run")
            && stderr(&scan).contains("cloudops plugin trust ec2"),
        "{}",
        stderr(&scan)
    );
    assert!(!data.path().join("trusted-plugins.toml").exists());

    // Without a terminal, trusting needs --yes; with it, the review is printed first.
    let asked = cloudops(data.path(), &["plugin", "trust", "ec2"], &[]);
    assert_eq!(asked.status.code(), Some(1));
    assert!(stderr(&asked).contains("--yes"), "{}", stderr(&asked));
    let trusted = cloudops(data.path(), &["plugin", "trust", "ec2", "--yes"], &[]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    let review = stderr(&trusted);
    for expected in [
        "plugin     ec2 ",
        "folder",
        "ec2.wasm, sha256 ",
        "services   ec2",
        "  ec2:Describe*",
    ] {
        assert!(review.contains(expected), "{expected:?} in {review}");
    }
    let listed = cloudops(data.path(), &["plugin", "list", "--json"], &[]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows[0]["name"], "ec2");
    assert_eq!(rows[0]["trusted"], true);
    assert_eq!(rows[0]["actions"], serde_json::json!(["ec2:Describe*"]));
}

#[test]
fn an_edited_manifest_is_refused_until_trusted_again() {
    let data = data_dir_with_trusted_ec2();
    // Widen the grant by hand: the component hash still matches, the manifest does not.
    let manifest = data.path().join("plugins/ec2/plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "\"ec2:Describe*\"",
            // A sensitive read: grantable by name, so only trust stands in the way.
            "\"ec2:Describe*\", \"ec2:GetPasswordData\"",
        ),
    )
    .unwrap();
    let listed = cloudops(data.path(), &["plugin", "list"], &[]);
    assert_eq!(listed.status.code(), Some(1));
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("changed since it was trusted") && out.contains("cloudops plugin trust ec2"),
        "{out}"
    );
    let scan = cloudops(
        data.path(),
        &["scan", "--service", "ec2", "--region", "us-west-2"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ],
    );
    assert_eq!(scan.status.code(), Some(1));
    assert!(
        stderr(&scan).contains("Refusing to run it"),
        "{}",
        stderr(&scan)
    );

    let trusted = cloudops(data.path(), &["plugin", "trust", "ec2", "--yes"], &[]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert!(
        stderr(&trusted).contains("SENSITIVE ec2:GetPasswordData"),
        "the review shows the widened grant: {}",
        stderr(&trusted)
    );
    assert!(cloudops(data.path(), &["plugin", "list"], &[])
        .status
        .success());
}

#[test]
fn first_party_plugins_pass_their_recorded_cases_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut tested = 0;
    for name in ["ec2", "elb", "rds", "s3", "lambda", "vpc"] {
        let dir = root.join("plugins").join(name);
        assert!(
            dir.join("tests/replay").is_dir(),
            "{name} has recorded cases"
        );
        let out = cloudops(data.path(), &["plugin", "test", dir.to_str().unwrap()], &[]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{name}: {stdout}{}", stderr(&out));
        assert!(
            stdout.contains("ok      ") && stdout.contains(" 0 failed"),
            "{stdout}"
        );
        tested += 1;
    }
    assert_eq!(tested, 6);
}

/// A loopback peer that accepts connections and never answers.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            held.push(socket);
        }
    });
    url
}

/// Runs `cloudops` with its stdout closed before it writes anything, as `| head` does
/// once it has read enough.
fn with_stdout_closed(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = command(data_dir, args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A profile in ~/.aws/config that assumes a role (`role_arn` + `source_profile`) is
/// resolved by aws-config's provider chain, whose STS call goes over the HTTP client the
/// host gives it: the scan runs as the role's account, in the profile's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_that_assumes_a_role_scans_as_that_role_in_its_region() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let aws_config = data.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!(
            "[profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
             [profile ops]\nrole_arn = arn:aws:iam::111111111111:role/ops\n\
             source_profile = base\nregion = eu-west-1\n",
            demo::DEMO_ACCESS_KEY,
            demo::DEMO_SECRET_KEY
        ),
    )
    .unwrap();
    let env = vec![
        ("AWS_ENDPOINT_URL", emulator.url().to_owned()),
        ("AWS_CONFIG_FILE", aws_config.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
    ];
    let out = cloudops_async(
        data.path(),
        &["scan", "--service", "ec2", "--profile", "ops", "--json"],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    assert_eq!(doc["account_id"], "111111111111", "{doc}");
    let regions: Vec<&str> = doc["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(regions, ["eu-west-1"], "{doc}");
}

/// One account whose role cannot be assumed (moto with IAM checks on, a user not allowed
/// sts:AssumeRole) fails alone: the other is synced, the exit code says "completed with
/// failures", and status names the failed account, its cause and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_role_cannot_be_assumed_fails_alone_and_reaches_status() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let admin = emulator.demo_client();
    seed_ec2(&admin, "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","sts:GetCallerIdentity"],"Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "scanner", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let config = config_file(
        data.path(),
        r#"
[[accounts]]
name = "reachable"
regions = ["us-west-2", "us-west-2"]

[[accounts]]
name = "locked-out"
role_arn = "arn:aws:iam::123456789012:role/ReadOnly"
regions = ["us-west-2"]
"#,
    );
    let env = vec![
        ("AWS_ENDPOINT_URL", emulator.url().to_owned()),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("CLOUDOPS_CONFIG", config),
    ];
    let out = cloudops_async(data.path(), &["sync", "--no-iam"], &env).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("account locked-out") && err.contains("AccessDenied"),
        "{err}"
    );
    assert!(
        err.contains("AWS requests:") && err.contains("retried"),
        "{err}"
    );
    assert_eq!(
        err.matches("/us-west-2/ec2:").count(),
        1,
        "a region listed twice is scanned once: {err}"
    );

    let status = cloudops_async(data.path(), &["status"], &env).await;
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        shown.contains("account locked-out could not be synced"),
        "{shown}"
    );
    assert!(
        shown.contains("AccessDenied") && shown.contains("trust policy"),
        "{shown}"
    );
    assert!(
        shown.contains("us-west-2") && shown.contains("ec2"),
        "{shown}"
    );
    let json = cloudops_async(data.path(), &["status", "--json"], &env).await;
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["failed_accounts"][0]["name"], "locked-out");
    assert_eq!(doc["scopes"].as_array().unwrap().len(), 1);

    // An unknown region is refused before anything runs, naming it.
    let bad = cloudops_async(data.path(), &["sync", "--region", "us-wset-2"], &env).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("unknown AWS region `us-wset-2`"),
        "{}",
        stderr(&bad)
    );
}

/// A peer that never answers costs one attempt deadline per try within the retry budget
/// and is reported as a timeout, not as "error sending request" minutes later.
#[test]
fn a_silent_endpoint_times_out_with_a_clear_error() {
    let data = data_dir_with_trusted_ec2();
    let silent = silent_server();
    let started = std::time::Instant::now();
    let out = cloudops(
        data.path(),
        &["sync", "--no-iam", "--region", "us-west-2"],
        &[
            ("AWS_ENDPOINT_URL", &silent),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("CLOUDOPS_AWS_TIMEOUT", "1"),
        ],
    );
    let took = started.elapsed();
    let err = stderr(&out);
    eprintln!("{took:?}: {err}");
    assert_eq!(out.status.code(), Some(1), "nothing could be synced: {err}");
    assert!(err.contains("timed out after"), "{err}");
    // Two or three attempts, as the backoff's jitter leaves room in the 3 s budget.
    assert!(
        err.contains("AWS requests:") && !err.contains(" 0 timed out"),
        "summary line: {err}"
    );
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let status = cloudops(data.path(), &["status"], &[]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown.contains("timed out") && shown.contains("check the network"),
        "{shown}"
    );
}

/// `kill -9` of a running sync: status says it was interrupted and when, still shows what
/// the earlier sync stored, and the next sync clears it. Results piped into a reader that
/// stops early end quietly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_is_reported_as_interrupted_and_closed_pipes_end_quietly() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    seed_ec2(&emulator.demo_client(), "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let env = demo_env(&emulator);
    let args = ["sync", "--no-iam", "--region", "us-west-2"];
    let first = cloudops_async(data.path(), &args, &env).await;
    assert!(first.status.success(), "{}", stderr(&first));

    // A sync stuck on an endpoint that never answers, killed once it has started.
    let silent = silent_server();
    let marker = data.path().join("sync-running.json");
    let mut child = command(
        data.path(),
        &args,
        &[
            ("AWS_ENDPOINT_URL", &silent),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let running = cloudops(data.path(), &["status"], &[]);
    assert!(
        String::from_utf8_lossy(&running.stdout).contains("a sync is running"),
        "{}",
        String::from_utf8_lossy(&running.stdout)
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let status = cloudops(data.path(), &["status"], &[]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(shown.contains("was interrupted"), "{shown}");
    assert!(
        shown.contains("UTC") && shown.contains("ago"),
        "says when: {shown}"
    );
    assert!(!shown.contains("nothing synced yet"), "{shown}");
    assert!(
        shown.contains("ec2"),
        "the earlier sync is still shown: {shown}"
    );
    let json = cloudops(data.path(), &["status", "--json"], &[]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["sync_running"]["interrupted"], true);

    // Readers that stop early (`| head`): no panic, no error.
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["search", "web", "--json"],
    ] {
        let out = with_stdout_closed(data.path(), args, &env_ref);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }

    let again = cloudops_async(data.path(), &args, &env).await;
    assert!(again.status.success(), "{}", stderr(&again));
    let status = cloudops(data.path(), &["status"], &[]);
    assert!(!String::from_utf8_lossy(&status.stdout).contains("interrupted"));
}

// ---------------------------------------------------------------------------------------------
// Readers during writes, and damage that is reported and repaired (issue 18).

fn store_env(emulator: &Emulator) -> Vec<(&'static str, String)> {
    let mut env = demo_env(emulator);
    // The key file, not whatever keychain the machine has, so the test sees where it lives.
    env.push(("CLOUDOPS_KEY_STORE", "file".to_owned()));
    env
}

fn spawn_cloudops(
    data_dir: &Path,
    args: &[&str],
    env: &[(&'static str, String)],
) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudops"));
    cmd.arg("--data-dir").arg(data_dir).args(args);
    for var in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "CLOUDOPS_PLUGIN_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start cloudops")
}

/// Names found by `search QUERY --json`; the search must succeed.
async fn found(data_dir: &Path, query: &str, env: &[(&'static str, String)]) -> Vec<String> {
    let out = cloudops_async(data_dir, &["search", query, "--json"], env).await;
    assert!(out.status.success(), "search {query}: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_answer_during_a_sync_and_damage_is_reported_and_rebuilt() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    seed_ec2(&emulator.demo_client(), "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let env = store_env(&emulator);
    // The emulator's demo user is not an IAM entity SimulatePrincipalPolicy accepts.
    let sync = ["sync", "--region", "us-west-2", "--no-iam"];
    let first = cloudops_async(data.path(), &sync, &env).await;
    // Exit 1 here: the scope reports "IAM permission discovery is off"; the store is written.
    assert!(
        stderr(&first).contains("synced 1 scopes"),
        "{}",
        stderr(&first)
    );
    assert!(found(data.path(), "web-server-1", &env)
        .await
        .contains(&"web-server-1".to_owned()));

    // A search every 100 ms while a sync runs: every one answers.
    let mut running = spawn_cloudops(data.path(), &sync, &env);
    let (mut searches, mut failures) = (0, Vec::new());
    loop {
        let done = running.try_wait().unwrap().is_some();
        let out = cloudops_async(data.path(), &["search", "web", "--json"], &env).await;
        searches += 1;
        if !out.status.success() {
            failures.push(stderr(&out));
        }
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    println!(
        "{searches} searches during the sync, {} failed",
        failures.len()
    );
    let synced = running.wait_with_output().unwrap();
    let synced_err = String::from_utf8_lossy(&synced.stderr).into_owned();
    assert!(synced_err.contains("synced 1 scopes"), "{synced_err}");
    assert!(
        failures.is_empty(),
        "{} of {searches} searches failed: {failures:?}",
        failures.len()
    );

    // Six searches at once, no sync running: all answer.
    let many: Vec<_> = (0..6)
        .map(|_| {
            let (dir, env) = (data.path().to_owned(), env.clone());
            tokio::spawn(async move { cloudops_async(&dir, &["search", "database"], &env).await })
        })
        .collect();
    for search in many {
        let out = search.await.unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // A deleted key: a search says so and creates none; a sync refuses to seal with a new one.
    let key = data.path().join("keys/estate.key");
    let saved = data.path().join("keys/estate.key.saved");
    std::fs::rename(&key, &saved).unwrap();
    let out = cloudops_async(data.path(), &["search", "web"], &env).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("estate key is missing") && stderr(&out).contains("store rebuild"),
        "{}",
        stderr(&out)
    );
    assert!(!key.exists(), "a search created a new key");
    let out = cloudops_async(data.path(), &sync, &env).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("records sealed with it"),
        "{}",
        stderr(&out)
    );
    assert!(
        !key.exists(),
        "a sync created a key for a store sealed with another"
    );
    std::fs::rename(&saved, &key).unwrap();

    // The live store loses its segment folder: the next sync says so and offers a rebuild,
    // searches keep answering from the last published copy, and the rebuild restores it.
    // The WAL goes too: with it, the engine replays what a small estate's segments held.
    let shard = data.path().join("store/aws_estate");
    for entry in std::fs::read_dir(shard.join("segments")).unwrap() {
        std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
    }
    std::fs::remove_dir_all(shard.join("wal")).unwrap();
    let out = cloudops_async(data.path(), &sync, &env).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is damaged") && stderr(&out).contains("cloudops store rebuild"),
        "{}",
        stderr(&out)
    );
    assert!(found(data.path(), "web-server-1", &env)
        .await
        .contains(&"web-server-1".to_owned()));
    let rebuilt = cloudops_async(
        data.path(),
        &["store", "rebuild", "--region", "us-west-2", "--no-iam"],
        &env,
    )
    .await;
    assert!(
        stderr(&rebuilt).contains("synced 1 scopes"),
        "{}",
        stderr(&rebuilt)
    );
    assert!(
        stderr(&rebuilt).contains("moved the damaged store to"),
        "{}",
        stderr(&rebuilt)
    );
    assert!(found(data.path(), "web-server-1", &env)
        .await
        .contains(&"web-server-1".to_owned()));
    let again = cloudops_async(data.path(), &sync, &env).await;
    assert!(
        stderr(&again).contains("10 unchanged"),
        "the rebuilt store holds the whole estate: {}",
        stderr(&again)
    );
}

fn mount_tmpfs(dir: &Path, mb: u64) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

fn umount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_clear_error_for_sync_and_search_never_a_signal() {
    let data = data_dir_with_trusted_ec2();
    let emulator = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    seed_ec2(&emulator.demo_client(), "us-west-2", &Ec2Estate::demo())
        .await
        .unwrap();
    let env = store_env(&emulator);
    let sync = ["sync", "--region", "us-west-2", "--no-iam"];
    let first = cloudops_async(data.path(), &sync, &env).await;
    assert!(
        stderr(&first).contains("synced 1 scopes"),
        "{}",
        stderr(&first)
    );

    // The store's disk is full: the sync says how much to free, before writing anything.
    let small = tempfile::tempdir().unwrap();
    if !mount_tmpfs(small.path(), 20) {
        skipped(
            "full_disk_under_the_store",
            "cannot mount a tmpfs here (needs root)",
        );
        return;
    }
    let store = data.path().join("store");
    let moved = data.path().join("store.real");
    std::fs::rename(&store, &moved).unwrap();
    std::os::unix::fs::symlink(small.path(), &store).unwrap();
    let out = cloudops_async(data.path(), &sync, &env).await;
    std::fs::remove_file(&store).unwrap();
    std::fs::rename(&moved, &store).unwrap();
    umount(small.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the disk is full: free"),
        "{}",
        stderr(&out)
    );

    // The temp dir of a search is full: it says so too, and a search with room answers.
    if !mount_tmpfs(small.path(), 1) {
        skipped(
            "full_temp_dir_under_search",
            "cannot mount a tmpfs here (needs root)",
        );
        return;
    }
    let mut full_tmp = env.clone();
    full_tmp.push(("TMPDIR", small.path().display().to_string()));
    let out = cloudops_async(data.path(), &["search", "web"], &full_tmp).await;
    umount(small.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the disk is full: free"),
        "{}",
        stderr(&out)
    );
    assert!(found(data.path(), "web-server-1", &env)
        .await
        .contains(&"web-server-1".to_owned()));
}

/// Says `test` was skipped, in the line scripts/test counts (straight to stdout: libtest
/// swallows a passing test's `println!`).
fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "SKIPPED: {test}: {why}");
}
