//! One account: its principal role and Lambda execution roles, then all its regions.

use std::sync::Arc;

use super::super::emulator::DEMO_ACCOUNT;
use super::{all, p, seed_region, SeedError, Shared, Site, Task, SETUP};
use crate::aws::AwsClient;

/// Creates the account's principal role (trusted by the demo account, with the file's
/// policy) and Lambda execution roles, then seeds every region of the account at once.
pub(super) async fn seed_account(
    shared: Arc<Shared>,
    client: AwsClient,
    account: String,
) -> Result<(), SeedError> {
    let estate = &shared.estate;
    let spec = estate
        .account(&account)
        .expect("seeding known accounts")
        .clone();
    let site = Site {
        shared: shared.clone(),
        client: client.clone(),
        account: account.clone(),
        region: "us-east-1".into(),
    };
    // The principal role, trusted by the demo account whose keys assume it.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{DEMO_ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = spec.principal.role.clone();
    let what = format!("principal role {role}");
    let iam = SETUP;
    site.query(
        iam,
        &what,
        "iam",
        "CreateRole",
        &p(&[
            ("RoleName", &role),
            ("AssumeRolePolicyDocument", &trust),
            ("Description", "The role cloudops demo users sign in with"),
        ]),
    )
    .await?;
    site.query(
        iam,
        &what,
        "iam",
        "PutRolePolicy",
        &p(&[
            ("RoleName", &role),
            ("PolicyName", "cloudops-demo"),
            ("PolicyDocument", &spec.principal.policy_document()),
        ]),
    )
    .await?;
    let lambda_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let roles = shared
        .plan()
        .lambda_roles
        .get(&account)
        .cloned()
        .unwrap_or_default();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for r in roles.into_iter().filter(|r| *r != role) {
        let site = site.clone();
        tasks.push(Box::pin(async move {
            site.query(
                SETUP,
                &format!("Lambda execution role {r}"),
                "iam",
                "CreateRole",
                &p(&[
                    ("RoleName", &r),
                    ("AssumeRolePolicyDocument", lambda_trust),
                    ("Description", "Lambda execution role"),
                ]),
            )
            .await
            .map(|_| ())
        }));
    }
    all(tasks).await?;

    let mut regions: Vec<Task<()>> = Vec::new();
    for region in &spec.regions {
        let site = Site {
            region: region.clone(),
            ..site.clone()
        };
        regions.push(Box::pin(async move { seed_region(site).await.map(|_| ()) }));
    }
    all(regions).await.map(|_| ())
}
