//! S3 buckets with their settings.

use super::super::estate_file::{BucketPlan, ResourceKind, ResourceSpec};
use super::{SeedError, Site, Task};

/// Creates bucket `r` and its settings (step 4).
pub(super) fn bucket(
    site: Site,
    r: &ResourceSpec,
    b: &BucketPlan,
) -> Task<Option<(usize, String)>> {
    let (r, b) = (r.clone(), b.clone());
    Box::pin(async move {
        create_bucket(site, &r, &b).await?;
        Ok(None)
    })
}

/// Creates bucket `r` and its settings; every call is signed for the bucket's region.
async fn create_bucket(site: Site, r: &ResourceSpec, b: &BucketPlan) -> Result<(), SeedError> {
    let name = r.key().to_owned();
    let what = format!("s3_bucket {name}");
    let kind = ResourceKind::S3Bucket;
    let xmlns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
    let create = if site.region == "us-east-1" {
        String::new()
    } else {
        format!(
            "<CreateBucketConfiguration {xmlns}><LocationConstraint>{}</LocationConstraint>\
             </CreateBucketConfiguration>",
            site.region
        )
    };
    let path = format!("/{name}");
    site.rest(
        kind,
        &what,
        "s3",
        "PUT",
        path.clone(),
        None,
        create.into_bytes(),
    )
    .await?;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut settings: Vec<(&str, String)> = Vec::new();
    if !r.tags.is_empty() {
        let tags: String = r
            .tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        settings.push((
            "tagging",
            format!("<Tagging {xmlns}><TagSet>{tags}</TagSet></Tagging>"),
        ));
    }
    if b.versioning != "Disabled" {
        settings.push((
            "versioning",
            format!(
                "<VersioningConfiguration {xmlns}><Status>{}</Status></VersioningConfiguration>",
                b.versioning
            ),
        ));
    }
    if let Some(algorithm) = &b.encryption {
        let key = b
            .kms_key
            .as_ref()
            .map(|k| format!("<KMSMasterKeyID>{}</KMSMasterKeyID>", escape(k)))
            .unwrap_or_default();
        let bucket_key = if algorithm == "aws:kms" {
            "<BucketKeyEnabled>true</BucketKeyEnabled>"
        } else {
            ""
        };
        settings.push((
            "encryption",
            format!(
                "<ServerSideEncryptionConfiguration {xmlns}><Rule>\
                 <ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>{key}\
                 </ApplyServerSideEncryptionByDefault>{bucket_key}</Rule>\
                 </ServerSideEncryptionConfiguration>"
            ),
        ));
    }
    if !b.lifecycle_rules.is_empty() {
        let rules: String = b
            .lifecycle_rules
            .iter()
            .map(|id| {
                format!(
                    "<Rule><ID>{}</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>\
                     <Expiration><Days>90</Days></Expiration></Rule>",
                    escape(id)
                )
            })
            .collect();
        settings.push((
            "lifecycle",
            format!("<LifecycleConfiguration {xmlns}>{rules}</LifecycleConfiguration>"),
        ));
    }
    if b.block_public_access {
        settings.push((
            "publicAccessBlock",
            format!(
                "<PublicAccessBlockConfiguration {xmlns}><BlockPublicAcls>true</BlockPublicAcls>\
                 <IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>\
                 <RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
            ),
        ));
    }
    for (sub, body) in settings {
        site.rest(
            kind,
            &what,
            "s3",
            "PUT",
            path.clone(),
            Some(sub),
            body.into_bytes(),
        )
        .await?;
    }
    site.created(kind, 1);
    Ok(())
}
