//! S3 buckets.

use super::super::attrs::S3BucketAttrs;
use super::super::plan::BucketPlan;
use super::super::validate::Ctx;
use super::Out;

/// An `s3_bucket`: versioning, encryption, lifecycle rules, public access block.
pub(super) fn bucket(ctx: &Ctx, out: &mut Out, i: usize, a: &S3BucketAttrs) {
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let versioning = a.versioning.clone().unwrap_or_else(|| "Disabled".into());
    if !["Enabled", "Suspended", "Disabled"].contains(&versioning.as_str()) {
        ctx.problem(
            path("versioning"),
            format!("`{versioning}` is not Enabled, Suspended or Disabled"),
        );
        return;
    }
    let encryption = match a.encryption.as_deref() {
        None | Some("AES256") => Some("AES256".to_owned()),
        Some("aws:kms") => Some("aws:kms".to_owned()),
        Some("none") => None,
        Some(other) => {
            ctx.problem(
                path("encryption"),
                format!("`{other}` is not AES256, aws:kms or none"),
            );
            return;
        }
    };
    if a.kms_key.is_some() && encryption.as_deref() != Some("aws:kms") {
        ctx.problem(path("kms_key"), "`kms_key` goes with `encryption: aws:kms`");
        return;
    }
    out.set(
        i,
        BucketPlan {
            versioning,
            encryption,
            kms_key: a.kms_key.clone(),
            lifecycle_rules: a.lifecycle_rules.clone(),
            block_public_access: a.block_public_access.unwrap_or(true),
        },
    );
}
