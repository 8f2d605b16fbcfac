//! Copies in the emulator's S3 (moto): multipart above the threshold, a single PUT below it,
//! server-side encryption, listing with what each holds, download and verification, a
//! truncated upload refused, 30-day pruning with an injected clock, the lifecycle rule.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cloudops_aws::{AwsClient, AwsRequest};
use cloudops_backup::s3::{Bucket, Location, MIN_PART, RULE_ID};
use cloudops_backup::{archive_name, create, verify, BackupError};
use cloudops_demo::{Emulator, EmulatorError};

use crate::common;

const REGION: &str = "us-east-1";
const BUCKET: &str = "cloudops-backups";
const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

/// The emulator, or `None` after printing the `SKIPPED:` line scripts/test counts.
async fn emulator(test: &str) -> Option<Emulator> {
    match Emulator::start().await {
        Ok(e) => Some(e),
        Err(EmulatorError::NotInstalled) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "SKIPPED: {test}: moto_server is not installed (scripts/setup)"
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

async fn bucket(client: &AwsClient) -> Bucket {
    let create = AwsRequest {
        service: "s3".into(),
        method: "PUT".into(),
        path: format!("/{BUCKET}"),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let answer = client.send(&create, REGION, 1 << 20).await.unwrap();
    assert!(answer.is_success(), "{answer:?}");
    Bucket::connect(
        client.clone(),
        REGION,
        Location::parse(&format!("s3://{BUCKET}/laptop/")).unwrap(),
    )
    .await
    .unwrap()
}

/// A backup of a data dir whose plugin makes the archive `size` bytes or a little more.
fn archive(dir: &Path, size: usize, now: i64) -> (PathBuf, cloudops_seal::Sealer) {
    let data = dir.join("data");
    let sealer = common::data_dir(&data, size);
    let created = create(&data, None, &sealer, &dir.join("out"), now).unwrap();
    (created.path, sealer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backup_goes_up_in_parts_encrypted_and_comes_back_whole() {
    let Some(emulator) = emulator("a_large_backup_goes_up_in_parts").await else {
        return;
    };
    let client = emulator.demo_client();
    let bucket = bucket(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let (path, sealer) = archive(tmp.path(), 2 * MIN_PART as usize + 1000, NOW);
    let key = bucket.upload(&path, MIN_PART).await.unwrap();
    assert_eq!(key, format!("laptop/{}", archive_name(NOW)));

    // Uploaded with server-side encryption, in three parts (multipart ETags end in -N).
    let head = AwsRequest {
        service: "s3".into(),
        method: "HEAD".into(),
        path: format!("/{BUCKET}/{key}"),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let answer = client.send(&head, REGION, 0).await.unwrap();
    let header = |name: &str| {
        answer
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("x-amz-server-side-encryption"), "AES256");
    assert!(
        header("etag").trim_matches('"').ends_with("-3"),
        "{}",
        header("etag")
    );

    let listed = bucket.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, std::fs::metadata(&path).unwrap().len());
    let described = bucket.header(&key).await.unwrap();
    assert_eq!(described.summary.estate, common::RESOURCES as u64);

    let back = tmp.path().join("back.cbk");
    bucket.download(&key, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&path).unwrap());
    assert!(verify(&back, &sealer).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_upload_is_refused_on_restore() {
    let Some(emulator) = emulator("a_truncated_upload_is_refused_on_restore").await else {
        return;
    };
    let client = emulator.demo_client();
    let bucket = bucket(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let (path, sealer) = archive(tmp.path(), 64 * 1024, NOW);
    // Below the threshold: one PUT. Then the same name, cut short, as an interrupted
    // upload through another tool would leave it.
    let key = bucket.upload(&path, 64 << 20).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let put = AwsRequest {
        service: "s3".into(),
        method: "PUT".into(),
        path: format!("/{BUCKET}/{key}"),
        query: Vec::new(),
        headers: Vec::new(),
        body: bytes[..bytes.len() / 2].to_vec(),
    };
    assert!(client
        .send(&put, REGION, 1 << 20)
        .await
        .unwrap()
        .is_success());
    let back = tmp.path().join("back.cbk");
    bucket.download(&key, &back).await.unwrap();
    let err = verify(&back, &sealer).unwrap_err();
    assert!(matches!(err, BackupError::Truncated(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_older_than_thirty_days_are_pruned_and_the_lifecycle_rule_is_set() {
    let Some(emulator) = emulator("copies_older_than_thirty_days_are_pruned").await else {
        return;
    };
    let bucket = bucket(&emulator.demo_client()).await;
    let tmp = tempfile::tempdir().unwrap();
    for age in [45, 31, 29, 1] {
        let (path, _) = archive(&tmp.path().join(age.to_string()), 16, NOW - age * DAY);
        bucket.upload(&path, 64 << 20).await.unwrap();
    }
    let deleted = bucket.prune(NOW).await.unwrap();
    assert_eq!(
        deleted,
        vec![
            format!("laptop/{}", archive_name(NOW - 45 * DAY)),
            format!("laptop/{}", archive_name(NOW - 31 * DAY)),
        ]
    );
    let left: Vec<i64> = bucket
        .list()
        .await
        .unwrap()
        .iter()
        .map(|o| (NOW - o.created_at) / DAY)
        .collect();
    assert_eq!(left, vec![29, 1]);

    assert_eq!(bucket.set_lifecycle(30).await.unwrap(), 0);
    // Set again: the rule is replaced, not doubled.
    assert_eq!(bucket.set_lifecycle(30).await.unwrap(), 0);
    let get = AwsRequest {
        service: "s3".into(),
        method: "GET".into(),
        path: format!("/{BUCKET}"),
        query: vec![("lifecycle".into(), String::new())],
        headers: Vec::new(),
        body: Vec::new(),
    };
    let answer = emulator
        .demo_client()
        .send(&get, REGION, 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&answer.body);
    assert_eq!(text.matches(RULE_ID).count(), 1, "{text}");
    assert!(text.contains("<Days>30</Days>"), "{text}");
    assert!(text.contains("laptop/"), "{text}");
}
