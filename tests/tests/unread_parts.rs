//! Nothing lost, nothing hidden: syncs against the emulator where a sub-call is denied or a
//! resource cannot be accepted. A part that failed to read keeps its last known value,
//! marked stale, until a read succeeds; a resource the host had to drop is never deleted as
//! if it were gone.

use std::sync::Arc;

use cloudops_demo::create_iam_user;
use cloudops_host::aws::AwsClient;
use cloudops_host::estate::{Estate, Record};
use cloudops_host::plugin::{Limits, Plugin};
use cloudops_host::scan::sync::{self, SyncAccount, SyncOptions, SyncReport};
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, Filter, Location};
use cloudops_tests::{embedder, load_plugin, s3_call, start_emulator};

const REGION: &str = "eu-west-1";

fn estate(dir: &tempfile::TempDir) -> Estate {
    let store = store::open(&Location::Embedded(dir.path().join("store"))).unwrap();
    Estate::new(Arc::from(store), embedder(), Arc::new(Sealer::generate()))
}

async fn create_bucket(client: &AwsClient, bucket: &str) {
    let body = format!(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
    );
    s3_call(client, REGION, "PUT", &format!("/{bucket}"), None, &body).await;
}

async fn tag_bucket(client: &AwsClient, bucket: &str, tags: &[(String, String)]) {
    let tags: String = tags
        .iter()
        .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
        .collect();
    let body = format!("<Tagging><TagSet>{tags}</TagSet></Tagging>");
    s3_call(
        client,
        REGION,
        "PUT",
        &format!("/{bucket}"),
        Some("tagging"),
        &body,
    )
    .await;
}

async fn sync_s3(client: AwsClient, plugin: Plugin, estate: &Estate) -> SyncReport {
    sync::sync(
        vec![SyncAccount {
            name: "production".into(),
            client,
            regions: vec![REGION.into()],
        }],
        vec![plugin],
        estate.clone(),
        // IAM discovery is another subject (its absence is the scope's one error).
        SyncOptions {
            iam: false,
            ..SyncOptions::default()
        },
        Arc::new(|_| {}),
    )
    .await
}

fn assert_complete(report: &SyncReport) {
    assert!(
        report.scopes.iter().all(|s| s.complete),
        "{:#?}",
        report.scopes
    );
}

fn bucket(estate: &Estate, name: &str) -> Option<Record> {
    estate
        .list(&Filter::all())
        .unwrap()
        .into_iter()
        .find(|r| r.resource.identifier == name)
}

fn tags(record: &Record) -> Vec<(String, String)> {
    record
        .resource
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_tagging_keeps_the_stored_tags_marked_stale_until_a_read_works() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    create_bucket(&admin, "ledger-eu").await;
    tag_bucket(&admin, "ledger-eu", &[pair("env", "production")]).await;
    let reader = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:List*","s3:Get*","s3:PutBucketTagging"],"Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "reader", reader).await.unwrap();
    let reader = emulator.client(&key, &secret);
    let no_tags = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:List*","s3:Get*"],"Resource":"*"},
        {"Effect":"Deny","Action":"s3:GetBucketTagging","Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "no-tags", no_tags).await.unwrap();
    let no_tags = emulator.client(&key, &secret);
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin("s3", Limits::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(&dir);

    // 1. A read that works stores the tags, fresh.
    let report = sync_s3(reader.clone(), plugin.clone(), &estate).await;
    assert_complete(&report);
    let stored = bucket(&estate, "ledger-eu").unwrap();
    assert_eq!(tags(&stored), [pair("env", "production")]);
    assert!(stored.stale().is_empty());

    // 2. GetBucketTagging denied: the tags are kept, marked stale, not emptied; twice, and the
    //    second time changes nothing.
    for _ in 0..2 {
        let report = sync_s3(no_tags.clone(), plugin.clone(), &estate).await;
        let scope = &report.scopes[0];
        assert!(scope.complete, "the bucket was seen: {scope:?}");
        let kept = bucket(&estate, "ledger-eu").unwrap();
        assert_eq!(tags(&kept), [pair("env", "production")], "never downgraded");
        let stale = kept.stale();
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert_eq!(stale[0].part, "tags");
        assert!(stale[0].since.is_some(), "a value read before has a time");
        assert!(
            stale[0].to_string().starts_with("tags since 20"),
            "{}",
            stale[0]
        );
        assert!(!kept.resource.metadata.contains_key("_unread"));
    }
    let unchanged = sync_s3(no_tags.clone(), plugin.clone(), &estate).await;
    assert_eq!(
        (unchanged.scopes[0].updated, unchanged.scopes[0].unchanged),
        (0, 1)
    );

    // 3. Only a successful read changes the part, and it is fresh again.
    tag_bucket(&reader, "ledger-eu", &[pair("env", "staging")]).await;
    let report = sync_s3(reader.clone(), plugin.clone(), &estate).await;
    assert_complete(&report);
    let read = bucket(&estate, "ledger-eu").unwrap();
    assert_eq!(tags(&read), [pair("env", "staging")]);
    assert!(read.stale().is_empty(), "{:?}", read.stale());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_the_host_rejects_is_never_deleted_as_unseen() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    create_bucket(&admin, "small-eu").await;
    create_bucket(&admin, "big-eu").await;
    // Fifty long tags: a resource far larger than the small one.
    let many: Vec<_> = (0..50)
        .map(|i| pair(&format!("key-{i:02}"), &"v".repeat(200)))
        .collect();
    tag_bucket(&admin, "big-eu", &many).await;
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(&dir);

    let plugin = load_plugin("s3", Limits::default()).unwrap();
    let report = sync_s3(admin.clone(), plugin, &estate).await;
    assert_complete(&report);
    assert!(bucket(&estate, "big-eu").is_some() && bucket(&estate, "small-eu").is_some());

    // The host now accepts resources of at most 4 KiB: it drops big-eu, which still exists.
    let tight = Limits {
        max_resource_bytes: 4 << 10,
        ..Limits::default()
    };
    let plugin = load_plugin("s3", tight).unwrap();
    let report = sync_s3(admin.clone(), plugin, &estate).await;
    let scope = &report.scopes[0];
    assert!(!scope.complete, "{scope:?}");
    assert_eq!(scope.removed, 0, "{scope:?}");
    assert!(
        scope
            .errors
            .iter()
            .any(|e| e.contains("incomplete listing of s3_bucket")),
        "{scope:?}"
    );
    let kept = bucket(&estate, "big-eu").expect("a dropped resource is not a deleted one");
    assert_eq!(kept.resource.tags.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_whose_region_cannot_be_read_is_never_deleted() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    create_bucket(&admin, "ledger-eu").await;
    create_bucket(&admin, "vault-eu").await;
    let reader = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:List*","s3:Get*"],"Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "reader", reader).await.unwrap();
    let reader = emulator.client(&key, &secret);
    let no_location = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:List*","s3:Get*"],"Resource":"*"},
        {"Effect":"Deny","Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::vault-eu"}]}"#;
    let (key, secret) = create_iam_user(&admin, "no-location", no_location)
        .await
        .unwrap();
    let no_location = emulator.client(&key, &secret);
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin("s3", Limits::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(&dir);

    let report = sync_s3(reader, plugin.clone(), &estate).await;
    assert_complete(&report);
    assert!(bucket(&estate, "vault-eu").is_some());

    // vault-eu's region cannot be read: it may be this region's, so it stays.
    let report = sync_s3(no_location, plugin, &estate).await;
    let scope = &report.scopes[0];
    assert!(!scope.complete, "{scope:?}");
    assert_eq!(scope.removed, 0, "{scope:?}");
    assert!(
        scope
            .errors
            .iter()
            .any(|e| e.contains("incomplete listing of s3_bucket")),
        "{scope:?}"
    );
    assert!(bucket(&estate, "vault-eu").is_some(), "not deleted");
    assert!(bucket(&estate, "ledger-eu").is_some());
}
