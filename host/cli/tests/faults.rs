//! `cloudops sync` through a proxy that damages AWS's answers (issue 18).
//!
//! One account, two regions, four scanners, seeded into the emulator. Each case changes the
//! emulator (a bucket deleted and another created, an instance terminated, tags changed, a
//! function deleted), then syncs through [`FaultProxy`] with some faults, then compares the
//! store with the emulator's true state listed by bare boto3 (tests/emulator/truth.py, straight
//! to the emulator, never through cloudops or the proxy):
//! - a scope status calls complete holds exactly what exists, with current tags;
//! - any other scope lost nothing that still exists and invented nothing;
//! - a record whose tags are marked stale kept the tags it had;
//! - the exit code and `status` say what happened: 0 and no errors only when every fault was
//!   retried away, 3 ("completed with failures") otherwise.
//!
//! Then a sync without faults converges to the emulator exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cloudops_demo::{
    self as demo, account_client, generate, seed_estate, AccountSpec, Emulator, EstateFile,
    EstateSpec,
};
use cloudops_host::aws::{AwsClient, AwsRequest};
use cloudops_host::estate::Estate;
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, Filter, Location};
use cloudops_tests::faults::{Fault, FaultProxy, Pick, Rule};
use cloudops_tests::{built_plugin, embedder, repo_root, s3_call, start_emulator};

const ACCOUNT: &str = "111111111111";
const REGIONS: [&str; 2] = ["us-west-2", "eu-west-1"];
const PLUGINS: [&str; 4] = ["ec2", "rds", "s3", "lambda"];
/// The types compared: each scanner's main one.
const TYPES: [&str; 4] = [
    "ec2_instance",
    "rds_instance",
    "s3_bucket",
    "lambda_function",
];

/// `account/region/type` → identifier → tags.
type Listing = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

/// What the store holds: the listing, and the records whose tags are stale.
struct Stored {
    listing: Listing,
    stale_tags: BTreeSet<(String, String)>,
}

fn service_of(kind: &str) -> &str {
    kind.split('_').next().unwrap_or(kind)
}

/// The emulator, seeded, behind a proxy; a data dir with the scanners installed and trusted.
struct Lab {
    emulator: Emulator,
    proxy: FaultProxy,
    data: tempfile::TempDir,
    admin: AwsClient,
    env: Vec<(String, String)>,
}

impl Lab {
    async fn new() -> Self {
        let emulator = start_emulator().await;
        let file = estate();
        seed_estate(&emulator, &file, |_| {}).await.unwrap();
        let proxy = FaultProxy::start(emulator.url()).await;
        let data = tempfile::tempdir().unwrap();
        for name in PLUGINS {
            let dest = data.path().join("plugins").join(name);
            std::fs::create_dir_all(&dest).unwrap();
            for entry in std::fs::read_dir(built_plugin(name)).unwrap() {
                let path = entry.unwrap().path();
                std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
            }
        }
        let config = data.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[[accounts]]\nname = \"production\"\nrole_arn = \"arn:aws:iam::{ACCOUNT}:role/Developer\"\n\
                 regions = {REGIONS:?}\n"
            ),
        )
        .unwrap();
        let env = vec![
            ("AWS_ENDPOINT_URL".into(), proxy.url().to_owned()),
            ("AWS_ACCESS_KEY_ID".into(), demo::DEMO_ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), demo::DEMO_SECRET_KEY.into()),
            ("CLOUDOPS_CONFIG".into(), config.display().to_string()),
            ("CLOUDOPS_KEY_STORE".into(), "file".into()),
            // A lost answer costs seconds, not the default 20 s per attempt.
            ("CLOUDOPS_AWS_TIMEOUT".into(), "2".into()),
        ];
        let admin = account_client(&emulator, ACCOUNT, "Developer")
            .await
            .unwrap();
        let lab = Self {
            emulator,
            proxy,
            data,
            admin,
            env,
        };
        for name in PLUGINS {
            let out = lab.cloudops(&["plugin", "trust", name, "--yes"]).await;
            assert!(out.status.success(), "{}", stderr(&out));
        }
        lab
    }

    /// `cloudops ARGS` on this lab's data dir, through the proxy.
    fn command(&self, args: &[&str]) -> Command {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut cmd = super::cli::command(self.data.path(), args, &env);
        cmd.stdin(Stdio::null());
        cmd
    }

    async fn cloudops(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("run cloudops"))
            .await
            .unwrap()
    }

    /// A sync with `rules` on the proxy; its exit code and stderr.
    async fn sync(&self, rules: Vec<Rule>) -> (Option<i32>, String) {
        self.proxy.set_rules(rules);
        let out = self.cloudops(&["sync"]).await;
        self.proxy.set_rules(Vec::new());
        (out.status.code(), stderr(&out))
    }

    async fn status(&self) -> serde_json::Value {
        let out = self.cloudops(&["status", "--json"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
    }

    /// The emulator's state, listed by boto3 straight from it.
    async fn truth(&self) -> Listing {
        let mut cmd = tokio::process::Command::new(repo_root().join(".venv/bin/python"));
        cmd.arg(repo_root().join("tests/emulator/truth.py")).args([
            "--url",
            self.emulator.url(),
            "--account",
            ACCOUNT,
        ]);
        for region in REGIONS {
            cmd.args(["--region", region]);
        }
        let out = cmd.output().await.expect("run tests/emulator/truth.py");
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("truth.py prints JSON")
    }

    /// What the store holds, read as `search` reads it (the last published generation).
    fn stored(&self) -> Stored {
        let store = store::open_reader(&Location::Embedded(self.data.path().join("store")))
            .expect("open the store as a reader");
        let (sealer, _) = Sealer::existing(self.data.path()).expect("the estate key");
        let estate = Estate::new(store.into(), embedder(), sealer.into());
        let mut stored = Stored {
            listing: Listing::new(),
            stale_tags: BTreeSet::new(),
        };
        for record in estate.list(&Filter::all()).expect("list the store") {
            let r = &record.resource;
            if !TYPES.contains(&r.resource_type.as_str()) {
                continue;
            }
            let key = format!("{}/{}/{}", r.account_id, r.region, r.resource_type);
            let tags = r
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            stored
                .listing
                .entry(key.clone())
                .or_default()
                .insert(r.identifier.clone(), tags);
            if record.stale().iter().any(|s| s.part == "tags") {
                stored.stale_tags.insert((key, r.identifier.clone()));
            }
            assert!(!r.metadata.contains_key("_unread"), "never stored");
        }
        stored
    }

    async fn ec2(&self, action: &str, params: &[(&str, &str)]) {
        let request = AwsRequest::query_protocol("ec2", action, "2016-11-15", params);
        let answer = self
            .admin
            .send(&request, REGIONS[0], 1 << 20)
            .await
            .unwrap();
        assert!(
            answer.is_success(),
            "{action}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    /// One change of each kind a sync must apply; `round` keeps names apart.
    async fn change(&self, round: usize, truth: &Listing) {
        let key = |kind: &str| format!("{ACCOUNT}/{}/{kind}", REGIONS[0]);
        // A new bucket, and one of the old ones gone.
        let bucket = format!("fault-round-{round}");
        s3_call(
            &self.admin,
            REGIONS[0],
            "PUT",
            &format!("/{bucket}"),
            None,
            &location_body(REGIONS[0]),
        )
        .await;
        let buckets = &truth[&key("s3_bucket")];
        if let Some(old) = buckets.keys().find(|b| b.starts_with("fault-round-")) {
            s3_call(
                &self.admin,
                REGIONS[0],
                "DELETE",
                &format!("/{old}"),
                None,
                "",
            )
            .await;
        }
        // New tags on a bucket (PutBucketTagging replaces them all) and on an instance.
        let tagged = buckets
            .keys()
            .find(|b| !b.starts_with("fault-round-"))
            .unwrap();
        let tagging = format!(
            "<Tagging><TagSet><Tag><Key>round</Key><Value>{round}</Value></Tag></TagSet></Tagging>"
        );
        s3_call(
            &self.admin,
            REGIONS[0],
            "PUT",
            &format!("/{tagged}"),
            Some("tagging"),
            &tagging,
        )
        .await;
        let instances: Vec<&String> = truth[&key("ec2_instance")].keys().collect();
        let round_tag = round.to_string();
        self.ec2(
            "CreateTags",
            &[
                ("ResourceId.1", instances[0]),
                ("Tag.1.Key", "round"),
                ("Tag.1.Value", &round_tag),
            ],
        )
        .await;
        // An instance terminated (still listed, in another state) in the first round.
        if round == 0 {
            self.ec2("TerminateInstances", &[("InstanceId.1", instances[1])])
                .await;
        }
    }
}

fn location_body(region: &str) -> String {
    format!(
        "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint>\
         </CreateBucketConfiguration>"
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One account in two regions: instances, databases, buckets and functions.
fn estate() -> EstateFile {
    generate(&EstateSpec {
        seed: 11,
        accounts: vec![AccountSpec {
            id: ACCOUNT.into(),
            name: "production".into(),
            env: "production".into(),
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        }],
        ec2_instances: 8,
        rds_instances: 3,
        rds_clusters: 0,
        s3_buckets: 6,
        lambda_functions: 4,
        lambda_layers: 0,
        lambda_aliases: 0,
        load_balancers: 0,
        vpcs: 2,
    })
}

/// Whether status calls the scope of `key` (`account/region/type`) complete and error-free.
fn scope_clean(status: &serde_json::Value, key: &str) -> bool {
    let mut parts = key.split('/');
    let (account, region, kind) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
    status["scopes"].as_array().unwrap().iter().any(|s| {
        s["account_id"].as_str() == account
            && s["region"].as_str() == region
            && s["service"] == service_of(kind)
            && s["complete"] == true
            && s["errors"].as_array().is_some_and(Vec::is_empty)
    })
}

/// Everything in the store that contradicts the emulator, given what status reports.
fn contradictions(
    before: &Stored,
    after: &Stored,
    truth: &Listing,
    status: &serde_json::Value,
) -> Vec<String> {
    let empty = BTreeMap::new();
    let keys: BTreeSet<&String> = truth
        .keys()
        .chain(after.listing.keys())
        .chain(before.listing.keys())
        .collect();
    let mut wrong = Vec::new();
    for key in keys {
        let exists = truth.get(key).unwrap_or(&empty);
        let had = before.listing.get(key).unwrap_or(&empty);
        let holds = after.listing.get(key).unwrap_or(&empty);
        let complete = scope_clean(status, key);
        for (id, tags) in exists {
            match holds.get(id) {
                None if complete => wrong.push(format!("{key}: {id} exists but is missing")),
                None if had.contains_key(id) => {
                    wrong.push(format!("{key}: {id} exists and was deleted"))
                }
                None => {}
                Some(held) if after.stale_tags.contains(&(key.clone(), id.clone())) => {
                    // Kept from an earlier read: what was stored before, whatever AWS says.
                    let kept = had.get(id).is_none_or(|old| old == held);
                    if !kept {
                        wrong.push(format!("{key}: {id}'s stale tags {held:?} were not kept"));
                    }
                }
                Some(held) if held != tags && (complete || had.get(id) != Some(held)) => wrong
                    .push(format!(
                        "{key}: {id} has tags {held:?}, the emulator {tags:?}"
                    )),
                Some(_) => {}
            }
        }
        for id in holds.keys().filter(|id| !exists.contains_key(*id)) {
            if complete || !had.contains_key(id) {
                wrong.push(format!("{key}: {id} is stored but does not exist"));
            }
        }
    }
    wrong
}

/// The exit code status implies: 0 when every scope is complete and error-free, else 3.
fn expected_exit(status: &serde_json::Value) -> i32 {
    let clean = status["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["complete"] == true && s["errors"].as_array().is_some_and(Vec::is_empty))
        && status["failed_accounts"]
            .as_array()
            .is_some_and(Vec::is_empty);
    if clean {
        0
    } else {
        3
    }
}

/// A sync without faults: exit 0, and the store is the emulator's state exactly.
async fn converge(lab: &Lab, after: &str) {
    let (code, err) = lab.sync(Vec::new()).await;
    assert_eq!(code, Some(0), "the clean sync after {after}: {err}");
    let (truth, stored) = (lab.truth().await, lab.stored());
    assert_eq!(
        stored.listing, truth,
        "the store after a clean sync following {after}"
    );
    assert!(
        stored.stale_tags.is_empty(),
        "a clean sync leaves nothing stale"
    );
}

/// One faulty sync: changes, the sync, and the comparison. Returns the sync's stderr.
async fn faulty_sync(
    lab: &Lab,
    round: usize,
    name: &str,
    rules: Vec<Rule>,
    retried_away: bool,
) -> String {
    let before = lab.stored();
    let truth = lab.truth().await;
    lab.change(round, &truth).await;
    let truth = lab.truth().await;
    let (_, faults_before) = lab.proxy.counts();
    let (code, err) = lab.sync(rules).await;
    let (_, faults_after) = lab.proxy.counts();
    assert!(
        faults_after > faults_before,
        "{name}: no fault was injected"
    );
    let status = lab.status().await;
    let after = lab.stored();
    let wrong = contradictions(&before, &after, &truth, &status);
    assert!(
        wrong.is_empty(),
        "{name}: the store contradicts the emulator:\n{}\n{err}",
        wrong.join("\n")
    );
    assert_eq!(
        code,
        Some(expected_exit(&status)),
        "{name}: the exit code disagrees with status: {err}"
    );
    if retried_away {
        assert_eq!(
            code,
            Some(0),
            "{name}: every fault should have been retried away: {err}"
        );
        assert_eq!(
            after.listing, truth,
            "{name}: the store after retried faults"
        );
    } else {
        assert_eq!(
            code,
            Some(3),
            "{name}: a lasting fault must be reported: {err}"
        );
    }
    eprintln!(
        "{name}: exit {code:?}, {} faults injected",
        faults_after - faults_before
    );
    err
}

/// Faults AWS and networks produce now and then: each is retried, the sync ends clean
/// and the store equals the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_faults_are_retried_and_the_store_matches_the_emulator() {
    let lab = Lab::new().await;
    converge(&lab, "seeding").await;
    let once = |fault: Fault, every: u64| Rule::new(fault).pick(Pick::EveryOnce(every));
    let cases = [
        ("throttling", vec![once(Fault::Throttle, 4)]),
        ("5xx answers", vec![once(Fault::ServerError, 5)]),
        ("connection resets", vec![once(Fault::Reset, 5)]),
        (
            "bodies cut off mid-transfer",
            vec![once(Fault::Truncate, 5)],
        ),
        (
            "slow answers",
            vec![Rule::new(Fault::Delay(Duration::from_millis(300))).pick(Pick::Every(3))],
        ),
        (
            "answers later than the deadline",
            vec![once(Fault::Delay(Duration::from_secs(3)), 9)],
        ),
    ];
    for (round, (name, rules)) in cases.into_iter().enumerate() {
        let err = faulty_sync(&lab, round, name, rules, true).await;
        if name == "throttling" {
            assert!(
                err.contains("throttled"),
                "the summary line counts throttling: {err}"
            );
        }
    }
    converge(&lab, "passing faults").await;
}

/// Faults that retries cannot fix: the sync reports them, deletes nothing that exists,
/// downgrades nothing it could not read, and a clean sync afterwards repairs everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lasting_faults_are_reported_and_lose_nothing() {
    let lab = Lab::new().await;
    converge(&lab, "seeding").await;
    let all =
        |fault: Fault, service: &str, word: &str| Rule::new(fault).service(service).with(word);
    let cases = [
        (
            "a listing cut short behind a 200",
            vec![all(Fault::CutShort, "ec2", "Action=DescribeInstances")],
        ),
        (
            "a listing replaced by garbage",
            vec![all(Fault::Garbage, "rds", "Action=DescribeDBInstances")],
        ),
        (
            "one instance without its id",
            vec![all(
                Fault::Blank("instanceId".into()),
                "ec2",
                "Action=DescribeInstances",
            )],
        ),
        (
            "one function without its name",
            vec![all(
                Fault::Blank("FunctionName".into()),
                "lambda",
                "/functions",
            )],
        ),
        (
            "every GetBucketTagging failing",
            vec![all(Fault::ServerError, "s3", "?tagging")],
        ),
        (
            "GetBucketLocation cut short",
            vec![all(Fault::CutShort, "s3", "?location")],
        ),
        (
            "a region's buckets listing throttled for good",
            vec![all(Fault::Throttle, "s3", "GET / ")],
        ),
        (
            "an instance listing that never answers",
            vec![all(
                Fault::Delay(Duration::from_secs(5)),
                "ec2",
                "Action=DescribeInstances",
            )],
        ),
    ];
    for (round, (name, rules)) in cases.into_iter().enumerate() {
        let err = faulty_sync(&lab, round, name, rules, false).await;
        let shown = String::from_utf8_lossy(&lab.cloudops(&["status"]).await.stdout).into_owned();
        assert!(
            shown.contains("Scopes with errors"),
            "{name}: status says so: {shown}"
        );
        if name.contains("GetBucketTagging") {
            assert!(
                !lab.stored().stale_tags.is_empty(),
                "{name}: tags kept and marked stale"
            );
            assert!(
                err.contains("stale") || shown.contains("stale"),
                "{name}: stale is reported: {err}\n{shown}"
            );
        }
        converge(&lab, name).await;
    }
}

/// When a running sync is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after it began (wrote its run marker).
    AfterStart(Duration),
    /// As soon as it logs a line containing this.
    OnLine(&'static str),
}

/// `kill -9` of a sync at several points, stale deletion among them: every time the next
/// commands work, status says the sync was interrupted, nothing that exists is lost, and a
/// sync afterwards converges to the emulator exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_at_any_point_loses_nothing_and_the_next_one_converges() {
    let lab = Lab::new().await;
    converge(&lab, "seeding").await;
    let points = [
        Kill::AfterStart(Duration::ZERO),
        // A scope has ended: its status is being saved.
        Kill::OnLine("found,"),
        // Stale deletion has begun.
        Kill::OnLine("removing"),
        Kill::AfterStart(Duration::from_millis(800)),
        // Just after a removal.
        Kill::OnLine("-1 ("),
    ];
    let mut landed = 0;
    for (round, point) in points.into_iter().enumerate() {
        let before = lab.stored();
        let truth = lab.truth().await;
        // Every round but the first deletes the bucket the round before created (and the
        // sync after the kill stored), so there is a removal to kill.
        lab.change(round, &truth).await;
        let truth = lab.truth().await;
        // Slow answers stretch the sync so that the kills land mid-way.
        lab.proxy
            .set_rules(vec![Rule::new(Fault::Delay(Duration::from_millis(60)))]);
        let killed = lab.kill_sync(point).await;
        lab.proxy.set_rules(Vec::new());
        let status = String::from_utf8_lossy(&lab.cloudops(&["status"]).await.stdout).into_owned();
        if killed {
            landed += 1;
            assert!(status.contains("was interrupted"), "{point:?}: {status}");
        }
        let search = lab.cloudops(&["search", "bucket", "--json"]).await;
        assert!(
            search.status.success(),
            "{point:?}: search after the kill: {}",
            stderr(&search)
        );
        let nothing_complete = serde_json::json!({ "scopes": [] });
        let wrong = contradictions(&before, &lab.stored(), &truth, &nothing_complete);
        assert!(
            wrong.is_empty(),
            "{point:?}: after the kill:\n{}",
            wrong.join("\n")
        );
        eprintln!(
            "kill {point:?}: {}",
            if killed {
                "mid-sync"
            } else {
                "too late: the sync had ended"
            }
        );
        converge(&lab, &format!("a kill at {point:?}")).await;
    }
    assert!(
        landed >= 4,
        "only {landed} of {} kills landed mid-sync",
        points.len()
    );
    let status = String::from_utf8_lossy(&lab.cloudops(&["status"]).await.stdout).into_owned();
    assert!(
        !status.contains("interrupted"),
        "a finished sync clears it: {status}"
    );
}

impl Lab {
    /// Starts `cloudops -v sync` and kills it (SIGKILL) at `point`; false when it ended first.
    async fn kill_sync(&self, point: Kill) -> bool {
        let marker = self.data.path().join("sync-running.json");
        use std::io::BufRead;
        let mut cmd = self.command(&["-v", "sync"]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("start cloudops sync");
            let stderr = child.stderr.take().unwrap();
            let reached = match point {
                Kill::AfterStart(wait) => {
                    // Drain stderr so the child never blocks on a full pipe.
                    std::thread::spawn(move || {
                        std::io::BufReader::new(stderr).lines().for_each(drop)
                    });
                    // The run marker says the sync has begun; then `wait` more.
                    let mut began: Option<std::time::Instant> = None;
                    while child.try_wait().unwrap().is_none() {
                        match began {
                            None if marker.exists() => began = Some(std::time::Instant::now()),
                            Some(at) if at.elapsed() >= wait => break,
                            _ => {}
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    true
                }
                Kill::OnLine(word) => {
                    let mut lines = std::io::BufReader::new(stderr).lines();
                    let found = lines
                        .by_ref()
                        .map_while(Result::ok)
                        .any(|l| l.contains(word));
                    std::thread::spawn(move || lines.for_each(drop));
                    found
                }
            };
            let alive = reached && child.try_wait().unwrap().is_none();
            if alive {
                child.kill().unwrap();
            }
            let ended = child.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            alive && ended.signal() == Some(9)
        })
        .await
        .unwrap()
    }
}

/// One damaged item makes only its own type incomplete: the scanner's other types are still
/// compared with the store, and what they no longer list is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_listing_holds_back_removals_of_its_own_type_only() {
    let lab = Lab::new().await;
    let truth = lab.truth().await;
    let key = format!("{ACCOUNT}/{}/rds_instance", REGIONS[0]);
    let databases: Vec<String> = truth[&key].keys().cloned().collect();
    assert!(databases.len() >= 2, "{databases:?}");
    let rds = |action: &'static str, params: Vec<(&'static str, String)>| {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        AwsRequest::query_protocol("rds", action, "2014-10-31", &params)
    };
    let snapshot = rds(
        "CreateDBSnapshot",
        vec![
            ("DBInstanceIdentifier", databases[1].clone()),
            ("DBSnapshotIdentifier", "kept-snapshot".into()),
        ],
    );
    let answer = lab
        .admin
        .send(&snapshot, REGIONS[0], 1 << 20)
        .await
        .unwrap();
    assert!(
        answer.is_success(),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    converge(&lab, "seeding").await;

    let gone = &databases[0];
    let delete = rds(
        "DeleteDBInstance",
        vec![
            ("DBInstanceIdentifier", gone.clone()),
            ("SkipFinalSnapshot", "true".into()),
        ],
    );
    let answer = lab.admin.send(&delete, REGIONS[0], 1 << 20).await.unwrap();
    assert!(
        answer.is_success(),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    let (code, err) = lab
        .sync(vec![Rule::new(Fault::Blank("DBSnapshotIdentifier".into()))
            .service("rds")
            .with("Action=DescribeDBSnapshots")])
        .await;
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("incomplete listing of rds_snapshot"), "{err}");
    let stored = lab.stored();
    assert!(
        !stored.listing[&key].contains_key(gone),
        "the deleted database is removed though a snapshot could not be read: {err}"
    );
    assert_eq!(stored.listing[&key], lab.truth().await[&key]);
    converge(&lab, "a damaged snapshot listing").await;
}
