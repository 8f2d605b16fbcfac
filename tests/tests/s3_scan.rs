//! The S3 plugin against the real emulator: each bucket is reported by its own region's
//! scan, with its tags and settings, and a denied setting is a gap, not a failure.

use cloudops_demo::{self as demo, create_iam_user};
use cloudops_host::aws::AwsClient;
use cloudops_host::plugin::{Limits, PluginError};
use cloudops_host::resource::Resource;
use cloudops_tests::{load_plugin, s3_call, scan, start_emulator};
use serde_json::json;

const KMS_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// CreateBucket: us-east-1 takes no location constraint, every other region needs one.
async fn create_bucket(client: &AwsClient, region: &str, name: &str) {
    let body = if region == "us-east-1" {
        String::new()
    } else {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        )
    };
    s3_call(client, region, "PUT", &format!("/{name}"), None, &body).await;
}

/// Sets one bucket sub-resource (`tagging`, `versioning`, ...). AWS also wants a
/// Content-MD5 on tagging and lifecycle; moto does not check it.
async fn put(client: &AwsClient, region: &str, bucket: &str, sub: &str, body: &str) {
    s3_call(
        client,
        region,
        "PUT",
        &format!("/{bucket}"),
        Some(sub),
        body,
    )
    .await;
}

/// A bucket in eu-west-1 with every setting the scanner reads.
async fn seed_configured_bucket(client: &AwsClient, name: &str) {
    let r = "eu-west-1";
    create_bucket(client, r, name).await;
    put(client, r, name, "tagging", "<Tagging><TagSet><Tag><Key>env</Key><Value>production</Value></Tag><Tag><Key>team</Key><Value>data</Value></Tag></TagSet></Tagging>").await;
    put(
        client,
        r,
        name,
        "versioning",
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await;
    put(client, r, name, "encryption", &format!("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{KMS_KEY}</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>")).await;
    put(client, r, name, "lifecycle", "<LifecycleConfiguration><Rule><ID>expire-tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule><Rule><ID>to-glacier</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>").await;
    put(client, r, name, "publicAccessBlock", "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>").await;
}

fn identifiers(resources: &[Resource]) -> Vec<String> {
    let mut ids: Vec<String> = resources.iter().map(|r| r.identifier.clone()).collect();
    ids.sort();
    ids
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources
        .iter()
        .find(|r| r.identifier == id)
        .unwrap_or_else(|| panic!("{id} not scanned: {resources:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bucket_is_reported_by_its_own_region_with_its_settings() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    seed_configured_bucket(&admin, "data-eu").await;
    create_bucket(&admin, "eu-west-1", "scratch-eu").await;
    put(
        &admin,
        "eu-west-1",
        "scratch-eu",
        "versioning",
        "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
    )
    .await;
    create_bucket(&admin, "us-east-1", "logs-east").await;
    create_bucket(&admin, "us-west-2", "web-west").await;
    let plugin = load_plugin("s3", Limits::default()).unwrap();

    let (eu, result) = scan(&plugin, &admin, "eu-west-1", &[]).await;
    let report = result.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.resources as usize, eu.len());
    assert_eq!(identifiers(&eu), ["data-eu", "scratch-eu"]);
    // ListBuckets, four GetBucketLocation, five settings for each of the two buckets, and
    // the host's own ListBuckets (which buckets the account owns), charged to the plugin.
    assert_eq!(report.requests, 1 + 4 + 2 * 5 + 1);

    let data = find(&eu, "data-eu");
    assert_eq!(data.resource_type, "s3_bucket");
    assert_eq!(data.arn, "arn:aws:s3:::data-eu");
    assert_eq!(data.name, "data-eu");
    assert_eq!(data.region, "eu-west-1");
    assert_eq!(data.account_id, demo::DEMO_ACCOUNT);
    assert_eq!(data.state, None);
    assert_eq!(data.tag("env"), Some("production"));
    assert_eq!(data.tag("team"), Some("data"));
    assert_eq!(data.tags.len(), 2);
    assert_eq!(data.relations.len(), 1);
    assert_eq!(data.relations[0].kind, "kms_key");
    assert_eq!(data.relations[0].target_arn, KMS_KEY);
    let mut meta = data.metadata.clone();
    assert!(meta.remove("creation_date").unwrap().is_string());
    assert_eq!(
        serde_json::Value::Object(meta),
        json!({
            "versioning": "Enabled",
            // moto answers BucketKeyEnabled=false where none was set.
            "encryption": {"algorithm": "aws:kms", "kms_key_id": KMS_KEY, "bucket_key_enabled": false},
            "lifecycle_rules": 2,
            "lifecycle_rule_ids": ["expire-tmp", "to-glacier"],
            "public_access_block": {
                "block_public_acls": true,
                "ignore_public_acls": true,
                "block_public_policy": true,
                "restrict_public_buckets": false,
            },
        })
    );
    let c = plugin.analyze(data).unwrap();
    assert!(c.can_delete && c.has_backups && !c.can_stop && !c.can_start);
    assert!(
        c.notes.iter().any(|n| n.contains("must be empty")),
        "{:?}",
        c.notes
    );

    let scratch = find(&eu, "scratch-eu");
    assert!(scratch.tags.is_empty() && scratch.relations.is_empty());
    assert_eq!(scratch.metadata["versioning"], "Suspended");
    assert_eq!(scratch.metadata["encryption"], json!(null));
    assert_eq!(scratch.metadata["lifecycle_rules"], 0);
    assert_eq!(scratch.metadata["public_access_block"], json!(null));
    assert!(!plugin.analyze(scratch).unwrap().has_backups);

    let (east, result) = scan(&plugin, &admin, "us-east-1", &[]).await;
    result.unwrap();
    assert_eq!(
        identifiers(&east),
        ["logs-east"],
        "an empty location is us-east-1"
    );
    assert_eq!(east[0].region, "us-east-1");
    assert_eq!(east[0].metadata["versioning"], "Disabled");

    let (west, result) = scan(&plugin, &admin, "us-west-2", &[]).await;
    result.unwrap();
    assert_eq!(identifiers(&west), ["web-west"]);

    let (none, result) = scan(&plugin, &admin, "ap-south-1", &[]).await;
    result.unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_setting_is_a_gap_and_the_bucket_is_still_reported() {
    let emulator = start_emulator().await;
    let admin = emulator.demo_client();
    seed_configured_bucket(&admin, "data-eu").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:List*","s3:Get*"],"Resource":"*"},
        {"Effect":"Deny","Action":"s3:GetLifecycleConfiguration","Resource":"*"}]}"#;
    let (key, secret) = create_iam_user(&admin, "s3-scanner", policy).await.unwrap();
    emulator.enable_auth().await.unwrap();
    let plugin = load_plugin("s3", Limits::default()).unwrap();

    let (resources, result) = scan(
        &plugin,
        &emulator.client(&key, "not-the-secret"),
        "eu-west-1",
        &[],
    )
    .await;
    let err = result.expect_err("a wrong secret must not scan");
    assert!(resources.is_empty());
    let text = err.to_string();
    assert!(matches!(err, PluginError::ScanFailed { .. }), "{text}");
    assert!(text.contains("ListBuckets failed"), "{text}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");

    let (resources, result) =
        scan(&plugin, &emulator.client(&key, &secret), "eu-west-1", &[]).await;
    let report = result.unwrap();
    assert_eq!(identifiers(&resources), ["data-eu"]);
    let data = &resources[0];
    assert_eq!(
        data.metadata["_unread"],
        json!(["lifecycle_rules", "lifecycle_rule_ids"])
    );
    assert!(
        data.metadata.get("lifecycle_rules").is_none(),
        "{:?}",
        data.metadata
    );
    assert_eq!(data.metadata["versioning"], "Enabled");
    assert_eq!(data.tag("env"), Some("production"));
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0]
            .starts_with("bucket data-eu: GetBucketLifecycleConfiguration failed: AccessDenied"),
        "{}",
        report.warnings[0]
    );
    let c = plugin.analyze(data).unwrap();
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("could not read this bucket's lifecycle")));
}
