//! `cloudops backup`, `restore` and `key` as a user runs them, against the emulator's S3
//! (issue 19): sync an estate (the daily backup follows), back up to S3 in parts, export
//! the key, delete the data dir, import the key, restore from S3, and compare every search
//! answer, the audit log's verification and the status with what they were. Then a restore
//! killed (SIGKILL) at each of its stages, an altered archive, another key's archive and a
//! truncated upload: each refused or recovered, never a half-restored data dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cloudops_demo::{self as demo, generate, seed_estate, AccountSpec, Emulator, EstateSpec};
use cloudops_execute::audit::{self, AuditLog, Entry};
use cloudops_tests::{built_plugin, s3_call, start_emulator};

const ACCOUNT: &str = "111111111111";
const REGIONS: [&str; 2] = ["us-west-2", "eu-west-1"];
const PLUGINS: [&str; 4] = ["ec2", "rds", "s3", "lambda"];
const BUCKET: &str = "cloudops-backups";
const PASSPHRASE: &str = "correct horse battery staple";
const QUERIES: [&str; 5] = [
    "production database",
    "web servers",
    "env=production",
    "buckets in eu-west-1",
    "lambda functions",
];

/// The emulator, seeded; a data dir with the scanners trusted; the config outside it.
struct Lab {
    _emulator: Emulator,
    root: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Lab {
    async fn new() -> Self {
        // The demo estate's archive is ~1.5 MB: with 1 MiB parts (moto's floor lowered from
        // AWS's 5 MiB) its upload is multipart, as a real estate's is at 64 MiB.
        std::env::set_var("S3_UPLOAD_PART_MIN_SIZE", "1048576");
        let emulator = start_emulator().await;
        seed_estate(&emulator, &estate(), |_| {}).await.unwrap();
        // The backup bucket belongs to the default credentials' account.
        s3_call(
            &emulator.demo_client(),
            "us-east-1",
            "PUT",
            &format!("/{BUCKET}"),
            None,
            "",
        )
        .await;
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[[accounts]]\nname = \"production\"\nrole_arn = \"arn:aws:iam::{ACCOUNT}:role/Developer\"\n\
                 regions = {REGIONS:?}\n\n[backup]\ns3 = \"s3://{BUCKET}/laptop\"\nregion = \"us-east-1\"\n\
                 multipart_threshold_mib = 1\n"
            ),
        )
        .unwrap();
        let env = vec![
            ("AWS_ENDPOINT_URL".into(), emulator.url().to_owned()),
            ("AWS_ACCESS_KEY_ID".into(), demo::DEMO_ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), demo::DEMO_SECRET_KEY.into()),
            ("CLOUDOPS_CONFIG".into(), config.display().to_string()),
            ("CLOUDOPS_KEY_PASSPHRASE".into(), PASSPHRASE.into()),
        ];
        let lab = Self {
            _emulator: emulator,
            root,
            env,
        };
        for name in PLUGINS {
            let dest = lab.data().join("plugins").join(name);
            std::fs::create_dir_all(&dest).unwrap();
            for entry in std::fs::read_dir(built_plugin(name)).unwrap() {
                let path = entry.unwrap().path();
                std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
            }
            lab.ok(&["plugin", "trust", name, "--yes"]).await;
        }
        lab
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn command(&self, data: &Path, args: &[&str]) -> Command {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut cmd = super::cli::command(data, args, &env);
        cmd.stdin(Stdio::null());
        cmd
    }

    async fn run_in(&self, data: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command(data, args);
        tokio::task::spawn_blocking(move || cmd.output().expect("run cloudops"))
            .await
            .unwrap()
    }

    /// `cloudops ARGS` on the lab's data dir, which must succeed; its stderr.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run_in(&self.data(), args).await;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cloudops {args:?}: {err}");
        assert_no_secrets(&err, &self.data());
        err
    }

    /// What a user would compare: every query's JSON answer, the audit log's verification,
    /// the status.
    async fn observe(&self) -> BTreeMap<String, String> {
        let mut seen = BTreeMap::new();
        for q in QUERIES {
            let out = self.run_in(&self.data(), &["search", q, "--json"]).await;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            seen.insert(
                q.to_owned(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            );
        }
        let verified = audit::verify(&self.data().join("audit.jsonl")).unwrap();
        seen.insert("audit verify".into(), format!("{verified:?}"));
        let status = self.run_in(&self.data(), &["status", "--json"]).await;
        seen.insert(
            "status".into(),
            String::from_utf8_lossy(&status.stdout).into_owned(),
        );
        seen
    }
}

fn estate() -> demo::EstateFile {
    generate(&EstateSpec {
        seed: 19,
        accounts: vec![AccountSpec {
            id: ACCOUNT.into(),
            name: "production".into(),
            env: "production".into(),
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        }],
        ec2_instances: 12,
        rds_instances: 4,
        rds_clusters: 0,
        s3_buckets: 6,
        lambda_functions: 4,
        lambda_layers: 0,
        lambda_aliases: 0,
        load_balancers: 0,
        vpcs: 2,
    })
}

/// Neither the estate key, nor the passphrase, nor the AWS secret appears in `text`.
fn assert_no_secrets(text: &str, data: &Path) {
    assert!(!text.contains(PASSPHRASE), "passphrase in: {text}");
    assert!(
        !text.contains(demo::DEMO_SECRET_KEY),
        "AWS secret in: {text}"
    );
    if let Ok(key) = std::fs::read_to_string(data.join("keys/estate.key")) {
        assert!(!text.contains(key.trim()), "estate key in: {text}");
    }
}

/// The `s3://...` an `uploaded to` line names.
fn uploaded(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("backup: uploaded to "))
        .unwrap_or_else(|| panic!("no upload in: {stderr}"))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estate_backed_up_to_s3_comes_back_after_its_data_dir_is_deleted() {
    let lab = Lab::new().await;
    let synced = lab.ok(&["sync"]).await;
    // The first sync of the day takes the daily backup, locally and to S3.
    let daily = uploaded(&synced);
    assert!(
        daily.starts_with(&format!("s3://{BUCKET}/laptop/cloudops-backup-")),
        "{synced}"
    );
    let log = AuditLog::open(&lab.data());
    for n in 0..3 {
        log.append(&Entry::Principal {
            run: format!("run-{n}"),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/Developer"),
        })
        .unwrap();
    }
    // A second sync the same day takes no backup.
    assert!(!lab.ok(&["sync"]).await.contains("backup:"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let backed = lab.ok(&["backup"]).await;
    let archive = uploaded(&backed);
    let listed = lab.run_in(&lab.data(), &["backup", "list", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let s3_rows: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["where"] == "s3")
        .collect();
    assert_eq!(s3_rows.len(), 2, "{listed}");
    let size = s3_rows[1]["size"].as_u64().unwrap();
    assert!(
        size > 1 << 20,
        "{size} bytes: the upload must be multipart at 1 MiB"
    );
    assert!(
        backed.contains("AWS S3 refuses parts under 5 MiB"),
        "{backed}"
    );
    // Uploaded in parts (a multipart ETag ends in -N) with server-side encryption.
    let head = cloudops_host::aws::AwsRequest {
        service: "s3".into(),
        method: "HEAD".into(),
        path: format!("/{}", archive.trim_start_matches("s3://")),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let answer = client(&lab).send(&head, "us-east-1", 0).await.unwrap();
    let header = |name: &str| {
        let found = answer.headers.iter().find(|(k, _)| k == name);
        found.map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert!(
        header("etag").trim_matches('"').ends_with("-2"),
        "{answer:?}"
    );
    assert_eq!(header("x-amz-server-side-encryption"), "AES256");
    assert!(s3_rows[1]["holds"]
        .as_str()
        .unwrap()
        .contains("3 audit records"));

    let before = lab.observe().await;
    let key_file = lab.root.path().join("estate-key.json");
    lab.ok(&["key", "export", key_file.to_str().unwrap()]).await;
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    let key_hex = std::fs::read_to_string(lab.data().join("keys/estate.key")).unwrap();
    assert!(
        !key_text.contains(key_hex.trim()),
        "the export holds the key in the clear"
    );

    std::fs::remove_dir_all(lab.data()).unwrap();
    lab.ok(&["key", "import", key_file.to_str().unwrap()]).await;
    let restored = lab.ok(&["restore", &archive]).await;
    assert!(restored.contains("restored"), "{restored}");
    assert_eq!(
        lab.observe().await,
        before,
        "searches, audit and status as before"
    );
    assert_eq!(
        std::fs::read_to_string(lab.data().join("keys/estate.key")).unwrap(),
        key_hex
    );
    assert!(siblings(&lab).is_empty(), "{:?}", siblings(&lab));

    refusals(&lab, &archive, &before).await;
    kills(&lab, &before).await;
}

/// A client of the emulator with the default credentials.
fn client(lab: &Lab) -> cloudops_host::aws::AwsClient {
    cloudops_host::aws::AwsClient::new(
        cloudops_host::aws::Credentials::from_keys(
            demo::DEMO_ACCESS_KEY,
            demo::DEMO_SECRET_KEY,
            None,
        ),
        cloudops_host::aws::Endpoints::default().with_global(&lab.env[0].1),
        std::sync::Arc::new(cloudops_host::aws::HttpTransport::new().unwrap()),
    )
}

/// Entries beside the data dir that a restore leaves (its lock aside).
fn siblings(lab: &Lab) -> Vec<String> {
    std::fs::read_dir(lab.root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("data.") && !n.ends_with(".restore-lock"))
        .collect()
}

/// An altered archive, another key's archive and a truncated upload are refused with the
/// reason, and the data dir stays as it was.
async fn refusals(lab: &Lab, archive: &str, before: &BTreeMap<String, String>) {
    // The restored data dir has no local backups (they were deleted with it): take one.
    lab.ok(&["backup"]).await;
    let local = newest_local(lab);
    let bytes = std::fs::read(&local).unwrap();
    let altered = lab.root.path().join("altered.cbk");
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    std::fs::write(&altered, &flipped).unwrap();
    let out = lab
        .run_in(&lab.data(), &["restore", altered.to_str().unwrap()])
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("altered") && err.contains("nothing was changed"),
        "{err}"
    );

    // Another machine's data dir, with its own key.
    let other = lab.root.path().join("other");
    let _ = cloudops_host::seal::KeyStore::new(&other)
        .choice(cloudops_host::seal::KeyStoreChoice::File)
        .load_or_create()
        .unwrap();
    let out = lab
        .run_in(&other, &["restore", local.to_str().unwrap()])
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cloudops key import"), "{err}");

    // The archive's object, cut short in S3 (an interrupted upload by another tool).
    let key = archive.trim_start_matches(&format!("s3://{BUCKET}/"));
    let cut = lab.root.path().join("cut.cbk");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let client = client(lab);
    // Not named like a backup, so listings and pruning leave it alone.
    let truncated_key = format!("{key}.cut");
    let put = cloudops_host::aws::AwsRequest {
        service: "s3".into(),
        method: "PUT".into(),
        path: format!("/{BUCKET}/{truncated_key}"),
        query: Vec::new(),
        headers: Vec::new(),
        body: std::fs::read(&cut).unwrap(),
    };
    assert!(client
        .send(&put, "us-east-1", 1 << 20)
        .await
        .unwrap()
        .is_success());
    let url = format!("s3://{BUCKET}/{truncated_key}");
    let out = lab.run_in(&lab.data(), &["restore", &url]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert_eq!(&lab.observe().await, before, "refusals changed nothing");
    assert!(siblings(lab).is_empty(), "{:?}", siblings(lab));
}

fn newest_local(lab: &Lab) -> PathBuf {
    let mut all: Vec<PathBuf> = std::fs::read_dir(lab.data().join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    all.sort();
    all.pop().expect("a local backup")
}

/// `cloudops -v restore` killed at each stage: the next command finds either the old data
/// dir or the restored one, whole, and nothing beside it.
async fn kills(lab: &Lab, before: &BTreeMap<String, String>) {
    let archive = newest_local(lab);
    let mut outcomes = Vec::new();
    for stage in [
        "restore: unpacking",
        "restore: part",
        "restore: verified",
        "restore: swapped",
    ] {
        // Marks the current data dir: the restored one has no such plugin file.
        let marker = lab.data().join("plugins/marker");
        std::fs::write(&marker, stage).unwrap();
        let mut cmd = lab.command(&lab.data(), &["-v", "restore", archive.to_str().unwrap()]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let killed = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut child = cmd.spawn().unwrap();
            let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
            let reached = lines.map_while(Result::ok).any(|l| l.contains(stage));
            let alive = reached && child.try_wait().unwrap().is_none();
            if alive {
                child.kill().unwrap();
            }
            let ended = child.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            alive && ended.signal() == Some(9)
        })
        .await
        .unwrap();
        // The next command (any) cleans up; its answers are the same either way.
        assert_eq!(&lab.observe().await, before, "after a kill at `{stage}`");
        assert!(siblings(lab).is_empty(), "{stage}: {:?}", siblings(lab));
        let state = if marker.exists() { "old" } else { "restored" };
        outcomes.push(format!("{stage}: killed={killed} → {state}"));
    }
    println!("{}", outcomes.join("\n"));
    let killed = outcomes
        .iter()
        .filter(|o| o.contains("killed=true"))
        .count();
    assert!(killed >= 2, "too few kills landed: {outcomes:?}");
}
