//! S3 responses to values. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml::{self, document, Listing, TagList};
use cloudops_scanner_sdk::{present, Error, Page, Tag};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// One bucket of a ListBuckets page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bucket {
    pub name: String,
    pub creation_date: Option<String>,
    /// AWS names the region in ListBuckets since 2024, which saves a GetBucketLocation per
    /// bucket; emulators and older partitions leave it out.
    pub bucket_region: Option<String>,
}

/// A page of ListBuckets. Each `<Bucket>` is parsed on its own, so an odd one costs a
/// warning, not the listing; a document that is not a ListBuckets result is an error, so a
/// proxy's page never reads as an account without buckets.
pub fn buckets_page(body: &[u8]) -> Result<Page<Bucket>, Error> {
    let listing = Listing::new(
        "ListBuckets",
        "ListAllMyBucketsResult",
        &["Buckets", "Bucket"],
    )
    .of_type("s3_bucket");
    listing
        .token("ContinuationToken")
        .parse(body, |b: Bucket, _| {
            if b.name.trim().is_empty() {
                Err("a bucket without a name".into())
            } else {
                Ok(Some(b))
            }
        })
}

/// The region a GetBucketLocation answer names. S3 writes nothing for us-east-1 and the
/// legacy `EU` for the first European region.
///
/// Only a whole document may say "nothing": one cut short is an error, never us-east-1,
/// which would move the bucket to another region's records.
pub fn location(body: &[u8]) -> Result<String, Error> {
    const ROOT: &str = "LocationConstraint";
    let doc = document(body, &[ROOT])?;
    // `fragments` fails on a document that ends inside an element; `text_at` cannot tell
    // an unreadable element from an empty one.
    xml::fragments(doc, &[ROOT])?;
    let constraint = xml::text_at(doc, &[ROOT])
        .ok_or_else(|| Error::parse(ROOT, "the element cannot be read"))?;
    Ok(match constraint.as_str() {
        "" => "us-east-1".to_owned(),
        "EU" => "eu-west-1".to_owned(),
        region => region.to_owned(),
    })
}

/// The region a bucket lives in according to `BucketRegion` or a location constraint,
/// normalised the same way.
pub fn normalize_region(region: &str) -> String {
    match region.trim() {
        "" => "us-east-1".to_owned(),
        "EU" => "eu-west-1".to_owned(),
        r => r.to_owned(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tagging {
    #[serde(default)]
    tag_set: TagList,
}

/// GetBucketTagging's tags, in S3's order.
pub fn tags(body: &[u8]) -> Result<Vec<Tag>, Error> {
    let tagging: Tagging = parse(body, &["Tagging"])?;
    Ok(tagging.tag_set.into_tags())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Versioning {
    status: Option<String>,
    mfa_delete: Option<String>,
}

/// Versioning as metadata: `Enabled`, `Suspended`, or `Disabled` for a bucket where it was
/// never turned on (S3 then sends an empty document), plus the MFA-delete status if set.
pub fn versioning(body: &[u8]) -> Result<(String, Option<String>), Error> {
    // moto names the root `GetBucketVersioningResponse`; S3 says `VersioningConfiguration`.
    let v: Versioning = parse(
        body,
        &["VersioningConfiguration", "GetBucketVersioningResponse"],
    )?;
    let status = present(v.status).unwrap_or_else(|| "Disabled".to_owned());
    Ok((status, present(v.mfa_delete)))
}

#[derive(Deserialize)]
struct Encryption {
    #[serde(default, rename = "Rule")]
    rules: Vec<EncryptionRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionRule {
    apply_server_side_encryption_by_default: Option<EncryptionDefault>,
    bucket_key_enabled: Option<String>,
}

#[derive(Deserialize)]
struct EncryptionDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: Option<String>,
    #[serde(rename = "KMSMasterKeyID")]
    kms_key: Option<String>,
}

/// Default encryption as metadata (`algorithm`, `kms_key_id`, `bucket_key_enabled`), and
/// the KMS key if one is named. S3 allows a single rule; the first one with a default wins.
pub fn encryption(body: &[u8]) -> Result<(Value, Option<String>), Error> {
    let enc: Encryption = parse(body, &["ServerSideEncryptionConfiguration"])?;
    let Some((default, bucket_key)) = enc.rules.into_iter().find_map(|r| {
        r.apply_server_side_encryption_by_default
            .map(|d| (d, r.bucket_key_enabled))
    }) else {
        return Ok((Value::Null, None));
    };
    let kms_key = present(default.kms_key);
    let mut meta = serde_json::Map::new();
    if let Some(a) = present(default.algorithm) {
        meta.insert("algorithm".into(), Value::String(a));
    }
    if let Some(k) = &kms_key {
        meta.insert("kms_key_id".into(), Value::String(k.clone()));
    }
    if let Some(b) = present(bucket_key).and_then(|b| boolean(&b)) {
        meta.insert("bucket_key_enabled".into(), Value::Bool(b));
    }
    Ok((Value::Object(meta), kms_key))
}

#[derive(Deserialize)]
struct Lifecycle {
    #[serde(default, rename = "Rule")]
    rules: Vec<LifecycleRule>,
}

#[derive(Deserialize)]
struct LifecycleRule {
    #[serde(rename = "ID")]
    id: Option<String>,
}

/// The ids of the lifecycle rules, in S3's order (a rule without an id counts, unnamed).
pub fn lifecycle(body: &[u8]) -> Result<(usize, Vec<String>), Error> {
    let l: Lifecycle = parse(body, &["LifecycleConfiguration"])?;
    let count = l.rules.len();
    Ok((
        count,
        l.rules.into_iter().filter_map(|r| present(r.id)).collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicAccessBlock {
    block_public_acls: Option<String>,
    ignore_public_acls: Option<String>,
    block_public_policy: Option<String>,
    restrict_public_buckets: Option<String>,
}

/// The four public access block flags; a flag S3 leaves out is off. A flag that is neither
/// `true` nor `false` is an error: reading it as off would report a protected bucket as
/// exposed (or the reverse).
pub fn public_access_block(body: &[u8]) -> Result<Value, Error> {
    let p: PublicAccessBlock = parse(body, &["PublicAccessBlockConfiguration"])?;
    let flag = |name: &str, v: Option<String>| match present(v) {
        None => Ok(false),
        Some(v) => boolean(&v).ok_or_else(|| {
            Error::parse("PublicAccessBlockConfiguration", format!("{name} is {v:?}"))
        }),
    };
    Ok(json!({
        "block_public_acls": flag("BlockPublicAcls", p.block_public_acls)?,
        "ignore_public_acls": flag("IgnorePublicAcls", p.ignore_public_acls)?,
        "block_public_policy": flag("BlockPublicPolicy", p.block_public_policy)?,
        "restrict_public_buckets": flag("RestrictPublicBuckets", p.restrict_public_buckets)?,
    }))
}

fn parse<T: DeserializeOwned>(body: &[u8], roots: &[&str]) -> Result<T, Error> {
    xml::from_str(document(body, roots)?)
}

fn boolean(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::fixture;

    #[test]
    fn buckets_are_listed_with_dates_and_no_token_from_the_emulator() {
        let page = buckets_page(&fixture("moto_list_buckets.xml")).unwrap();
        assert!(page.warnings.is_empty());
        assert_eq!(page.next_token, None);
        let names: Vec<_> = page.items.iter().map(|b| &b.name[..]).collect();
        assert_eq!(names, ["logs-east", "data-eu"]);
        assert_eq!(
            page.items[0].creation_date.as_deref(),
            Some("2026-11-27T17:05:37.000Z")
        );
        assert_eq!(page.items[0].bucket_region, None);
    }

    #[test]
    fn aws_pages_carry_a_token_and_the_region_and_odd_buckets_are_skipped() {
        let page = buckets_page(&fixture("list_buckets_page1.xml")).unwrap();
        assert_eq!(page.next_token.as_deref(), Some("Y29udGludWU="));
        assert_eq!(
            page.items,
            [Bucket {
                name: "amzn-s3-demo-bucket1".into(),
                creation_date: Some("2024-02-05T18:01:39.000Z".into()),
                bucket_region: Some("us-west-2".into()),
            }]
        );
        assert_eq!(page.warnings.len(), 2, "{:?}", page.warnings);
        assert_eq!(
            page.warnings[0],
            "ListBuckets: skipped an item: a bucket without a name"
        );
        assert!(page.warnings[1].starts_with("ListBuckets: skipped an item: cannot parse Bucket"));
    }

    #[test]
    fn locations_are_normalised() {
        assert_eq!(
            location(&fixture("moto_location_logs-east.xml")).unwrap(),
            "us-east-1"
        );
        assert_eq!(
            location(&fixture("moto_location_data-eu.xml")).unwrap(),
            "eu-west-1"
        );
        assert_eq!(
            location(b"<LocationConstraint>EU</LocationConstraint>").unwrap(),
            "eu-west-1"
        );
        assert_eq!(normalize_region(" "), "us-east-1");
        assert_eq!(normalize_region("ap-south-1"), "ap-south-1");
        assert!(location(b"<html><body>oops</body></html>").is_err());
    }

    #[test]
    fn a_cut_short_location_is_an_error_not_us_east_1() {
        let whole = br#"<?xml version="1.0" encoding="UTF-8"?>
<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>"#;
        assert_eq!(location(whole).unwrap(), "eu-west-1");
        for cut in 0..whole.len() {
            let read = location(&whole[..cut]);
            assert!(read.is_err(), "cut at {cut}: {read:?}");
        }
        let text = whole.len() - "eu-west-1</LocationConstraint>".len();
        let err = location(&whole[..text]).unwrap_err().to_string();
        assert!(err.contains("ends inside <LocationConstraint>"), "{err}");
        assert_eq!(
            location(br#"<LocationConstraint xmlns="x"/>"#).unwrap(),
            "us-east-1"
        );
    }

    #[test]
    fn an_unreadable_public_access_flag_is_an_error_not_off() {
        let body = b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>\
            </PublicAccessBlockConfiguration>";
        let err = public_access_block(body).unwrap_err().to_string();
        assert!(err.contains(r#"BlockPublicAcls is "yes""#), "{err}");
    }

    #[test]
    fn bucket_settings_read_from_the_emulator() {
        let tags = tags(&fixture("moto_tagging_data-eu.xml")).unwrap();
        let pairs: Vec<_> = tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
        assert_eq!(pairs, [("env", "prod"), ("team", "data & ml")]);

        assert_eq!(
            versioning(&fixture("moto_versioning_data-eu.xml")).unwrap(),
            ("Enabled".to_owned(), None)
        );
        assert_eq!(
            versioning(&fixture("moto_versioning_logs-east.xml")).unwrap(),
            ("Disabled".to_owned(), None)
        );
        assert_eq!(
            versioning(b"<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>").unwrap(),
            ("Suspended".to_owned(), Some("Disabled".to_owned()))
        );

        let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            encryption(&fixture("moto_encryption_data-eu.xml")).unwrap(),
            (
                json!({"algorithm": "aws:kms", "kms_key_id": key, "bucket_key_enabled": true}),
                Some(key.to_owned())
            )
        );
        assert_eq!(
            lifecycle(&fixture("moto_lifecycle_data-eu.xml")).unwrap(),
            (2, vec!["expire-tmp".to_owned(), "archive".to_owned()])
        );
        assert_eq!(
            public_access_block(&fixture("moto_public_access_block_data-eu.xml")).unwrap(),
            json!({
                "block_public_acls": true,
                "ignore_public_acls": true,
                "block_public_policy": false,
                "restrict_public_buckets": true,
            })
        );
    }

    #[test]
    fn sparse_documents_read_as_defaults() {
        assert!(tags(b"<Tagging><TagSet/></Tagging>").unwrap().is_empty());
        assert_eq!(
            encryption(b"<ServerSideEncryptionConfiguration><Rule><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>").unwrap(),
            (Value::Null, None)
        );
        assert_eq!(
            encryption(b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>").unwrap(),
            (json!({"algorithm": "AES256"}), None)
        );
        assert_eq!(
            lifecycle(b"<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule></LifecycleConfiguration>").unwrap(),
            (1, vec![])
        );
        assert_eq!(
            public_access_block(b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>").unwrap()["ignore_public_acls"],
            false
        );
    }

    #[test]
    fn other_documents_are_errors() {
        let err = tags(&fixture("moto_lifecycle_data-eu.xml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse Tagging: the response is a <LifecycleConfiguration> document"
        );
        assert!(buckets_page(b"").is_err());
        assert!(buckets_page(b"\xff\xfe").is_err());
        let cut = &fixture("moto_list_buckets.xml")[..200];
        assert!(buckets_page(cut).is_err());
        assert!(versioning(b"<html/>").is_err());
    }
}
