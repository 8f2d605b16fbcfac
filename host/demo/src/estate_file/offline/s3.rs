//! S3 buckets.

use serde_json::{json, Value};

use super::super::plan::BucketPlan;
use super::{ec2_time, rel, tags_of, Region};
use crate::resource::Resource;

/// A bucket with its settings.
pub(super) fn bucket(r: &Region, i: usize, b: &BucketPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    let mut relations = Vec::new();
    let encryption = match &b.encryption {
        None => Value::Null,
        Some(algorithm) => {
            let mut e = json!({
                "algorithm": algorithm,
                "bucket_key_enabled": algorithm == "aws:kms",
            });
            if let Some(k) = &b.kms_key {
                e["kms_key_id"] = k.clone().into();
                let arn = if k.starts_with("arn:") {
                    k.clone()
                } else if k.starts_with("alias/") {
                    r.arn("kms", k)
                } else {
                    r.arn("kms", &format!("key/{k}"))
                };
                relations.push(rel("kms_key", arn));
            }
            e
        }
    };
    let block = if b.block_public_access {
        json!({
            "block_public_acls": true,
            "block_public_policy": true,
            "ignore_public_acls": true,
            "restrict_public_buckets": true,
        })
    } else {
        Value::Null
    };
    let meta = json!({
        "creation_date": ec2_time(&format!("s3/{key}")),
        "encryption": encryption,
        "lifecycle_rule_ids": b.lifecycle_rules,
        "lifecycle_rules": b.lifecycle_rules.len(),
        "public_access_block": block,
        "versioning": b.versioning,
    });
    out.push(r.resource(
        "s3_bucket",
        key.to_owned(),
        format!("arn:aws:s3:::{key}"),
        key.to_owned(),
        None,
        tags_of(None, &spec.tags),
        relations,
        meta,
    ));
}
