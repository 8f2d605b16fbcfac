//! A cloudops scanner: lists EC2 key pairs. Start here and make it scan your service.
//!
//! `describe` says what the plugin covers, `scan` lists resources and hands them to the
//! host, `analyze` judges what a resource's state allows. The host signs and sends every
//! request; `plugin.toml` says which ones it may send.

use cloudops_scanner_sdk::query::{paginate, QueryRequest};
use cloudops_scanner_sdk::xml::{self, ItemSet, TagSet};
use cloudops_scanner_sdk::{
    arn, name_from_tags, Constraints, Emitter, Error, PluginInfo, Resource, ResourceTypeInfo,
    ScanContext, ScanSummary, Scanner,
};
use serde::Deserialize;

/// The shape of a DescribeKeyPairs response; serde ignores the fields we do not name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeKeyPairs {
    #[serde(default)]
    key_set: ItemSet<KeyPair>,
}

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
            resource_types: vec![ResourceTypeInfo {
                name: "ec2_key_pair".into(),
                actions: vec!["ec2:DeleteKeyPair".into()],
            }],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        let mut out = Emitter::new();
        // DescribeKeyPairs does not page; `paginate` still works (no token, one page).
        let pages = paginate(
            |_token| QueryRequest::new("ec2", "DescribeKeyPairs", "2016-11-15"),
            |body| Ok((parse(body)?, None)),
        )
        .map_err(|e| format!("DescribeKeyPairs failed: {e}"))?;
        for key in pages.items {
            out.push(to_resource(&ctx, key));
        }
        Ok(ScanSummary {
            resources: out.finish(),
            warnings: pages.warnings,
        })
    }

    fn analyze(_r: Resource) -> Constraints {
        Constraints {
            can_stop: false,
            can_start: false,
            can_delete: true,
            has_backups: false,
            has_dependencies: false,
            notes: vec!["instances launched with this key keep working after it is deleted".into()],
        }
    }
}

fn parse(body: &[u8]) -> Result<Vec<KeyPair>, Error> {
    Ok(xml::from_slice::<DescribeKeyPairs>(body)?.key_set.items)
}

fn to_resource(ctx: &ScanContext, key: KeyPair) -> Resource {
    let tags = key.tag_set.into_tags();
    Resource {
        resource_type: "ec2_key_pair".into(),
        arn: arn(
            &ctx.partition,
            "ec2",
            &ctx.region,
            &ctx.account_id,
            &format!("key-pair/{}", key.key_pair_id),
        ),
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

    #[test]
    fn parses_a_describe_key_pairs_response() {
        let body = br#"<DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
            <keySet><item>
                <keyPairId>key-0123456789abcdef0</keyPairId><keyName>deploy</keyName>
                <keyType>ed25519</keyType><keyFingerprint>aa:bb</keyFingerprint>
                <tagSet><item><key>team</key><value>ops</value></item></tagSet>
            </item></keySet></DescribeKeyPairsResponse>"#;
        let keys = parse(body).unwrap();
        let ctx = ScanContext {
            account_id: "123456789012".into(),
            region: "us-west-2".into(),
            partition: "aws".into(),
            settings: Vec::new(),
        };
        let r = to_resource(&ctx, keys.into_iter().next().unwrap());
        assert_eq!(r.identifier, "key-0123456789abcdef0");
        assert_eq!(r.name, "deploy");
        assert_eq!(
            r.arn,
            "arn:aws:ec2:us-west-2:123456789012:key-pair/key-0123456789abcdef0"
        );
        assert_eq!(r.tags[0].key, "team");
    }
}
