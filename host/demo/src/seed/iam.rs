//! IAM users for tests that sign in with their own keys.

use crate::aws::xml::first_text;
use crate::aws::{AwsClient, QueryError};

/// Creates IAM user `user` with an inline policy and an access key; returns
/// `(access key id, secret)`. With the emulator's authentication on, only keys made this
/// way are accepted, and the policy decides what they may do.
pub async fn create_iam_user(
    client: &AwsClient,
    user: &str,
    policy_json: &str,
) -> Result<(String, String), QueryError> {
    const IAM_VERSION: &str = "2010-05-08";
    let region = "us-east-1";
    client
        .query(
            region,
            "iam",
            "CreateUser",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    client
        .query(
            region,
            "iam",
            "PutUserPolicy",
            IAM_VERSION,
            &[
                ("UserName", user),
                ("PolicyName", "cloudops-demo"),
                ("PolicyDocument", policy_json),
            ],
        )
        .await?;
    let body = client
        .query(
            region,
            "iam",
            "CreateAccessKey",
            IAM_VERSION,
            &[("UserName", user)],
        )
        .await?;
    let missing = |tag: &str| {
        QueryError::malformed(
            "iam",
            "CreateAccessKey",
            region,
            format!("no <{tag}> in the response"),
        )
    };
    let key = first_text(&body, "AccessKeyId").ok_or_else(|| missing("AccessKeyId"))?;
    let secret = first_text(&body, "SecretAccessKey").ok_or_else(|| missing("SecretAccessKey"))?;
    Ok((key, secret))
}
