//! A cloudops scanner: lists EC2 key pairs. Start here and make it scan your service.
//!
//! `describe` says what the plugin covers, `scan` lists resources and hands them to the
//! host, `analyze` judges what a resource's state allows. The host signs and sends every
//! request; `plugin.toml` says which ones it may send.

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::xml::{Listing, TagSet};
use cloudops_scanner_sdk::{
    constraints, name_from_tags, resource_type, run_scan, Constraints, Emitter, Error, Page,
    PluginInfo, Resource, ScanContext, ScanSummary, Scanner, Scope,
};
use serde::Deserialize;

/// One key pair of a DescribeKeyPairs response; serde ignores the fields we do not name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyPair {
    key_pair_id: String,
    key_name: String,
    #[serde(default)]
    key_type: Option<String>,
    #[serde(default)]
    key_fingerprint: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

struct Template;

impl Scanner for Template {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "template".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["ec2".into()],
            resource_types: vec![resource_type("ec2_key_pair", &["ec2:DeleteKeyPair"])],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        run_scan(&ctx, QueryRequest::send, scan_with)
    }

    fn analyze(_r: Resource) -> Constraints {
        let mut c = constraints::none();
        c.can_delete = true;
        c.notes
            .push("instances launched with this key keep working after it is deleted".into());
        c
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses. Resources go
/// to `out` as they are found; a failed call fails the scan with a message naming it.
fn scan_with(
    ctx: &ScanContext,
    send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    // DescribeKeyPairs does not page; `query::list` still works (no token, one page).
    let request = |_token: Option<&str>| QueryRequest::new("ec2", "DescribeKeyPairs", "2016-11-15");
    query::list(send, request, |body| parse(ctx, body), out, warnings)
}

/// A DescribeKeyPairs page, key by key: an odd key costs a warning, not the scan, and makes
/// `ec2_key_pair` incomplete, so the host deletes no key pair it merely could not read.
fn parse(ctx: &ScanContext, body: &[u8]) -> Result<Page<Resource>, Error> {
    Listing::item_set("DescribeKeyPairs", &["keySet", "item"])
        .of_type("ec2_key_pair")
        .parse(body, |key: KeyPair, _warnings| {
            Ok(Some(to_resource(ctx, key)))
        })
}

fn to_resource(ctx: &ScanContext, key: KeyPair) -> Resource {
    let tags = key.tag_set.into_tags();
    Resource {
        resource_type: "ec2_key_pair".into(),
        arn: Scope::of(ctx).ec2("key-pair", &key.key_pair_id),
        name: name_from_tags(&tags, &key.key_name),
        identifier: key.key_pair_id,
        region: ctx.region.clone(),
        state: None,
        tags,
        relations: Vec::new(),
        metadata: serde_json::json!({
            "key_name": key.key_name,
            "key_type": key.key_type,
            "fingerprint": key.key_fingerprint,
        })
        .to_string(),
    }
}

cloudops_scanner_sdk::export!(Template);

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{self, context};

    const RESPONSE: &[u8] =
        br#"<DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
        <keySet>
            <item>
                <keyPairId>key-0123456789abcdef0</keyPairId><keyName>deploy</keyName>
                <keyType>ed25519</keyType><keyFingerprint>aa:bb</keyFingerprint>
                <tagSet><item><key>team</key><value>ops</value></item></tagSet>
            </item>
            <item><keyName>no-id</keyName></item>
        </keySet></DescribeKeyPairsResponse>"#;

    #[test]
    fn a_scan_reports_each_key_pair_and_warns_about_odd_ones() {
        let mut sent = Vec::new();
        let (result, found) = testing::run(
            &context("us-west-2", &[]),
            |req: &QueryRequest| {
                sent.push(req.body());
                Ok(RESPONSE.to_vec())
            },
            scan_with,
        );
        assert_eq!(sent, ["Action=DescribeKeyPairs&Version=2016-11-15"]);
        let summary = result.unwrap();
        assert_eq!(summary.warnings.len(), 1);
        assert!(summary.warnings[0]
            .starts_with("DescribeKeyPairs: skipped an item: cannot parse KeyPair"));
        assert_eq!(
            summary.incomplete_types,
            ["ec2_key_pair"],
            "the odd key still exists"
        );
        let [r] = &found[..] else {
            panic!("expected one key pair, got {found:?}");
        };
        assert_eq!(r.identifier, "key-0123456789abcdef0");
        assert_eq!(r.name, "deploy");
        assert_eq!(
            r.arn,
            "arn:aws:ec2:us-west-2:123456789012:key-pair/key-0123456789abcdef0"
        );
        assert_eq!(r.tags[0].key, "team");
    }

    #[test]
    fn a_failed_call_fails_the_scan() {
        let (result, found) = testing::run(
            &context("us-west-2", &[]),
            |_: &QueryRequest| Err(Error::Refused("request budget spent".into())),
            scan_with,
        );
        assert_eq!(
            result.unwrap_err(),
            "DescribeKeyPairs failed: request budget spent"
        );
        assert!(found.is_empty());
    }
}
