//! The first-party S3 scanner: the account's buckets that live in the scanned region, with
//! their tags, versioning, default encryption, lifecycle rules and public access block.
//!
//! ListBuckets is global, so every region's scan lists every bucket and keeps those whose
//! region is its own: each bucket is reported exactly once, by the scan of its region, and
//! its settings are read from that region's endpoint.

mod analyze;
mod parse;

use cloudops_scanner_sdk::rest::{self, RestRequest};
use cloudops_scanner_sdk::{
    arn, present, relation, resource_type, run_scan, Constraints, Emitter, Error, PluginInfo,
    Resource, ScanContext, ScanSummary, Scanner, UNREAD,
};
use serde_json::{Map, Value};

use parse::Bucket;

struct S3;

impl Scanner for S3 {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "s3".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["s3".into()],
            resource_types: vec![resource_type(
                "s3_bucket",
                &[
                    "s3:DeleteBucket",
                    "s3:PutBucketVersioning",
                    "s3:PutLifecycleConfiguration",
                    "s3:PutBucketPublicAccessBlock",
                ],
            )],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        run_scan(&ctx, RestRequest::send, scan_with)
    }

    fn analyze(r: Resource) -> Constraints {
        analyze::constraints(&r)
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses; problems that
/// do not stop it go to `warnings`. A failed ListBuckets fails the scan. A bucket whose
/// region cannot be read makes `s3_bucket` incomplete: it may belong to this region, and a
/// complete scan would let the host forget it.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let mut buckets = Vec::new();
    rest::list(
        "ListBuckets",
        &mut send,
        list_request,
        parse::buckets_page,
        &mut buckets,
        warnings,
    )?;

    for bucket in buckets {
        let region = match &bucket.bucket_region {
            Some(r) if !r.trim().is_empty() => parse::normalize_region(r),
            _ => match send(&location_request(&bucket.name)).and_then(|b| parse::location(&b)) {
                Ok(r) => r,
                Err(e) => {
                    out.incomplete(
                        "s3_bucket",
                        format!(
                            "bucket {}: GetBucketLocation failed, so its region is unknown: {e}",
                            bucket.name
                        ),
                    );
                    continue;
                }
            },
        };
        if region != ctx.region {
            continue;
        }
        out.push(bucket_resource(ctx, bucket, region, &mut send, warnings));
    }
    Ok(())
}

/// ListBuckets without `max-buckets`: AWS then returns every bucket of an account under the
/// default quota in one page, and moto truncates at `max-buckets` without handing back a
/// token, which would silently hide buckets.
fn list_request(token: Option<&str>) -> RestRequest {
    RestRequest::get("s3", "/").query_opt("continuation-token", token)
}

fn location_request(bucket: &str) -> RestRequest {
    sub_request(bucket, "location")
}

/// `GET /{bucket}?{sub}`: path-style, so the host's one endpoint per region serves all
/// buckets, including names with dots that virtual-hosted TLS cannot.
fn sub_request(bucket: &str, sub: &str) -> RestRequest {
    RestRequest::get("s3", format!("/{bucket}")).query(sub, "")
}

/// A bucket setting read with one sub-resource call.
struct Setting {
    /// The parts of the resource it gives (see [`UNREAD`]): kept as last read when it fails.
    parts: &'static [&'static str],
    /// The query sub-resource.
    sub: &'static str,
    /// The API operation, for warnings and IAM.
    operation: &'static str,
    /// The error code S3 answers when the bucket simply has no such setting.
    absent: Option<&'static str>,
}

const TAGGING: Setting = Setting {
    parts: &["tags"],
    sub: "tagging",
    operation: "GetBucketTagging",
    absent: Some("NoSuchTagSet"),
};
const VERSIONING: Setting = Setting {
    parts: &["versioning", "mfa_delete"],
    sub: "versioning",
    operation: "GetBucketVersioning",
    absent: None,
};
const ENCRYPTION: Setting = Setting {
    // The KMS key relation comes from the encryption setting, and is S3's only relation.
    parts: &["encryption", "relations"],
    sub: "encryption",
    operation: "GetBucketEncryption",
    absent: Some("ServerSideEncryptionConfigurationNotFoundError"),
};
const LIFECYCLE: Setting = Setting {
    parts: &["lifecycle_rules", "lifecycle_rule_ids"],
    sub: "lifecycle",
    operation: "GetBucketLifecycleConfiguration",
    absent: Some("NoSuchLifecycleConfiguration"),
};
const PUBLIC_ACCESS_BLOCK: Setting = Setting {
    parts: &["public_access_block"],
    sub: "publicAccessBlock",
    operation: "GetPublicAccessBlock",
    absent: Some("NoSuchPublicAccessBlockConfiguration"),
};

/// What reading one setting gave.
enum Read<T> {
    Value(T),
    /// The bucket has no such setting.
    Absent,
    /// Denied, failed or not understood: its parts are named in [`UNREAD`], with a warning.
    Unreadable,
}

/// Reads one bucket's settings and keeps track of the ones it could not read.
struct Reader<'a, S> {
    bucket: &'a str,
    send: &'a mut S,
    warnings: &'a mut Vec<String>,
    unread: Vec<&'static str>,
}

impl<S: FnMut(&RestRequest) -> Result<Vec<u8>, Error>> Reader<'_, S> {
    fn read<T>(
        &mut self,
        setting: &Setting,
        parse: impl FnOnce(&[u8]) -> Result<T, Error>,
    ) -> Read<T> {
        let result = (self.send)(&sub_request(self.bucket, setting.sub));
        let failure = match result {
            Ok(body) => match parse(&body) {
                Ok(value) => return Read::Value(value),
                Err(e) => format!("{} answered something unreadable: {e}", setting.operation),
            },
            Err(e) if setting.absent.is_some() && e.aws_code() == setting.absent => {
                return Read::Absent
            }
            Err(e) => format!("{} failed: {e}", setting.operation),
        };
        self.warnings
            .push(format!("bucket {}: {failure}", self.bucket));
        self.unread.extend(setting.parts);
        Read::Unreadable
    }
}

/// Reads the bucket's settings one by one. A setting that cannot be read is left out of the
/// metadata (never reported as "none") and its parts named in [`UNREAD`], so the host keeps
/// their last known values; the bucket is emitted anyway, since it exists whatever its
/// settings are.
fn bucket_resource(
    ctx: &ScanContext,
    bucket: Bucket,
    region: String,
    send: &mut impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    warnings: &mut Vec<String>,
) -> Resource {
    let name = bucket.name;
    let mut reader = Reader {
        bucket: &name,
        send,
        warnings,
        unread: Vec::new(),
    };
    let mut meta = Map::new();
    if let Some(date) = present(bucket.creation_date) {
        meta.insert("creation_date".into(), Value::String(date));
    }
    let tags = match reader.read(&TAGGING, parse::tags) {
        Read::Value(tags) => tags,
        Read::Absent | Read::Unreadable => Vec::new(),
    };
    match reader.read(&VERSIONING, parse::versioning) {
        Read::Value((status, mfa_delete)) => {
            meta.insert("versioning".into(), Value::String(status));
            if let Some(m) = mfa_delete {
                meta.insert("mfa_delete".into(), Value::String(m));
            }
        }
        // S3 has no "no versioning" error: it answers an empty document, read above.
        Read::Absent | Read::Unreadable => {}
    }
    let mut relations = Vec::new();
    match reader.read(&ENCRYPTION, parse::encryption) {
        Read::Value((value, key)) => {
            meta.insert("encryption".into(), value);
            if let Some(key) = key {
                relations.push(relation("kms_key", kms_key_arn(ctx, &region, &key)));
            }
        }
        Read::Absent => {
            meta.insert("encryption".into(), Value::Null);
        }
        Read::Unreadable => {}
    }
    let lifecycle = match reader.read(&LIFECYCLE, parse::lifecycle) {
        Read::Value(rules) => Some(rules),
        Read::Absent => Some((0, Vec::new())),
        Read::Unreadable => None,
    };
    if let Some((count, ids)) = lifecycle {
        meta.insert("lifecycle_rules".into(), Value::from(count));
        meta.insert("lifecycle_rule_ids".into(), Value::from(ids));
    }
    match reader.read(&PUBLIC_ACCESS_BLOCK, parse::public_access_block) {
        Read::Value(value) => {
            meta.insert("public_access_block".into(), value);
        }
        Read::Absent => {
            meta.insert("public_access_block".into(), Value::Null);
        }
        Read::Unreadable => {}
    }
    if !reader.unread.is_empty() {
        meta.insert(UNREAD.into(), Value::from(reader.unread));
    }

    Resource {
        resource_type: "s3_bucket".into(),
        arn: arn(&ctx.partition, "s3", "", "", &name),
        name: name.clone(),
        region,
        state: None,
        tags,
        relations,
        metadata: Value::Object(meta).to_string(),
        identifier: name,
    }
}

/// S3 may name the default key by ARN, key id or alias; the relation needs an ARN.
fn kms_key_arn(ctx: &ScanContext, region: &str, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        arn(&ctx.partition, "kms", region, &ctx.account_id, key)
    } else {
        arn(
            &ctx.partition,
            "kms",
            region,
            &ctx.account_id,
            &format!("key/{key}"),
        )
    }
}

cloudops_scanner_sdk::export!(S3);

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{self, context, fixture};
    use serde_json::json;

    fn ctx(region: &str) -> ScanContext {
        context(region, &[])
    }

    /// The one sub-resource a request asks for (`location`, `tagging`, ...).
    fn sub(req: &RestRequest) -> &str {
        match req.query_params() {
            [(k, v)] if v.is_empty() => k,
            other => panic!("unexpected query {other:?}"),
        }
    }

    /// Answers like the moto emulator did when these fixtures were recorded: S3's "no such
    /// setting" answers are 404 error documents.
    fn moto(req: &RestRequest) -> Result<Vec<u8>, Error> {
        assert_eq!(req.service(), "s3");
        assert_eq!(req.method(), "GET");
        if req.path() == "/" {
            assert!(req.query_params().is_empty(), "no max-buckets: {req:?}");
            return Ok(fixture("moto_list_buckets.xml"));
        }
        let bucket = req.path().trim_start_matches('/');
        let name = match sub(req) {
            "publicAccessBlock" => "public_access_block",
            s => s,
        };
        let body = fixture(&format!("moto_{name}_{bucket}.xml"));
        if body.starts_with(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error>") {
            Err(Error::from_response(404, &body))
        } else {
            Ok(body)
        }
    }

    fn run(
        region: &str,
        send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    ) -> (Result<Vec<String>, String>, Vec<Resource>) {
        testing::scan(&ctx(region), send, scan_with)
    }

    fn meta(r: &Resource) -> Value {
        serde_json::from_str(&r.metadata).unwrap()
    }

    #[test]
    fn describe_names_the_type_and_its_actions() {
        let info = S3::describe();
        assert_eq!(info.name, "s3");
        assert_eq!(info.services, ["s3"]);
        assert_eq!(info.resource_types.len(), 1);
        assert_eq!(info.resource_types[0].name, "s3_bucket");
        assert_eq!(
            info.resource_types[0].actions,
            [
                "s3:DeleteBucket",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketPublicAccessBlock"
            ]
        );
    }

    #[test]
    fn the_manifest_agrees_with_describe() {
        let manifest = include_str!("../plugin.toml");
        let info = S3::describe();
        assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
        assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
        assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
        assert!(manifest.contains("services = [\"s3\"]"));
        assert!(
            manifest.contains("\"s3:GetBucketEncryption\""),
            "the one sensitive read it needs"
        );
    }

    #[test]
    fn a_region_reports_only_its_own_buckets_with_every_setting() {
        let (result, found) = run("eu-west-1", moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let [b] = &found[..] else {
            panic!("expected data-eu only, got {found:?}");
        };
        assert_eq!(b.resource_type, "s3_bucket");
        assert_eq!(b.identifier, "data-eu");
        assert_eq!(b.name, "data-eu");
        assert_eq!(b.arn, "arn:aws:s3:::data-eu");
        assert_eq!(b.region, "eu-west-1");
        assert_eq!(b.state, None);
        let tags: Vec<_> = b.tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
        assert_eq!(tags, [("env", "prod"), ("team", "data & ml")]);
        let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(b.relations.len(), 1);
        assert_eq!(b.relations[0].kind, "kms_key");
        assert_eq!(b.relations[0].target_arn, key);
        assert_eq!(
            meta(b),
            json!({
                "creation_date": "2026-11-27T17:05:38.000Z",
                "versioning": "Enabled",
                "encryption": {"algorithm": "aws:kms", "kms_key_id": key, "bucket_key_enabled": true},
                "lifecycle_rules": 2,
                "lifecycle_rule_ids": ["expire-tmp", "archive"],
                "public_access_block": {
                    "block_public_acls": true,
                    "ignore_public_acls": true,
                    "block_public_policy": false,
                    "restrict_public_buckets": true,
                },
            })
        );
    }

    #[test]
    fn absent_settings_read_as_none_not_as_gaps() {
        let (result, found) = run("us-east-1", moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        let [b] = &found[..] else {
            panic!("expected logs-east only, got {found:?}");
        };
        assert_eq!(b.identifier, "logs-east");
        assert_eq!(b.region, "us-east-1");
        assert!(b.tags.is_empty() && b.relations.is_empty());
        assert_eq!(
            meta(b),
            json!({
                "creation_date": "2026-11-27T17:05:37.000Z",
                "versioning": "Disabled",
                "encryption": null,
                "lifecycle_rules": 0,
                "lifecycle_rule_ids": [],
                "public_access_block": null,
            })
        );
    }

    #[test]
    fn a_region_without_buckets_reports_none_after_asking_only_for_locations() {
        let mut subs = Vec::new();
        let (result, found) = run("ap-south-1", |req| {
            if req.path() != "/" {
                subs.push(sub(req).to_owned());
            }
            moto(req)
        });
        assert_eq!(result.unwrap(), Vec::<String>::new());
        assert!(found.is_empty());
        assert_eq!(subs, ["location", "location"]);
    }

    #[test]
    fn denied_and_failing_settings_are_gaps_and_the_bucket_is_still_reported() {
        let (result, found) = run("eu-west-1", |req| match sub_of(req) {
            Some("lifecycle") => Err(Error::from_response(403, &fixture("access_denied.xml"))),
            Some("tagging") => Err(Error::Refused("request budget spent".into())),
            Some("versioning") => Ok(b"<html><body>Bad Gateway</body></html>".to_vec()),
            _ => moto(req),
        });
        let warnings = result.unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(
            warnings[0],
            "bucket data-eu: GetBucketTagging failed: request budget spent"
        );
        assert!(
            warnings[1].starts_with(
                "bucket data-eu: GetBucketVersioning answered something unreadable: cannot parse VersioningConfiguration"
            ),
            "{}",
            warnings[1]
        );
        assert!(
            warnings[2].starts_with("bucket data-eu: GetBucketLifecycleConfiguration failed: AccessDenied: User: arn:aws:iam::123456789012:user/scanner is not authorized"),
            "{}",
            warnings[2]
        );
        let [b] = &found[..] else {
            panic!("expected data-eu, got {found:?}");
        };
        assert!(b.tags.is_empty());
        let m = meta(b);
        assert_eq!(
            m["_unread"],
            json!([
                "tags",
                "versioning",
                "mfa_delete",
                "lifecycle_rules",
                "lifecycle_rule_ids"
            ])
        );
        for gap in ["versioning", "lifecycle_rules", "lifecycle_rule_ids"] {
            assert!(
                m.get(gap).is_none(),
                "{gap} must be left out, not guessed: {m}"
            );
        }
        assert_eq!(m["encryption"]["algorithm"], "aws:kms");
        assert_eq!(m["public_access_block"]["block_public_acls"], true);
    }

    fn sub_of(req: &RestRequest) -> Option<&str> {
        (req.path() != "/").then(|| sub(req))
    }

    #[test]
    fn a_failed_listing_fails_the_scan_and_names_the_call() {
        let (result, found) = run("eu-west-1", |_| {
            Err(Error::from_response(403, &fixture("access_denied.xml")))
        });
        let err = result.unwrap_err();
        assert!(
            err.starts_with("ListBuckets failed: AccessDenied: "),
            "{err}"
        );
        assert!(found.is_empty());
        let (result, _) = run("eu-west-1", |_| Ok(b"<html>oops</html>".to_vec()));
        assert_eq!(
            result.unwrap_err(),
            "ListBuckets failed: cannot parse ListAllMyBucketsResult: the response is a <html> document"
        );
    }

    #[test]
    fn an_unknown_region_makes_buckets_incomplete_after_reporting_the_rest() {
        let send = |req: &RestRequest| match (req.path(), sub_of(req)) {
            ("/logs-east", Some("location")) => {
                Err(Error::from_response(403, &fixture("access_denied.xml")))
            }
            _ => moto(req),
        };
        let (result, found) = testing::run(&ctx("eu-west-1"), send, scan_with);
        let summary = result.unwrap();
        assert_eq!(summary.incomplete_types, ["s3_bucket"]);
        assert!(
            summary.warnings[0].starts_with(
                "s3_bucket is incomplete, nothing of it will be removed: bucket logs-east: \
                 GetBucketLocation failed, so its region is unknown: AccessDenied"
            ),
            "{:?}",
            summary.warnings
        );
        let ids: Vec<_> = found.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["data-eu"], "the bucket whose region is known is kept");
    }

    #[test]
    fn a_cut_short_location_is_never_read_as_us_east_1() {
        let send = |req: &RestRequest| match (req.path(), sub_of(req)) {
            ("/data-eu", Some("location")) => Ok(br#"<?xml version="1.0" encoding="UTF-8"?>
<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-we"#
                .to_vec()),
            _ => moto(req),
        };
        let (result, found) = testing::run(&ctx("us-east-1"), send, scan_with);
        let summary = result.unwrap();
        assert_eq!(summary.incomplete_types, ["s3_bucket"]);
        let ids: Vec<_> = found.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["logs-east"], "data-eu must not move to us-east-1");
    }

    #[test]
    fn aws_paging_follows_the_token_and_trusts_the_listed_region() {
        let mut requests = Vec::new();
        let (result, found) = run("us-west-2", |req| {
            requests.push(format!("{} {:?}", req.path(), req.query_params()));
            match (req.path(), req.query_value("continuation-token")) {
                ("/", None) => Ok(fixture("list_buckets_page1.xml")),
                ("/", Some("Y29udGludWU=")) => Ok(fixture("list_buckets_page2.xml")),
                (_, _) => nothing_set(req),
            }
        });
        let warnings = result.unwrap();
        assert_eq!(warnings.len(), 2, "two odd list items: {warnings:?}");
        let ids: Vec<_> = found.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["amzn-s3-demo-bucket1", "amzn-s3-demo-bucket3"]);
        assert!(
            !requests.iter().any(|r| r.contains("location")),
            "BucketRegion saves GetBucketLocation: {requests:?}"
        );
        assert_eq!(requests[1], r#"/ [("continuation-token", "Y29udGludWU=")]"#);
    }

    /// S3's answers for a bucket with no settings at all.
    fn nothing_set(req: &RestRequest) -> Result<Vec<u8>, Error> {
        let code = match sub(req) {
            "versioning" => return Ok(b"<VersioningConfiguration/>".to_vec()),
            "tagging" => TAGGING.absent,
            "encryption" => ENCRYPTION.absent,
            "lifecycle" => LIFECYCLE.absent,
            "publicAccessBlock" => PUBLIC_ACCESS_BLOCK.absent,
            other => panic!("unexpected sub-resource {other}"),
        };
        let body = format!(
            "<Error><Code>{}</Code><Message>none</Message></Error>",
            code.unwrap()
        );
        Err(Error::from_response(404, body.as_bytes()))
    }

    #[test]
    fn kms_keys_become_arns() {
        let c = ctx("eu-west-1");
        assert_eq!(
            kms_key_arn(&c, "eu-west-1", "1234abcd"),
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"
        );
        assert_eq!(
            kms_key_arn(&c, "eu-west-1", "alias/data"),
            "arn:aws:kms:eu-west-1:123456789012:alias/data"
        );
        assert_eq!(
            kms_key_arn(&c, "eu-west-1", "arn:aws:kms:eu-west-1:1:key/x"),
            "arn:aws:kms:eu-west-1:1:key/x"
        );
    }
}
